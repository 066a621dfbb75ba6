#include "rules/zone.h"

#include <algorithm>
#include <utility>

#include "rules/rule_util.h"

namespace iris::rules {

ZoneRule::ZoneRule(ZoneSpec spec) : spec_(std::move(spec)), polygon_(spec_.common, spec_.polygon) {}

void ZoneRule::evaluate(const track::TrackUpdate& tracks, const FrameContext& ctx,
                        std::vector<events::Event>* out) {
  const Polygon& polygon = polygon_.at(ctx.width, ctx.height);
  visit_tracks(
      spec_.common, tracks, &visits_, [&](const track::Track& t) { observe(t, polygon, ctx, out); },
      [&](const track::Track& t, const Visit& visit) { finish_removed(t, visit, ctx, out); });
}

void ZoneRule::observe(const track::Track& track, const Polygon& polygon, const FrameContext& ctx,
                       std::vector<events::Event>* out) {
  const bool inside = polygon.contains(anchor_point(track.box, spec_.common.anchor));
  auto it = visits_.find(track.id);
  if (it == visits_.end()) {
    if (!inside) return;
    Visit visit;
    visit.t_in = ctx.media_time;
    visit.matched_frame = ctx.frame;
    visit.matched_time = track.last_matched;
    it = visits_.emplace(track.id, visit).first;
  }
  Visit& v = it->second;
  if (track.matched) {
    v.matched_frame = ctx.frame;
    v.matched_time = track.last_matched;
  }

  if (inside) {
    v.outside = false;  // back within the grace: the same visit goes on
    if (!v.entered && ctx.media_time - v.t_in >= spec_.min_dwell - kTimeEpsilon) {
      v.entered = true;
      ++enters_;
      emit(make_event("zone_enter", spec_.common, track, ctx), &last_event_time_, out);
    }
    return;
  }
  if (!v.outside) {
    v.outside = true;
    v.out_time = ctx.media_time;
    v.out_frame = ctx.frame;
    v.out_box = track.box;
  }
  if (ctx.media_time - v.out_time < spec_.exit_grace - kTimeEpsilon) return;
  if (v.entered) emit_exit(track, v, ctx, v.out_time, v.out_frame, v.out_box, "left", out);
  visits_.erase(it);
}

void ZoneRule::finish_removed(const track::Track& track, const Visit& visit,
                              const FrameContext& ctx, std::vector<events::Event>* out) {
  if (!visit.entered) return;
  // A detection matched outside the zone means the object was seen leaving before the track was
  // lost: that is a real exit, at the moment it went out. Times are those this rule saw: a track
  // the suppression stage withdrew was last seen by the rule on the frame before.
  if (visit.outside && visit.matched_time >= visit.out_time) {
    emit_exit(track, visit, ctx, visit.out_time, visit.out_frame, visit.out_box, "left", out);
  } else {
    emit_exit(track, visit, ctx, visit.matched_time, visit.matched_frame, track.box, "lost", out);
  }
}

void ZoneRule::emit_exit(const track::Track& track, const Visit& visit, const FrameContext& ctx,
                         double time, int64_t frame, const Box& box, const char* reason,
                         std::vector<events::Event>* out) {
  events::Event e = make_event("zone_exit", spec_.common, track, ctx);
  e.media_time = time;
  e.frame = frame;
  e.box = box;
  // A track lost right after it was predicted into the zone has last_matched before t_in.
  e.duration = std::max(0.0, time - visit.t_in);
  e.reason = reason;
  ++exits_;
  emit(std::move(e), &last_event_time_, out);
}

Overlay ZoneRule::overlay() const {
  Overlay o;
  o.points = polygon_.last().points;
  o.closed = true;
  o.caption =
      spec_.common.name + "  enter " + std::to_string(enters_) + "  exit " + std::to_string(exits_);
  o.last_event_time = last_event_time_;
  return o;
}

std::map<std::string, int64_t> ZoneRule::counters() const {
  return {{"enter", enters_}, {"exit", exits_}};
}

}  // namespace iris::rules
