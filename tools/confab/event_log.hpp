// confab tools: the two event-log files every node command writes.
//
// `NAME.events.txt` (human-readable, wall-clock stamped) and
// `NAME.events.jsonl` (one JSON object per line), appended, flushed when
// asked or when the object goes away.
#pragma once

#include <cstdio>
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

class event_log {
 public:
  // Opens (appending) base + ".events.txt" and base + ".events.jsonl".
  explicit event_log(const std::string& base);
  ~event_log();
  event_log(const event_log&) = delete;
  event_log& operator=(const event_log&) = delete;
  bool ok() const noexcept { return text_ && json_; }
  void line(const std::string& text);  // stamped with the wall clock
  void json(const std::string& object);
  void flush();

 private:
  FILE* text_ = nullptr;
  FILE* json_ = nullptr;
};

}  // namespace confab::tools
