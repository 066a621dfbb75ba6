#include "events/event.h"

#include <chrono>
#include <cmath>
#include <random>

#include <nlohmann/json.hpp>

namespace iris::events {

std::string new_event_id(double wall_time) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   static_cast<uint64_t>(std::chrono::steady_clock::now()
                                                             .time_since_epoch()
                                                             .count())};
  const uint64_t ms = static_cast<uint64_t>(std::llround(wall_time * 1000.0)) & ((1ULL << 48) - 1);
  const uint64_t r1 = rng() & ((1ULL << 40) - 1);
  const uint64_t r2 = rng() & ((1ULL << 40) - 1);
  std::string id(26, '0');
  // 10 characters of time (50 bits, top 2 zero), then 16 characters of randomness (80 bits).
  for (int i = 9; i >= 0; --i) id[9 - i] = kAlphabet[(ms >> (5 * i)) & 31];
  for (int i = 7; i >= 0; --i) id[10 + 7 - i] = kAlphabet[(r1 >> (5 * i)) & 31];
  for (int i = 7; i >= 0; --i) id[18 + 7 - i] = kAlphabet[(r2 >> (5 * i)) & 31];
  return id;
}

namespace {
std::string iso8601(double wall_time) {
  const auto ms = static_cast<int64_t>(std::llround(wall_time * 1000.0));
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}
double round_to(double v, double unit) { return std::round(v / unit) * unit; }
}  // namespace

std::string to_json_line(const Event& e) {
  nlohmann::ordered_json j;
  j["schema"] = kSchema;
  j["id"] = e.id;
  j["type"] = e.type;
  j["rule"] = e.rule;
  j["stream"] = e.stream;
  j["media_time"] = round_to(e.media_time, 1e-3);
  j["frame"] = e.frame;
  j["wall_time"] = iso8601(e.wall_time);
  j["track_id"] = e.track_id;
  j["class"] = e.label;
  j["confidence"] = round_to(e.confidence, 1e-4);
  j["box"] = {round_to(e.box.x1, 0.1), round_to(e.box.y1, 0.1), round_to(e.box.x2, 0.1),
              round_to(e.box.y2, 0.1)};
  if (e.direction) j["direction"] = *e.direction;
  if (e.count) j["count"] = *e.count;
  if (e.duration) j["duration"] = round_to(*e.duration, 1e-3);
  if (e.reason) j["reason"] = *e.reason;
  if (e.snapshot) j["snapshot"] = *e.snapshot;
  return j.dump();
}

}  // namespace iris::events
