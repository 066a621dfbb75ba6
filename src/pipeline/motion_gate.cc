#include "pipeline/motion_gate.h"

#include <algorithm>

namespace iris::pipeline {
namespace {

// A region this much of the frame or more is run whole: cropping would save little.
constexpr double kWholeFrameShare = 0.6;

}  // namespace

Gate::Gate(const MotionGate& spec) : spec_(spec) { reset(); }

void Gate::reset() {
  motion_ = std::move(detect::make_detector(spec_.motion, {}, false)).value();
  last_motion_ = -1;
  last_run_ = -1;
}

Gate::Decision Gate::decide(const Frame& frame) {
  std::vector<Detection> moving;
  // The motion detector computes on this thread and calls back before returning.
  motion_->detect(frame, [&](Result<std::vector<Detection>> r) {
    if (r.ok()) moving = std::move(r).value();
  });
  const double t = frame.pts;
  if (!moving.empty()) last_motion_ = t;
  Decision d;
  const bool first = last_run_ < 0;
  const bool holding = last_motion_ >= 0 && t - last_motion_ <= spec_.hold;
  const bool refresh = spec_.refresh > 0 && t - last_run_ >= spec_.refresh;
  d.run = first || holding || refresh;
  if (!d.run) return d;
  last_run_ = t;
  if (!spec_.region || moving.empty() || first || refresh) return d;

  Box u = moving.front().box;
  for (const Detection& m : moving) u = unite(u, m.box);
  const double px = (u.x2 - u.x1) * spec_.padding, py = (u.y2 - u.y1) * spec_.padding;
  const cv::Rect frame_rect(0, 0, frame.width(), frame.height());
  const cv::Rect r =
      cv::Rect(cv::Point(static_cast<int>(u.x1 - px), static_cast<int>(u.y1 - py)),
               cv::Point(static_cast<int>(u.x2 + px + 1), static_cast<int>(u.y2 + py + 1))) &
      frame_rect;
  if (r.area() > 0 && r.area() < kWholeFrameShare * frame_rect.area()) d.region = r;
  return d;
}

}  // namespace iris::pipeline
