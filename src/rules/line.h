// Line rule: counts objects crossing a line segment, per class and direction (line_cross events).
// A margin band around the line absorbs box jitter, so an object standing on the line is counted
// at most once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "rules/rule.h"
#include "rules/rule_util.h"

namespace iris::rules {

class LineRule : public Rule {
 public:
  explicit LineRule(LineSpec spec);

  const std::string& name() const override { return spec_.common.name; }
  const char* type() const override { return "line"; }
  void evaluate(const track::TrackUpdate& tracks, const FrameContext& ctx,
                std::vector<events::Event>* out) override;
  Overlay overlay() const override;
  std::map<std::string, int64_t> counters() const override;

  // Tracks whose side is held (per-track state), for tests of bounded state.
  size_t tracked_count() const { return sides_.size(); }

 private:
  // The side a track was last confirmed on (beyond the margin), and where.
  struct Side {
    bool a = false;  // side A (positive signed distance), else side B
    Point at;
  };

  void observe(const track::Track& track, const Point& a, const Point& b, const FrameContext& ctx,
               std::vector<events::Event>* out);

  LineSpec spec_;
  PixelPolygon ends_;  // a and b
  std::unordered_map<int64_t, Side> sides_;
  std::map<std::string, int64_t> counts_;  // "<label> A->B" / "<label> B->A"
  int64_t a_to_b_ = 0;                     // all classes, for the caption
  int64_t b_to_a_ = 0;
  double last_event_time_ = Overlay{}.last_event_time;
};

}  // namespace iris::rules
