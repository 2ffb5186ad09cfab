// confab peers: the failure detector, the first of the two levels.
//
// Pings every neighbour each ping_interval; a neighbour that misses
// ping_misses pongs in a row, or whose connection resets, is suspected: it
// is told so (it refutes with a higher incarnation), and the suspect's own
// neighbours (plus random PL peers, up to probers_min) are asked to probe it.
// A majority of `dead` verdicts confirms it: the neighbour is dropped and
// the seeds are sent a dead report (the second level: removal by a seed
// majority). A peer running late on its own schedule (paused, starved)
// neither counts missed pongs nor accuses; overloaded, it declines probes.
//
//   detector fd(ctx, [&](time_point now, node_id dead, output& out) { ...drop the link... });
//   fd.watch(now, peer);                                  // a new neighbour
//   fd.on_message(now, from, msg, reach, out);      // ping, pong, probes, notices
//   fd.tick(now, rng, known, reach, out);
//
// Thread: one per peer core.
#pragma once

#include <functional>
#include <map>
#include <set>

#include "protocols/peers/output.hpp"

namespace confab::peers {

class detector {
 public:
  // Called when a neighbour is given up: confirmed dead, or unreachable with
  // no majority to be heard for four detection windows.
  using drop_fn = std::function<void(time_point, node_id, output&)>;
  detector(const part_context& ctx, drop_fn drop) : ctx_(ctx), drop_(std::move(drop)) {}

  // A new neighbour to ping. The first starts the ping schedule.
  void watch(time_point now, node_id peer);
  // The neighbour is gone (dropped by any part): no more pings or suspicion.
  void forget(node_id peer) {
    watched_.erase(peer);
    suspects_.erase(peer);
  }
  // Handles the detector's messages: ping, pong, probe_request, probe_ping,
  // probe_ack, probe_result, suspect_notice, alive_notice. False for others.
  bool on_message(time_point now, node_id from, const message& m, const reachability& reach, output& out);
  // The transport lost `peer` (`reach` already records it).
  void on_link_down(time_point now, seam::random& rng, node_id peer, const std::map<node_id, std::uint16_t>& known,
                    const reachability& reach, output& out);
  void tick(time_point now, seam::random& rng, const std::map<node_id, std::uint16_t>& known,
            const reachability& reach, output& out);
  // A seed asks this peer to check on `suspect` (seeds::watch_request): one
  // probe, and a dead report to the seeds if it goes unanswered.
  void watch_for_seeds(time_point now, node_id suspect, const reachability& reach, output& out);
  time_point next_deadline() const;

  std::uint64_t incarnation() const noexcept { return incarnation_; }
  bool suspected(node_id peer) const { return suspects_.count(peer) != 0; }
  std::size_t probes_in_flight() const noexcept { return probes_.size(); }
  // False while this peer runs late on its own schedule: its own ping tick
  // overdue by more than half an interval, or recently so.
  bool healthy(time_point now) const noexcept {
    if (now < unhealthy_until_) return false;
    return !(pinging_ && now - next_ping_at_ > ctx_.cfg.ping_interval / 2);
  }

 private:
  struct watched {
    std::uint64_t ping_seq = 0;
    bool awaiting = false;
    std::uint32_t misses = 0;
    std::uint32_t failed_rounds = 0;  // probe rounds without a verdict while unreachable
    time_point failing_since{};
    std::uint64_t incarnation = 0;
    std::vector<node_id> their;  // its neighbours, from its last pong
  };
  struct suspicion {
    std::uint64_t round = 0;
    std::set<node_id> asked, dead;
    std::set<node_id> unreachable;  // asked, then lost: not asked again this round
    time_point deadline{};
  };
  struct probe {
    node_id requester, suspect;  // requester no_node: a seed's watch_request
    std::uint64_t round;
    time_point deadline;
  };

  void on_probe_request(time_point now, node_id from, const probe_request& p, const reachability& reach, output& out);
  void on_probe_result(time_point now, node_id from, const probe_result& p, output& out);
  void suspect(time_point now, seam::random& rng, node_id peer, const char* why,
               const std::map<node_id, std::uint16_t>& known, const reachability& reach, output& out);
  bool can_probe(time_point now, node_id suspect, node_id other, const reachability& reach) const;
  void add_probers(time_point now, seam::random& rng, node_id peer, suspicion& su,
                   const std::map<node_id, std::uint16_t>& known, const reachability& reach, output& out);
  void refute(time_point now, node_id peer, output& out);
  void confirm(time_point now, node_id peer, output& out);
  void settle_if_majority(time_point now, node_id peer, output& out);
  void report_to_seeds(time_point now, node_id peer, std::vector<node_id> confirmers, output& out);
  void give_up(time_point now, node_id peer, output& out);

  const part_context& ctx_;
  drop_fn drop_;
  std::uint64_t incarnation_ = 0;
  std::map<node_id, watched> watched_;
  time_point next_ping_at_{};
  bool pinging_ = false;
  std::map<node_id, suspicion> suspects_;
  std::uint64_t round_ = 0;
  std::vector<probe> probes_;
  time_point unhealthy_until_{};
};

}  // namespace confab::peers
