#include "tools/confab/event_log.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "protocols/common/endpoints.hpp"

namespace confab::tools {

namespace {
std::string id_or_empty(seam::node_id id, seam::node_id none) { return id == none ? std::string() : endpoints::id_string(id); }
}  // namespace

std::string event_json(const peers::peer_event& e, seam::node_id self) {
  thread_local nlohmann::ordered_json o = {{"ts", ""},  {"level", ""}, {"t_ns", 0}, {"peer", ""}, {"event", ""},
                                           {"about", ""}, {"other", ""}, {"seq", 0},   {"hops", 0},  {"count", 0},
                                           {"why", ""}};
  o["ts"] = wall_clock();
  o["level"] = e.kind == peers::peer_event::suspected || e.kind == peers::peer_event::confirmed ||
                       e.kind == peers::peer_event::reported || e.kind == peers::peer_event::probe_declined
                   ? "warn"
                   : "info";
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
  thread_local nlohmann::ordered_json o = {{"ts", ""},   {"level", ""}, {"t_ns", 0},  {"seed", ""}, {"event", ""},
                                           {"term", 0},  {"index", 0},  {"peer", ""}, {"other", ""}, {"why", ""}};
  o["ts"] = wall_clock();
  o["level"] = e.kind == seeds::seed_event::storage_refused                                               ? "error"
               : e.kind == seeds::seed_event::report_ignored || e.kind == seeds::seed_event::follower_behind ? "warn"
                                                                                                           : "info";
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
  // The date and time are formatted once a second (an event per
  // registration reads the clock); the milliseconds each time.
  thread_local std::time_t last = -1;
  thread_local char head[80];
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  if (t != last) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec);
    last = t;
  }
  char b[96];
  std::snprintf(b, sizeof b, "%s.%03lldZ", head, static_cast<long long>(ms));
  return b;
}

event_log::event_log(const std::string& base, event_log_limits limits) : limits_(limits) {
  for (auto [f, suffix] : {std::pair{&text_, ".events.txt"}, std::pair{&json_, ".events.jsonl"}}) {
    f->path = base + suffix;
    f->f = std::fopen(f->path.c_str(), "a");
    if (f->f) f->bytes = static_cast<std::uint64_t>(std::ftell(f->f));
  }
}

event_log::~event_log() {
  flush();
  if (text_.f) std::fclose(text_.f);
  if (json_.f) std::fclose(json_.f);
}

void event_log::write(file& to, const std::string& s) {
  if (!to.f) return;
  if (to.bytes + s.size() > limits_.file_bytes_max && to.bytes > 0) {
    std::fclose(to.f);
    std::rename(to.path.c_str(), (to.path + ".1").c_str());
    to.f = std::fopen(to.path.c_str(), "a");
    to.bytes = 0;
    ++rotations_;
    if (!to.f) return;
  }
  std::fwrite(s.data(), 1, s.size(), to.f);
  to.bytes += s.size();
}

void event_log::line(const std::string& text) { write(text_, wall_clock() + " " + text + "\n"); }

void event_log::json(const std::string& object) { write(json_, object + "\n"); }

bool event_log::admit(const char* kind) {
  const auto now = std::chrono::steady_clock::now();
  auto it = buckets_.find(std::string_view(kind));
  if (it == buckets_.end()) it = buckets_.emplace(kind, bucket{.tokens = limits_.lines_per_second * 10, .last = now}).first;
  auto& b = it->second;
  b.tokens = std::min(limits_.lines_per_second * 10,
                      b.tokens + std::chrono::duration<double>(now - b.last).count() * limits_.lines_per_second);
  b.last = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  ++b.suppressed;
  ++suppressed_total_;
  return false;
}

void event_log::flush() {
  for (auto& [kind, b] : buckets_) {
    if (b.suppressed == 0) continue;
    line(std::to_string(b.suppressed) + " '" + kind + "' lines suppressed (over " +
         std::to_string(static_cast<int>(limits_.lines_per_second)) + " a second)");
    b.suppressed = 0;
  }
  if (text_.f) std::fflush(text_.f);
  if (json_.f) std::fflush(json_.f);
}

}  // namespace confab::tools
