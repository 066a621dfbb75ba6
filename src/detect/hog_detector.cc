// HOG people detector: OpenCV's built-in Dalal-Triggs SVM (no model file needed).
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "detect/detector.h"

namespace iris::detect {
namespace {

class HogDetector : public FrameDetector {
 public:
  explicit HogDetector(const HogSpec& spec) : spec_(spec) {
    hog_.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
  }

 private:
  const char* name() const override { return "hog"; }

  std::vector<Detection> detect_one(const Frame& f) override {
    const cv::Mat& bgr = f.bgr();
    cv::Mat img = bgr;
    if (spec_.upscale != 1.0) {
      cv::resize(bgr, img, cv::Size(), spec_.upscale, spec_.upscale,
                 spec_.upscale > 1 ? cv::INTER_LINEAR : cv::INTER_AREA);
    }
    // Smaller than one detection window: nobody fits (and OpenCV 4.6 would crash).
    if (img.cols < hog_.winSize.width || img.rows < hog_.winSize.height) return {};
    std::vector<cv::Rect> rects;
    std::vector<double> weights;
    hog_.detectMultiScale(img, rects, weights, spec_.hit_threshold,
                          cv::Size(spec_.stride, spec_.stride), cv::Size(0, 0), spec_.scale_step,
                          2.0, false);
    std::vector<Detection> dets;
    for (size_t i = 0; i < rects.size(); ++i) {
      // The SVM margin is unbounded; a logistic maps it to a [0,1] confidence (margin 0 -> 0.5).
      const float conf = static_cast<float>(1.0 / (1.0 + std::exp(-weights[i])));
      if (conf < spec_.min_confidence) continue;
      // The default detector's window has ~1/8 padding around the person; tighten the box.
      const cv::Rect& r = rects[i];
      const double px = r.width * 0.125, py = r.height * 0.0625;
      Box b{(r.x + px) / spec_.upscale, (r.y + py) / spec_.upscale,
            (r.x + r.width - px) / spec_.upscale, (r.y + r.height - py) / spec_.upscale};
      dets.push_back({.box = clip(b, bgr.cols, bgr.rows), .label = spec_.label, .score = conf});
    }
    return dets;
  }

  HogSpec spec_;
  cv::HOGDescriptor hog_;
};

}  // namespace

std::unique_ptr<Detector> make_hog_detector(const HogSpec& spec) {
  return std::make_unique<HogDetector>(spec);
}

}  // namespace iris::detect
