// Event evaluation: the events a pipeline raised (events.jsonl, docs/events.md) against the
// events it should have raised (truth.json, as `iris synth` writes it; docs/synth.md). Events are
// matched one-to-one on stream, rule, type and direction with |media_time difference| <= a
// tolerance, maximizing the number of matches and then minimizing the total time difference.
// Malformed input is an error naming the file and record, never a silently wrong number.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "core/status.h"

namespace iris::eval {

struct EventCounts {
  int64_t truth = 0;      // events in the truth
  int64_t detected = 0;   // events the pipeline raised
  int64_t matched = 0;    // pairs of the two
  double abs_dt_sum = 0;  // seconds, over the matched pairs

  int64_t missed() const { return truth - matched; }
  int64_t false_alarms() const { return detected - matched; }
  // Unset where there is nothing to divide by: no events raised, or none to find.
  std::optional<double> precision() const;
  std::optional<double> recall() const;
  std::optional<double> mean_abs_dt() const;
};

struct EventsReport {
  double tolerance = 0;     // seconds
  double camera_hours = 0;  // the truth's stream durations, summed
  EventCounts total;
  std::map<std::string, EventCounts> by_type;
  // (stream, rule, type) -> counts
  std::map<std::tuple<std::string, std::string, std::string>, EventCounts> by_rule;

  // False alarms per hour of camera time; unset when the truth covers no time.
  std::optional<double> false_alarms_per_hour(const EventCounts& c) const;
};

// truth: a JSON object {"streams": [{"name", "duration" (seconds > 0), "rules": [{"name", ...}]}],
// "events": [{"stream", "rule", "type", "media_time", "direction" (line_cross)}, ...]}.
// events: JSON lines of iris events; blank lines are skipped. Every event's stream and rule must be
// in the truth. Errors name truth records by position ("truth.json: events[3]: ...") and event
// lines by number ("events.jsonl:12: ..."). `tolerance` is in seconds, >= 0.
Result<EventsReport> evaluate_events(const std::string& truth_path, const std::string& events_path,
                                     double tolerance);

// The same from text; the names stand for the files in messages.
Result<EventsReport> evaluate_events_text(const std::string& truth_json,
                                          const std::string& truth_name,
                                          const std::string& events_jsonl,
                                          const std::string& events_name, double tolerance);

}  // namespace iris::eval
