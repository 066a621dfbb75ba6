#include "rules/crowd.h"

#include <algorithm>
#include <utility>

#include "core/text.h"

namespace iris::rules {
CrowdRule::CrowdRule(CrowdSpec spec)
    : spec_(std::move(spec)), polygon_(spec_.common, spec_.polygon) {}

CrowdRule::Inside CrowdRule::count_inside(const track::TrackUpdate& tracks,
                                          const Polygon& polygon) const {
  Inside in;
  for (const track::Track& t : tracks.tracks) {
    if (!selects(spec_.common, t)) continue;
    if (!polygon.contains(anchor_point(t.box, spec_.common.anchor))) continue;
    in.box = in.count == 0 ? t.box : unite(in.box, t.box);
    ++in.count;
    in.labels.insert(t.label);
    in.score_sum += t.score;
  }
  return in;
}

void CrowdRule::evaluate(const track::TrackUpdate& tracks, const FrameContext& ctx,
                         std::vector<events::Event>* out) {
  const Inside in = count_inside(tracks, polygon_.at(ctx.width, ctx.height));
  inside_now_ = in.count;
  const double t = ctx.media_time;
  if (in.count > spec_.max_count) {
    if (!episode_) {
      episode_.emplace();
      episode_->since = t;
      episode_->area = in.box;
    }
    Episode& ep = *episode_;
    ep.under = false;
    ep.peak = std::max(ep.peak, in.count);
    ep.area = unite(ep.area, in.box);
    ep.labels.insert(in.labels.begin(), in.labels.end());
    if (!ep.started && t - ep.since >= spec_.min_time - kTimeEpsilon) {
      ep.started = true;
      ep.confidence = in.score_sum / in.count;
      ++starts_;
      events::Event e = make_event("crowd_start", spec_.common, ctx);
      e.label = join(in.labels, ",");  // "bicycle,person"
      e.confidence = ep.confidence;
      e.box = in.box;
      e.count = in.count;
      emit(std::move(e), &last_event_time_, out);
    }
    return;
  }
  if (!episode_) return;
  Episode& ep = *episode_;
  if (!ep.under) {
    ep.under = true;
    ep.under_time = t;
    ep.under_frame = ctx.frame;
  }
  // The grace also bridges dips before crowd_start: min_time counts across them.
  if (t - ep.under_time < spec_.end_grace - kTimeEpsilon) return;
  if (ep.started) {
    ++ends_;
    events::Event e = make_event("crowd_end", spec_.common, ctx);
    e.media_time = ep.under_time;
    e.frame = ep.under_frame;
    e.label = join(ep.labels, ",");
    e.confidence = ep.confidence;
    e.box = ep.area;
    e.count = ep.peak;
    e.duration = ep.under_time - ep.since;
    emit(std::move(e), &last_event_time_, out);
  }
  episode_.reset();
}

Overlay CrowdRule::overlay() const {
  Overlay o;
  o.points = polygon_.last().points;
  o.closed = true;
  o.caption = spec_.common.name + "  inside " + std::to_string(inside_now_) + " (max " +
              std::to_string(spec_.max_count) + ")  crowds " + std::to_string(starts_);
  o.last_event_time = last_event_time_;
  return o;
}

std::map<std::string, int64_t> CrowdRule::counters() const {
  return {{"start", starts_}, {"end", ends_}};
}

}  // namespace iris::rules
