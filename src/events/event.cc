#include "events/event.h"

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

namespace iris::events {

std::string new_event_id(double wall_time) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  thread_local std::mt19937_64 rng{
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
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
// Shortest decimal form with at most `decimals` places ("1.4", not "1.4000000000000001").
std::string num(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string out = buf;
  if (out.find('.') != std::string::npos) {
    out.erase(out.find_last_not_of('0') + 1);
    if (out.back() == '.') out.pop_back();
  }
  return out == "-0" ? "0" : out;
}

// Invalid UTF-8 (a label typed in Latin-1, say) is replaced, never a reason to lose the event.
std::string str(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// "[a,b,...]": each item as `format` writes it.
template <typename T, typename Format>
std::string array(const std::vector<T>& items, Format format) {
  std::string out = "[";
  for (const T& item : items) out += (out.size() > 1 ? "," : "") + format(item);
  return out + "]";
}
}  // namespace

std::string to_json_line(const Event& e) {
  std::string j = "{\"schema\":" + str(kSchema);
  auto field = [&j](const char* key, const std::string& value) {
    j += ",\"";
    j += key;
    j += "\":";
    j += value;
  };
  field("id", str(e.id));
  field("type", str(e.type));
  field("rule", str(e.rule));
  field("stream", str(e.stream));
  field("media_time", num(e.media_time, 3));
  field("frame", std::to_string(e.frame));
  field("wall_time", str(iso8601(e.wall_time)));
  field("track_id", std::to_string(e.track_id));
  field("class", str(e.label));
  field("confidence", num(e.confidence, 4));
  field("box", array(std::vector<double>{e.box.x1, e.box.y1, e.box.x2, e.box.y2},
                     [](double v) { return num(v, 1); }));
  if (e.direction) field("direction", str(*e.direction));
  if (e.count) field("count", std::to_string(*e.count));
  if (e.duration) field("duration", num(*e.duration, 3));
  if (e.reason) field("reason", str(*e.reason));
  if (e.snapshot) field("snapshot", str(*e.snapshot));
  if (e.clip) field("clip", str(*e.clip));
  if (!e.attributes.empty()) {
    field("attributes", array(e.attributes, [](const Classification& c) {
            return "{\"model\":" + str(c.model) + ",\"label\":" + str(c.label) +
                   ",\"score\":" + num(c.score, 4) + "}";
          }));
  }
  if (!e.embedding.empty()) {
    field("embedding", array(e.embedding, [](float v) { return num(v, 5); }));
  }
  return j + "}";
}

}  // namespace iris::events
