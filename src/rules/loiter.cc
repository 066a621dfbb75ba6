#include "rules/loiter.h"

#include <utility>

namespace iris::rules {

LoiterRule::LoiterRule(LoiterSpec spec)
    : spec_(std::move(spec)), polygon_(spec_.common, spec_.polygon) {}

void LoiterRule::evaluate(const track::TrackUpdate& tracks, const FrameContext& ctx,
                          std::vector<events::Event>* out) {
  const Polygon& polygon = polygon_.at(ctx.width, ctx.height);
  visit_tracks(
      spec_.common, tracks, &visits_, [&](const track::Track& t) { observe(t, polygon, ctx, out); },
      [&](const track::Track& t, const Visit& visit) { finish_removed(t, visit, ctx, out); });
}

void LoiterRule::observe(const track::Track& track, const Polygon& polygon, const FrameContext& ctx,
                         std::vector<events::Event>* out) {
  const bool inside = polygon.contains(anchor_point(track.box, spec_.common.anchor));
  const double t = ctx.media_time;
  auto it = visits_.find(track.id);
  if (it == visits_.end()) {
    if (!inside) return;
    Visit visit;
    visit.last_time = t;
    visit.matched_frame = ctx.frame;
    visit.matched_time = track.last_matched;
    it = visits_.emplace(track.id, visit).first;
  }
  Visit& v = it->second;
  if (inside && v.inside) v.inside_time += t - v.last_time;
  if (!inside && v.inside) {
    v.out_time = t;
    v.out_frame = ctx.frame;
    v.out_box = track.box;
  }
  v.inside = inside;
  v.last_time = t;
  if (track.matched) {
    v.matched_frame = ctx.frame;
    v.matched_time = track.last_matched;
    v.matched_inside = v.inside_time;
  }

  if (inside) {
    if (!v.started && v.inside_time >= spec_.min_time - kTimeEpsilon) {
      v.started = true;
      ++starts_;
      events::Event e = make_event("loiter_start", spec_.common, track, ctx);
      e.duration = v.inside_time;
      emit(std::move(e), &last_event_time_, out);
    }
    return;
  }
  if (t - v.out_time < spec_.max_gap - kTimeEpsilon) return;
  if (v.started) {
    emit_end(track, ctx, v.out_time, v.out_frame, v.out_box, v.inside_time, "left", out);
  }
  visits_.erase(it);
}

void LoiterRule::finish_removed(const track::Track& track, const Visit& visit,
                                const FrameContext& ctx, std::vector<events::Event>* out) {
  if (!visit.started) return;
  // Matched outside before it was lost: the object was seen leaving, at the moment it went out.
  // Times are those this rule saw (the suppression stage may withdraw a track it matched now).
  if (!visit.inside && visit.matched_time >= visit.out_time) {
    emit_end(track, ctx, visit.out_time, visit.out_frame, visit.out_box, visit.inside_time, "left",
             out);
  } else {
    emit_end(track, ctx, visit.matched_time, visit.matched_frame, track.box, visit.matched_inside,
             "lost", out);
  }
}

void LoiterRule::emit_end(const track::Track& track, const FrameContext& ctx, double time,
                          int64_t frame, const Box& box, double inside_time, const char* reason,
                          std::vector<events::Event>* out) {
  events::Event e = make_event("loiter_end", spec_.common, track, ctx);
  e.media_time = time;
  e.frame = frame;
  e.box = box;
  e.duration = inside_time;
  e.reason = reason;
  ++ends_;
  emit(std::move(e), &last_event_time_, out);
}

Overlay LoiterRule::overlay() const {
  Overlay o;
  o.points = polygon_.last().points;
  o.closed = true;
  o.caption = spec_.common.name + "  loitering " + std::to_string(starts_ - ends_) + "  total " +
              std::to_string(starts_);
  o.last_event_time = last_event_time_;
  return o;
}

std::map<std::string, int64_t> LoiterRule::counters() const {
  return {{"start", starts_}, {"end", ends_}};
}

}  // namespace iris::rules
