// Rules: turn confirmed tracks into events (zones, lines, ...). Rules are pure and
// single-threaded (they run on their stream's strand); per-track state is dropped as soon as the
// tracker reports the track removed, so it stays bounded.
#pragma once

#include <map>
#include <memory>
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

// Keys every rule shares.
struct RuleCommon {
  std::string name;
  std::vector<std::string> classes;  // empty: every class
  Anchor anchor = Anchor::kBottomCenter;
  bool normalized = false;  // coordinates in [0,1] of the frame size, else pixels
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

using RuleSpec = std::variant<ZoneSpec, LineSpec>;

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
