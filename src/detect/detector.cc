#include "detect/detector.h"

#include <opencv2/core.hpp>

namespace iris::detect {

void FrameDetector::detect(const Frame& frame, Done done) {
  std::vector<Detection> found;
  try {
    found = detect_one(frame);
  } catch (const cv::Exception& e) {
    done(Status::error(std::string(name()) + " detector: OpenCV failed: " + e.what()));
    return;
  }
  done(std::move(found));
}

// One line per detector type.

std::unique_ptr<Detector> make_hog_detector(const HogSpec& spec);
std::unique_ptr<Detector> make_motion_detector(const MotionSpec& spec);
std::unique_ptr<Detector> make_replay_detector(const ReplaySpec& spec);
Result<std::unique_ptr<Detector>> make_dnn_detector(const DnnSpec& spec,
                                                    const infer::ServedModels& models,
                                                    bool may_drop);

Result<std::unique_ptr<Detector>> make_detector(const DetectorSpec& spec,
                                                const infer::ServedModels& models, bool may_drop) {
  using Made = Result<std::unique_ptr<Detector>>;
  return std::visit(
      [&](const auto& s) -> Made {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, HogSpec>) return make_hog_detector(s);
        if constexpr (std::is_same_v<T, MotionSpec>) return make_motion_detector(s);
        if constexpr (std::is_same_v<T, ReplaySpec>) return make_replay_detector(s);
        if constexpr (std::is_same_v<T, DnnSpec>) return make_dnn_detector(s, models, may_drop);
      },
      spec);
}

}  // namespace iris::detect
