#include "rules/line.h"

#include <cmath>
#include <utility>

namespace iris::rules {

LineRule::LineRule(LineSpec spec)
    : spec_(std::move(spec)), ends_(spec_.common, {spec_.a, spec_.b}) {}

void LineRule::evaluate(const track::TrackUpdate& tracks, const FrameContext& ctx,
                        std::vector<events::Event>* out) {
  const std::vector<Point>& ends = ends_.at(ctx.width, ctx.height).points;
  for (const track::Track& t : tracks.tracks) {
    if (selects(spec_.common, t)) observe(t, ends[0], ends[1], ctx, out);
  }
  for (const track::Track& t : tracks.removed) sides_.erase(t.id);
}

void LineRule::observe(const track::Track& track, const Point& a, const Point& b,
                       const FrameContext& ctx, std::vector<events::Event>* out) {
  const Point p = anchor_point(track.box, spec_.common.anchor);
  const double d = signed_distance(a, b, p);
  // Inside the margin band the side stays what it was: jitter on the line never flips it.
  if (d == 0 || std::abs(d) < spec_.margin) return;
  const Side now{.a = d > 0, .at = p};
  auto [it, first] = sides_.try_emplace(track.id, now);
  if (first) return;
  Side& was = it->second;
  // A side flip only counts when the path crossed the segment itself, not its extension.
  if (was.a != now.a && segments_intersect(was.at, p, a, b)) {
    const char* direction = now.a ? "B->A" : "A->B";
    const int64_t count = ++counts_[track.label + " " + direction];
    ++(now.a ? b_to_a_ : a_to_b_);
    events::Event e = make_event("line_cross", spec_.common, track, ctx);
    e.direction = direction;
    e.count = count;
    emit(std::move(e), &last_event_time_, out);
  }
  was = now;
}

Overlay LineRule::overlay() const {
  Overlay o;
  o.points = ends_.last().points;
  o.caption =
      spec_.common.name + "  A->B " + std::to_string(a_to_b_) + "  B->A " + std::to_string(b_to_a_);
  o.last_event_time = last_event_time_;
  return o;
}

std::map<std::string, int64_t> LineRule::counters() const { return counts_; }

}  // namespace iris::rules
