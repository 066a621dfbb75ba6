// Rules: turn confirmed tracks into events (zones, lines, loitering, crowds). Rules are pure and
// single-threaded (they run on their stream's strand); per-track state is dropped as soon as the
// tracker reports the track removed, so it stays bounded. Rules see tracks through the shared
// suppression stage (rules/suppression.h), which also applies their active time windows.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/geometry.h"
#include "core/status.h"
#include "events/event.h"
#include "track/tracker.h"

namespace iris::rules {

// Where and when the tracks were seen.
struct FrameContext {
  std::string stream;
  int64_t frame = 0;
  double media_time = 0;  // seconds
  double wall_time = 0;   // Unix seconds
  int width = 0;          // frame size in pixels, for normalized coordinates
  int height = 0;
};

// A daily window of local time in minutes after midnight; start > end wraps midnight
// ("22:00-06:00"). start is in [0, 1440), end in (0, 1440], and they differ.
struct TimeWindow {
  int start = 0;
  int end = 0;
  bool operator==(const TimeWindow&) const = default;
  // `seconds` after local midnight, in [0, 86400).
  bool contains(double seconds) const;
};

// False-alarm suppression keys (docs/config.md); the defaults turn every check off. A track is
// eligible for rules once it is old enough, matched often enough and big enough, while its score
// holds (hysteresis) and it is not standing still.
struct SuppressionSpec {
  double min_age = 0;            // seconds since the track's first detection
  int min_hits = 0;              // matched detections
  double min_area = 0;           // box area as a fraction of the frame area
  double score_enter = 0;        // eligible from this score on...
  double score_stay = 0;         // ...and stays eligible while at or above this one (<= enter)
  double static_time = 0;        // seconds without moving that make a track ineligible; 0: off
  double static_distance = 0.1;  // how far the box centre must move, in box heights
  double cooldown = 0;           // seconds before a (track, rule, event type) may raise again
  bool operator==(const SuppressionSpec&) const = default;
};

// Keys every rule shares.
struct RuleCommon {
  std::string name;
  std::vector<std::string> classes;  // empty: every class
  Anchor anchor = Anchor::kBottomCenter;
  bool normalized = false;         // coordinates in [0,1] of the frame size, else pixels
  std::vector<TimeWindow> active;  // empty: always active
  // Set when the rule has its own suppression keys: the stream's spec with the rule's keys in
  // place of the stream's (the config resolves it). Unset: the stream's spec.
  std::optional<SuppressionSpec> suppression;
};

struct ZoneSpec {
  RuleCommon common;
  std::vector<Point> polygon;  // >= 3 points
  double min_dwell = 0;        // seconds inside before zone_enter is raised
  double exit_grace = 0.5;     // seconds outside before a visit ends (absorbs boundary jitter)
};

struct LineSpec {
  RuleCommon common;
  Point a, b;         // side A is on the right of a->b as drawn on screen (y down)
  double margin = 4;  // pixels: a side only counts once the anchor is this far from the line
};

struct LoiterSpec {
  RuleCommon common;
  std::vector<Point> polygon;  // >= 3 points
  double min_time = 0;         // seconds inside during one visit before loiter_start
  double max_gap = 5;          // seconds outside that end a visit; shorter exits keep its clock
};

struct CrowdSpec {
  RuleCommon common;
  std::vector<Point> polygon;  // >= 3 points
  int max_count = 0;           // a crowd is more than this many objects inside
  double min_time = 0;         // seconds the crowd must last before crowd_start
  double end_grace = 1;        // seconds at or under max_count before the crowd ends
};

using RuleSpec = std::variant<ZoneSpec, LineSpec, LoiterSpec, CrowdSpec>;

const RuleCommon& common_of(const RuleSpec& spec);

// What the OSD draws for a rule, in pixels of the current frame.
struct Overlay {
  std::vector<Point> points;  // polygon (closed) or line (2 points)
  bool closed = false;
  std::string caption;             // name and counters
  double last_event_time = -1e18;  // media time of the last event, for the flash
};

class Rule {
 public:
  virtual ~Rule() = default;
  virtual const std::string& name() const = 0;
  virtual const char* type() const = 0;
  // Appends the events raised on this frame to *out.
  virtual void evaluate(const track::TrackUpdate& tracks, const FrameContext& ctx,
                        std::vector<events::Event>* out) = 0;
  // Geometry and captions for the frame size last seen by evaluate().
  virtual Overlay overlay() const = 0;
  // Per-label and per-direction counters for the run summary, e.g. {"person A->B": 3}.
  virtual std::map<std::string, int64_t> counters() const = 0;
};

std::unique_ptr<Rule> make_rule(const RuleSpec& spec);

}  // namespace iris::rules
