// Event: what rules raise and sinks deliver. One versioned schema for every event type
// (docs/events.md); ids are assigned once at creation, so a retried delivery carries the same id.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/detection.h"
#include "core/geometry.h"

namespace iris::events {

inline constexpr const char* kSchema = "iris.event.v1";

struct Event {
  std::string id;         // unique, assigned by new_event_id()
  std::string type;       // zone_enter, zone_exit, line_cross, loiter_start, crowd_start, ...
  std::string rule;       // rule name from the config
  std::string stream;     // stream name from the config
  double media_time = 0;  // seconds since the start of the stream (pts)
  int64_t frame = 0;      // index of the frame in the stream, from 0
  double wall_time = 0;   // Unix time, seconds
  int64_t track_id = 0;   // 0 for events about a group (crowd_*)
  std::string label;      // class of the object; a group's classes joined by commas
  double confidence = 0;
  Box box;                                 // source pixels [x1, y1, x2, y2]
  std::optional<std::string> direction;    // line_cross: "A->B" or "B->A"
  std::optional<double> duration;          // end events and loiter_start: seconds (docs/events.md)
  std::optional<int64_t> count;            // line_cross: crossings so far; crowd_*: objects inside
  std::optional<std::string> reason;       // zone_exit, loiter_end: "left" or "lost"
  std::optional<std::string> snapshot;     // path of the JPEG snapshot, when one was written
  std::optional<std::string> clip;         // path of the MP4 clip, when one is being recorded
  std::vector<Classification> attributes;  // secondary classifiers' answers for the object
  std::vector<float> embedding;            // secondary embedding model's vector for the object
};

// A 26-character Crockford base32 id: 48 bits of Unix milliseconds, then 80 random bits
// (ULID layout), so ids sort by creation time and never collide across processes.
std::string new_event_id(double wall_time);

std::string to_json_line(const Event& e);

}  // namespace iris::events
