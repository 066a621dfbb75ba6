// One line per detector type.
#include "detect/detector.h"

namespace iris::detect {

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
