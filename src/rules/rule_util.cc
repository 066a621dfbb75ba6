#include "rules/rule_util.h"

#include <algorithm>

namespace iris::rules {

bool selects(const RuleCommon& common, const track::Track& track) {
  if (!track.confirmed) return false;
  return common.classes.empty() || std::find(common.classes.begin(), common.classes.end(),
                                             track.label) != common.classes.end();
}

std::vector<Point> to_pixels(const RuleCommon& common, const std::vector<Point>& points, int width,
                             int height) {
  if (!common.normalized) return points;
  std::vector<Point> out;
  out.reserve(points.size());
  for (const Point& p : points) out.push_back({p.x * width, p.y * height});
  return out;
}

events::Event make_event(const char* type, const RuleCommon& common, const track::Track& track,
                         const FrameContext& ctx) {
  events::Event e;
  e.id = events::new_event_id(ctx.wall_time);
  e.type = type;
  e.rule = common.name;
  e.stream = ctx.stream;
  e.media_time = ctx.media_time;
  e.frame = ctx.frame;
  e.wall_time = ctx.wall_time;
  e.track_id = track.id;
  e.label = track.label;
  e.confidence = track.score;
  e.box = track.box;
  return e;
}

}  // namespace iris::rules
