// Internal helpers shared by the rule implementations (not part of the rules API): which tracks a
// rule acts on, spec coordinates in pixels, the per-track visit loop, and the event fields every
// rule fills the same way.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "events/event.h"
#include "rules/rule.h"
#include "track/tracker.h"

namespace iris::rules {

// Media times are sums of rounded frame durations; compare durations with this much slack so that
// e.g. 13 frames at 10 fps count as 1.3 s.
inline constexpr double kTimeEpsilon = 1e-6;

// True when a rule with these keys acts on the track: confirmed and of a selected class.
bool selects(const RuleCommon& common, const track::Track& track);

// A rule's polygon (or a line's two end points) in pixels of the frame size last seen: normalized
// points are scaled by the frame size, so they follow resizes; pixel points are kept as given.
class PixelPolygon {
 public:
  PixelPolygon(const RuleCommon& common, std::vector<Point> points);
  // The polygon for a frame of this size (resolved again only when the size changes).
  const Polygon& at(int width, int height);
  const Polygon& last() const { return pixels_; }

 private:
  bool normalized_;
  std::vector<Point> points_;  // as the spec gives them
  int width_ = 0;
  int height_ = 0;
  Polygon pixels_;
};

// The frame loop of a rule that keeps one visit per track (zone, loiter): observe(track) for each
// track the rule selects, then end(track, visit) for each removed track that has a visit, which is
// then forgotten, so the rule's state stays bounded by the live tracks.
template <typename Visit, typename Observe, typename End>
void visit_tracks(const RuleCommon& common, const track::TrackUpdate& tracks,
                  std::unordered_map<int64_t, Visit>* visits, Observe observe, End end) {
  for (const track::Track& t : tracks.tracks) {
    if (selects(common, t)) observe(t);
  }
  for (const track::Track& t : tracks.removed) {
    auto it = visits->find(t.id);
    if (it == visits->end()) continue;
    end(t, it->second);
    visits->erase(it);
  }
}

// Appends `e` to *out and keeps *last_event_time, the latest event's media time (the overlay's
// flash), up to date.
void emit(events::Event e, double* last_event_time, std::vector<events::Event>* out);

// An event of `type` raised by a rule on the frame `ctx`, without an object (track_id 0).
events::Event make_event(const char* type, const RuleCommon& common, const FrameContext& ctx);
// An event of `type` about `track` on the frame `ctx`, with the fields every rule fills.
events::Event make_event(const char* type, const RuleCommon& common, const track::Track& track,
                         const FrameContext& ctx);

}  // namespace iris::rules
