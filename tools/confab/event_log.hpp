// confab tools: the two event-log files every node command writes.
//
// `NAME.events.txt` (human-readable, wall-clock stamped) and
// `NAME.events.jsonl` (one JSON object per line), appended, flushed when
// asked or when the object goes away, rotated by size, and rate-limited
// per kind of line by those who write them (`admit`): no client can fill
// the disk through them.
#pragma once

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "protocols/peers/api.hpp"
#include "protocols/seeds/api.hpp"

namespace confab::tools {

// "2026-11-21T21:47:32.701Z"
std::string wall_clock();

// ## event_json
// One node event as a JSON object (one line of NAME.events.jsonl); `self`
// names the node. Every string is escaped by the JSON library.
std::string event_json(const peers::peer_event& e, seam::node_id self);
std::string event_json(const seeds::seed_event& e, seam::node_id self);

// Bounds on what one node may write, whoever makes it write (docs/logs.md).
struct event_log_limits {
  // A file that reaches this size is renamed to NAME.1 (replacing the
  // previous one) and a new one begun: at most 2x this per file on disk.
  std::uint64_t file_bytes_max = 64ull << 20;
  // Lines of one kind admitted per second (a token bucket with this burst
  // x 10); the rest are counted and summed up in one line per kind.
  double lines_per_second = 20;
};

class event_log {
 public:
  // Opens (appending) base + ".events.txt" and base + ".events.jsonl".
  explicit event_log(const std::string& base, event_log_limits limits = {});
  ~event_log();
  event_log(const event_log&) = delete;
  event_log& operator=(const event_log&) = delete;
  bool ok() const noexcept { return text_.f && json_.f; }
  void line(const std::string& text);  // stamped with the wall clock
  void json(const std::string& object);
  // Whether a line of `kind` may be written now; when not, it is counted
  // and reported by the next `flush` as "N 'kind' lines suppressed".
  bool admit(const char* kind);
  void flush();
  std::uint64_t suppressed() const noexcept { return suppressed_total_; }
  std::uint64_t rotations() const noexcept { return rotations_; }

 private:
  struct file {
    std::string path;
    FILE* f = nullptr;
    std::uint64_t bytes = 0;
  };
  void write(file& to, const std::string& s);
  struct bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last{};
    std::uint64_t suppressed = 0;
  };
  event_log_limits limits_;
  file text_, json_;
  std::map<std::string, bucket, std::less<>> buckets_;
  std::uint64_t suppressed_total_ = 0, rotations_ = 0;
};

}  // namespace confab::tools
