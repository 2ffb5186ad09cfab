#include "tools/confab/event_log.hpp"

#include <chrono>
#include <ctime>

#include <nlohmann/json.hpp>

#include "protocols/common/endpoints.hpp"

namespace confab::tools {

namespace {
std::string id_or_empty(seam::node_id id, seam::node_id none) { return id == none ? std::string() : endpoints::id_string(id); }
}  // namespace

std::string event_json(const peers::peer_event& e, seam::node_id self) {
  thread_local nlohmann::ordered_json o = {{"t_ns", 0}, {"peer", ""}, {"event", ""}, {"about", ""}, {"other", ""},
                                           {"seq", 0},  {"hops", 0},  {"count", 0},  {"why", ""}};
  o["t_ns"] = e.at.count();
  o["peer"] = endpoints::id_string(self);
  o["event"] = peers::event_name(e.kind);
  o["about"] = endpoints::id_string(e.peer);
  o["other"] = id_or_empty(e.other, 0);
  o["seq"] = e.seq;
  o["hops"] = e.hops;
  o["count"] = e.count;
  o["why"] = e.why ? e.why : "";
  return o.dump();
}

std::string event_json(const seeds::seed_event& e, seam::node_id self) {
  // One object per thread, refilled: a seed logs an event per registration
  // on every seed, and building a fresh object each time (its keys, its
  // nodes) cost 3 us of a registration's CPU; refilling costs a third.
  thread_local nlohmann::ordered_json o = {{"t_ns", 0}, {"seed", ""}, {"event", ""}, {"term", 0},
                                           {"index", 0}, {"peer", ""}, {"other", ""}, {"why", ""}};
  o["t_ns"] = e.at.count();
  o["seed"] = endpoints::id_string(self);
  o["event"] = seeds::event_name(e.kind);
  o["term"] = e.term;
  o["index"] = e.index;
  o["peer"] = id_or_empty(e.peer, seeds::no_node);
  o["other"] = id_or_empty(e.other, seeds::no_node);
  o["why"] = e.why ? e.why : "";
  return o.dump();
}

std::string wall_clock() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[80];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(ms));
  return b;
}

event_log::event_log(const std::string& base) {
  text_ = std::fopen((base + ".events.txt").c_str(), "a");
  json_ = std::fopen((base + ".events.jsonl").c_str(), "a");
}

event_log::~event_log() {
  if (text_) std::fclose(text_);
  if (json_) std::fclose(json_);
}

void event_log::line(const std::string& text) {
  if (text_) std::fprintf(text_, "%s %s\n", wall_clock().c_str(), text.c_str());
}

void event_log::json(const std::string& object) {
  if (json_) std::fprintf(json_, "%s\n", object.c_str());
}

void event_log::flush() {
  if (text_) std::fflush(text_);
  if (json_) std::fflush(json_);
}

}  // namespace confab::tools
