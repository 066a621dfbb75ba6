#include "rules/rule_util.h"

#include <algorithm>
#include <utility>

namespace iris::rules {

bool selects(const RuleCommon& common, const track::Track& track) {
  if (!track.confirmed) return false;
  return common.classes.empty() || std::find(common.classes.begin(), common.classes.end(),
                                             track.label) != common.classes.end();
}

PixelPolygon::PixelPolygon(const RuleCommon& common, std::vector<Point> points)
    : normalized_(common.normalized),
      points_(std::move(points)),
      // Normalized points stay unresolved (at the origin) until the first frame size is known.
      pixels_{normalized_ ? std::vector<Point>(points_.size()) : points_} {}

const Polygon& PixelPolygon::at(int width, int height) {
  if (normalized_ && (width != width_ || height != height_)) {
    for (size_t i = 0; i < points_.size(); ++i) {
      pixels_.points[i] = {points_[i].x * width, points_[i].y * height};
    }
  }
  width_ = width;
  height_ = height;
  return pixels_;
}

void emit(events::Event e, double* last_event_time, std::vector<events::Event>* out) {
  *last_event_time = std::max(*last_event_time, e.media_time);
  out->push_back(std::move(e));
}

events::Event make_event(const char* type, const RuleCommon& common, const FrameContext& ctx) {
  events::Event e;
  e.id = events::new_event_id(ctx.wall_time);
  e.type = type;
  e.rule = common.name;
  e.stream = ctx.stream;
  e.media_time = ctx.media_time;
  e.frame = ctx.frame;
  e.wall_time = ctx.wall_time;
  return e;
}

events::Event make_event(const char* type, const RuleCommon& common, const track::Track& track,
                         const FrameContext& ctx) {
  events::Event e = make_event(type, common, ctx);
  e.track_id = track.id;
  e.label = track.label;
  e.confidence = track.score;
  e.box = track.box;
  e.attributes = track.classes;
  e.embedding = track.embedding;
  return e;
}

}  // namespace iris::rules
