// Internal helpers shared by the rule implementations (not part of the rules API): which tracks a
// rule acts on, spec coordinates in pixels, and the event fields every rule fills the same way.
#pragma once

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

// Spec points in pixels: normalized points are scaled by the frame size, pixel points kept.
std::vector<Point> to_pixels(const RuleCommon& common, const std::vector<Point>& points, int width,
                             int height);

// A rule's polygon in pixels of the frame size last seen: a normalized polygon follows resizes.
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

// An event of `type` raised by a rule on the frame `ctx`, without an object (track_id 0).
events::Event make_event(const char* type, const RuleCommon& common, const FrameContext& ctx);
// An event of `type` about `track` on the frame `ctx`, with the fields every rule fills.
events::Event make_event(const char* type, const RuleCommon& common, const track::Track& track,
                         const FrameContext& ctx);

}  // namespace iris::rules
