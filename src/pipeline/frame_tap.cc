#include "pipeline/frame_tap.h"

namespace iris::pipeline {

void FrameTap::publish(const Frame& frame) {
  std::lock_guard lock(mu_);
  frame_ = frame;
}

void FrameTap::publish_annotated(cv::Mat canvas, int64_t index) {
  std::lock_guard lock(mu_);
  annotated_ = {std::move(canvas), index};
}

FrameTap::Picture FrameTap::latest(bool annotated) const {
  Frame frame;
  {
    std::lock_guard lock(mu_);
    if (annotated) return annotated_;
    frame = frame_;
  }
  // Converted outside the lock: the picture makes its BGR view once, under its own lock.
  if (!frame.picture) return {};
  return {frame.bgr(), frame.index};
}

}  // namespace iris::pipeline
