#include "tools/confab/event_log.hpp"

#include <chrono>
#include <ctime>

namespace confab::tools {

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
