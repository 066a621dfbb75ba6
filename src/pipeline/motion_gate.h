// Gate: decides frame by frame whether a stream's detector runs, from a cheap motion model on a
// gray thumbnail (the MotionGate spec). No motion, no inference: the caller keeps the last
// detections instead. Optionally narrows the detector to the moving region. Per stream, on its
// strand.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <optional>

#include "core/frame.h"
#include "detect/detector.h"
#include "pipeline/config.h"

namespace iris::pipeline {

class Gate {
 public:
  explicit Gate(const MotionGate& spec);

  struct Decision {
    bool run = true;
    std::optional<cv::Rect> region;  // source pixels; run only here (spec.region)
  };
  Decision decide(const Frame& frame);
  // After a gap: the background and the timers start again.
  void reset();

 private:
  MotionGate spec_;
  std::unique_ptr<detect::Detector> motion_;
  double last_motion_ = -1;  // media time motion was last seen
  double last_run_ = -1;     // media time the detector last ran
};

}  // namespace iris::pipeline
