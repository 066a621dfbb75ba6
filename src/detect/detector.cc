#include "detect/detector.h"

#include <opencv2/core.hpp>

namespace iris::detect {

Result<std::vector<std::vector<Detection>>> FrameDetector::detect(
    const std::vector<Frame>& frames) {
  std::vector<std::vector<Detection>> out;
  out.reserve(frames.size());
  try {
    for (const Frame& f : frames) out.push_back(detect_one(f));
  } catch (const cv::Exception& e) {
    return Status::error(std::string(name()) + " detector: OpenCV failed: " + e.what());
  }
  return out;
}

// One line per detector type.

std::unique_ptr<Detector> make_hog_detector(const HogSpec& spec);
std::unique_ptr<Detector> make_motion_detector(const MotionSpec& spec);

std::unique_ptr<Detector> make_detector(const DetectorSpec& spec) {
  struct Make {
    std::unique_ptr<Detector> operator()(const HogSpec& s) { return make_hog_detector(s); }
    std::unique_ptr<Detector> operator()(const MotionSpec& s) { return make_motion_detector(s); }
  };
  return std::visit(Make{}, spec);
}

}  // namespace iris::detect
