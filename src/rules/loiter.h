// Loiter rule: raises loiter_start once an object has spent min_time inside a polygon during one
// visit, and loiter_end when that visit ends. Unlike a zone's min_dwell, which an exit resets, an
// exit shorter than max_gap only pauses the clock: someone pacing in and out of a doorway loiters.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "rules/rule.h"
#include "rules/rule_util.h"

namespace iris::rules {

class LoiterRule : public Rule {
 public:
  explicit LoiterRule(LoiterSpec spec);

  const std::string& name() const override { return spec_.common.name; }
  const char* type() const override { return "loiter"; }
  void evaluate(const track::TrackUpdate& tracks, const FrameContext& ctx,
                std::vector<events::Event>* out) override;
  Overlay overlay() const override;
  std::map<std::string, int64_t> counters() const override;

  // Tracks with an open visit (per-track state held), for tests of bounded state.
  size_t tracked_count() const { return visits_.size(); }

 private:
  struct Visit {
    double inside_time = 0;  // seconds inside: frame intervals with the anchor inside at both ends
    double last_time = 0;    // media time of the previous frame the track was seen
    bool inside = true;      // anchor inside on that frame
    bool started = false;    // loiter_start raised
    double out_time = 0;     // first outside frame of the current excursion
    int64_t out_frame = 0;
    Box out_box;                // the object's box on that frame
    int64_t matched_frame = 0;  // last frame this rule saw the tracker match a detection...
    double matched_time = 0;    // ...its media time...
    double matched_inside = 0;  // ...and the time inside by then
  };

  void observe(const track::Track& track, const Polygon& polygon, const FrameContext& ctx,
               std::vector<events::Event>* out);
  void finish_removed(const track::Track& track, const Visit& visit, const FrameContext& ctx,
                      std::vector<events::Event>* out);
  void emit_end(const track::Track& track, const FrameContext& ctx, double time, int64_t frame,
                const Box& box, double inside_time, const char* reason,
                std::vector<events::Event>* out);

  LoiterSpec spec_;
  PixelPolygon polygon_;
  std::unordered_map<int64_t, Visit> visits_;
  int64_t starts_ = 0;
  int64_t ends_ = 0;
  double last_event_time_ = Overlay{}.last_event_time;
};

}  // namespace iris::rules
