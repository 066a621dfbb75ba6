// Events for the delivery tests: distinct ids, and the ids found in delivered JSON payloads.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "events/event.h"

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

// The ids of `wanted` missing from `got`.
inline std::vector<std::string> missing(const std::vector<std::string>& wanted,
                                        const std::set<std::string>& got) {
  std::vector<std::string> out;
  for (const std::string& id : wanted) {
    if (!got.contains(id)) out.push_back(id);
  }
  return out;
}

}  // namespace iris::events
