// Zone rule: raises zone_enter once an object has dwelt in a polygon for min_dwell seconds and
// zone_exit when its visit ends (outside for exit_grace seconds, or the track was lost).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "rules/rule.h"
#include "rules/rule_util.h"

namespace iris::rules {

class ZoneRule : public Rule {
 public:
  explicit ZoneRule(ZoneSpec spec);

  const std::string& name() const override { return spec_.common.name; }
  const char* type() const override { return "zone"; }
  void evaluate(const track::TrackUpdate& tracks, const FrameContext& ctx,
                std::vector<events::Event>* out) override;
  Overlay overlay() const override;
  std::map<std::string, int64_t> counters() const override;

  // Tracks with an open visit (per-track state held), for tests of bounded state.
  size_t tracked_count() const { return visits_.size(); }

 private:
  struct Visit {
    double t_in = 0;       // media time of the first inside frame
    bool entered = false;  // zone_enter raised (dwell reached)
    bool outside = false;  // anchor outside now, exit grace running
    double out_time = 0;   // first outside frame of the current excursion
    int64_t out_frame = 0;
    Box out_box;                // the object's box on that frame
    int64_t matched_frame = 0;  // last frame this rule saw the tracker match a detection...
    double matched_time = 0;    // ...and its media time
  };

  void observe(const track::Track& track, const Polygon& polygon, const FrameContext& ctx,
               std::vector<events::Event>* out);
  void finish_removed(const track::Track& track, const Visit& visit, const FrameContext& ctx,
                      std::vector<events::Event>* out);
  void emit_exit(const track::Track& track, const Visit& visit, const FrameContext& ctx,
                 double time, int64_t frame, const Box& box, const char* reason,
                 std::vector<events::Event>* out);

  ZoneSpec spec_;
  PixelPolygon polygon_;
  std::unordered_map<int64_t, Visit> visits_;
  int64_t enters_ = 0;
  int64_t exits_ = 0;
  double last_event_time_ = Overlay{}.last_event_time;
};

}  // namespace iris::rules
