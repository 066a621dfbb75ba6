// Detectors: find objects in frames. DNN, HOG and motion detectors share this interface.
// A detector instance belongs to one stream and is called on that stream's strand, one call at
// a time, so it may keep per-stream state (the motion detector's background model).
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/detection.h"
#include "core/frame.h"
#include "core/status.h"

namespace iris::detect {

// OpenCV's built-in HOG + linear SVM people detector (Dalal-Triggs, 64x128 window).
struct HogSpec {
  double upscale = 1.0;         // resize the frame by this factor first (people < 128 px tall)
  double hit_threshold = 0.0;   // SVM margin a window needs
  double scale_step = 1.05;     // image pyramid step
  int stride = 8;               // window stride in pixels
  double min_confidence = 0.5;  // after mapping the SVM margin to [0,1]
  std::string label = "person";
};

// Background subtraction on a gray thumbnail, then contours of the moving regions.
struct MotionSpec {
  int thumbnail_width = 320;    // analysis width in pixels (height keeps the aspect ratio)
  double threshold = 25;        // gray-level difference that counts as motion (0-255)
  double learning_rate = 0.02;  // how fast the background absorbs changes (0-1)
  double min_area = 0.001;      // smallest region, as a fraction of the frame area
  std::string label = "motion";
};

using DetectorSpec = std::variant<HogSpec, MotionSpec>;

class Detector {
 public:
  virtual ~Detector() = default;
  // One result per frame, in the same order; boxes in source pixels of each frame.
  virtual Result<std::vector<std::vector<Detection>>> detect(const std::vector<Frame>& frames) = 0;
};

// Base of detectors that look at one frame at a time; turns OpenCV failures into a Status that
// names the detector.
class FrameDetector : public Detector {
 public:
  Result<std::vector<std::vector<Detection>>> detect(const std::vector<Frame>& frames) final;

 protected:
  virtual const char* name() const = 0;
  virtual std::vector<Detection> detect_one(const Frame& frame) = 0;
};

std::unique_ptr<Detector> make_detector(const DetectorSpec& spec);

}  // namespace iris::detect
