// Events for the delivery tests: distinct ids, the ids found in delivered JSON payloads (at a
// webhook peer, an MQTT subscriber, a Redis stream), and waiting until they arrive.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "events/event.h"
#include "support/brokers.h"

namespace iris::events {

inline Event numbered_event(int i, const std::string& stream = "lobby",
                            const std::string& rule = "door",
                            const std::string& type = "line_cross") {
  Event e;
  e.wall_time = 1700000000.0 + i * 0.04;
  e.id = new_event_id(e.wall_time);
  e.type = type;
  e.rule = rule;
  e.stream = stream;
  e.media_time = i * 0.04;
  e.frame = i;
  e.track_id = 1 + i % 7;
  e.label = "person";
  e.confidence = 0.9;
  e.box = {10, 20, 110, 220};
  e.direction = "A->B";
  e.count = i + 1;
  return e;
}

// The ids of the JSON events in `payloads`; a payload that is not an event adds "<bad>".
inline std::set<std::string> ids_of(const std::vector<std::string>& payloads) {
  std::set<std::string> ids;
  for (const std::string& p : payloads) {
    const auto j = nlohmann::json::parse(p, nullptr, false);
    ids.insert(j.is_object() && j.contains("id") ? j["id"].get<std::string>() : "<bad>");
  }
  return ids;
}

// How many ids of `wanted` are missing from `got`.
inline size_t missing(const std::vector<std::string>& wanted, const std::set<std::string>& got) {
  size_t n = 0;
  for (const std::string& id : wanted) n += !got.contains(id);
  return n;
}

inline std::set<std::string> mqtt_ids(const iris::testing::MqttSubscriber& sub) {
  std::vector<std::string> payloads;
  for (const auto& m : sub.messages()) payloads.push_back(m.payload);
  return ids_of(payloads);
}

// The `id` fields of a Redis stream's entries; none when the server does not answer.
inline std::set<std::string> redis_ids(int port, const std::string& key) {
  std::set<std::string> ids;
  if (auto entries = iris::testing::redis_xrange(port, key); entries.ok()) {
    for (const auto& entry : *entries) ids.insert(entry.at("id"));
  }
  return ids;
}

using iris::testing::eventually;

}  // namespace iris::events
