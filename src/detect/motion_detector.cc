// Motion detector: running-average background on a gray thumbnail, thresholded difference,
// then the bounding boxes of moving regions. Cheap enough to gate heavier detectors.
#include <opencv2/imgproc.hpp>

#include "detect/detector.h"

namespace iris::detect {
namespace {

class MotionDetector : public FrameDetector {
 public:
  explicit MotionDetector(const MotionSpec& spec) : spec_(spec) {}

 private:
  const char* name() const override { return "motion"; }

  std::vector<Detection> detect_one(const Frame& f) override {
    const cv::Mat& gray = f.gray(spec_.thumbnail_width);
    cv::Mat blurred;
    cv::GaussianBlur(gray, blurred, cv::Size(5, 5), 0);
    if (background_.empty() || background_.size() != blurred.size()) {
      blurred.convertTo(background_, CV_32F);  // first frame (or a new size): nothing moves yet
      return {};
    }
    cv::Mat bg8, diff, mask;
    background_.convertTo(bg8, CV_8U);
    cv::absdiff(blurred, bg8, diff);
    cv::threshold(diff, mask, spec_.threshold, 255, cv::THRESH_BINARY);
    cv::dilate(mask, mask, cv::Mat(), cv::Point(-1, -1), 2);
    cv::accumulateWeighted(blurred, background_, spec_.learning_rate);

    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    const double sx = static_cast<double>(f.width()) / gray.cols;
    const double sy = static_cast<double>(f.height()) / gray.rows;
    const double min_area = spec_.min_area * gray.cols * gray.rows;
    std::vector<Detection> dets;
    for (const auto& c : contours) {
      const cv::Rect r = cv::boundingRect(c);
      if (r.area() < min_area) continue;
      // Score: the share of the box that actually moved.
      const double moving = cv::countNonZero(mask(r));
      dets.push_back({.box = Box{r.x * sx, r.y * sy, (r.x + r.width) * sx, (r.y + r.height) * sy},
                      .label = spec_.label,
                      .score = static_cast<float>(moving / r.area())});
    }
    return dets;
  }

  MotionSpec spec_;
  cv::Mat background_;  // CV_32F running average
};

}  // namespace

std::unique_ptr<Detector> make_motion_detector(const MotionSpec& spec) {
  return std::make_unique<MotionDetector>(spec);
}

}  // namespace iris::detect
