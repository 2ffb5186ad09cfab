// confab voting: the driver of one vote server.
//
// A seam::line_service (engine/host/line_host.hpp carries it over TCP):
// each client connection gets a session in its listener's dialect (the
// document's, legacy.hpp, on listener 0; native.hpp on listener 1); the lines it
// sends are fed to it in order, and a line that arrives while the session
// waits for its command is held (at most `held_lines_max`, then the client
// is told and closed). Commands are applied to the server's `ballot_box`
// as they come: one server, one order. Events (joins, leaves, decided
// polls) are written to every registered client.
//
// Joins and leaves reach the clients gathered (`notice_interval`), so a
// burst of registrations costs each client one line, not one per join.
//
// Replication across three or five servers (the seeds' Raft log carrying
// the same commands) is not built yet: docs/voting.md.
//
//   host::line_host h(r, std::make_unique<voting::vote_server>(cfg), {.listen = {addr}});
//
// Thread: the host's.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <functional>
#include <memory>
#include <unordered_map>

#include "engine/seam/env.hpp"
#include "protocols/voting/legacy.hpp"
#include "protocols/voting/native.hpp"

namespace confab::voting {

// The listener a client came in on picks its dialect.
inline constexpr unsigned legacy_listener = 0;
inline constexpr unsigned native_listener = 1;

struct server_config {
  legacy_config legacy;
  native_config native;
  std::size_t held_lines_max = 64;      // pipelined lines held while a command is in flight
  // A poll still open this long after it opened is closed, with its winner
  // or none, so electors who never vote cannot hold it open (0: never).
  std::chrono::milliseconds poll_timeout{300000};
  // Joins and leaves are pushed gathered, at most once per interval: up to
  // five as a line each, more as one summary line (0: each at once).
  std::chrono::milliseconds notice_interval{1000};
  std::function<void(const std::string&)> log;  // one line per client closed for a reason
  std::function<void()> on_serving;             // called once the ports are bound
};

struct server_stats {
  std::uint64_t clients_opened = 0, clients_closed = 0, lines = 0, too_long = 0, commands = 0, refused = 0,
                votes = 0, polls_decided = 0, pushed_lines = 0;
};

class vote_server final : public seam::line_service {
 public:
  explicit vote_server(server_config cfg);

  void on_start(seam::line_env& e) override;
  void on_open(seam::line_env& e, seam::client_id c, std::string_view address, unsigned listener) override;
  void on_line(seam::line_env& e, seam::client_id c, std::string_view line) override;
  void on_line_too_long(seam::line_env& e, seam::client_id c) override;
  void on_input_end(seam::line_env& e, seam::client_id c) override;
  void on_closed(seam::line_env& e, seam::client_id c, seam::client_end why) override;
  void on_timer(seam::line_env& e) override;

  const ballot_box& box() const noexcept { return box_; }
  const server_stats& stats() const noexcept { return stats_; }

 private:
  struct conn {
    std::unique_ptr<voting::session> session;
    std::deque<std::string> held;
    bool input_ended = false;
  };
  void run(seam::line_env& e, seam::client_id c, session_output& out);
  void drain(seam::line_env& e, seam::client_id c);
  result<std::uint64_t, refused> apply(seam::line_env& e, const command& cmd, std::vector<event>& events);
  void broadcast(seam::line_env& e, const std::vector<event>& events);
  void log(const std::string& line) const;
  void arm(seam::line_env& e);

  server_config cfg_;
  std::map<poll_id, seam::time_point> deadlines_;  // open polls' timeouts
  members_changed gathered_;                        // joins and leaves not pushed yet
  std::optional<seam::time_point> notice_due_;
  ballot_box box_;
  std::unordered_map<seam::client_id, conn> conns_;
  server_stats stats_;
};

}  // namespace confab::voting
