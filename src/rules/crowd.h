// Crowd rule: raises crowd_start when more than max_count objects have been inside a polygon for
// min_time seconds, and crowd_end once the count has stayed at or under max_count for end_grace
// seconds. Its events are about the group, not one object: track_id 0, the union of the boxes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rules/rule.h"
#include "rules/rule_util.h"

namespace iris::rules {

class CrowdRule : public Rule {
 public:
  explicit CrowdRule(CrowdSpec spec);

  const std::string& name() const override { return spec_.common.name; }
  const char* type() const override { return "crowd"; }
  void evaluate(const track::TrackUpdate& tracks, const FrameContext& ctx,
                std::vector<events::Event>* out) override;
  Overlay overlay() const override;
  std::map<std::string, int64_t> counters() const override;

 private:
  // The objects inside on one frame.
  struct Inside {
    int64_t count = 0;
    Box box;  // union of their boxes
    std::set<std::string> labels;
    double score_sum = 0;
  };
  // More than max_count inside since `since`, alarmed or not yet.
  struct Episode {
    double since = 0;
    bool started = false;   // crowd_start raised
    bool under = false;     // at or under max_count now, end grace running...
    double under_time = 0;  // ...since this frame
    int64_t under_frame = 0;
    int64_t peak = 0;  // most objects inside at once
    Box area;          // union of every box counted inside
    std::set<std::string> labels;
    double confidence = 0;  // of the crowd_start event
  };

  Inside count_inside(const track::TrackUpdate& tracks, const Polygon& polygon) const;

  CrowdSpec spec_;
  PixelPolygon polygon_;
  std::optional<Episode> episode_;
  int64_t inside_now_ = 0;  // for the caption
  int64_t starts_ = 0;
  int64_t ends_ = 0;
  double last_event_time_ = Overlay{}.last_event_time;
};

}  // namespace iris::rules
