// FrameTap: a stream's latest frame for the live view (a JPEG of the latest frame, the annotated
// MJPEG stream). The stream's strand publishes every frame (a reference, no copy); while anyone
// watches, it also draws the OSD on a copy and publishes that. Any thread reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <opencv2/core.hpp>

#include "core/frame.h"

namespace iris::pipeline {

class FrameTap {
 public:
  struct Picture {
    cv::Mat bgr;  // shared: must not be written to; empty before the first frame
    int64_t index = -1;
  };

  // While watched (watch() calls outnumber unwatch() calls), frames are also drawn annotated.
  void watch() { ++watchers_; }
  void unwatch() { --watchers_; }
  bool watched() const { return watchers_ > 0; }

  void publish(const Frame& frame);
  void publish_annotated(cv::Mat canvas, int64_t index);

  // The latest frame as decoded, or as annotated (only while watched).
  Picture latest(bool annotated) const;

 private:
  std::atomic<int> watchers_{0};
  mutable std::mutex mu_;
  Frame frame_;  // picture null before the first frame
  Picture annotated_;
};

}  // namespace iris::pipeline
