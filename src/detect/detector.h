// Detectors: find objects in frames. DNN, HOG and motion detectors share this interface.
// A detector instance belongs to one stream and is called on that stream's strand, one call at
// a time, so it may keep per-stream state (the motion detector's background model).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/detection.h"
#include "core/frame.h"
#include "core/status.h"
#include "infer/model_server.h"

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

// Tiled inference for small objects: the frame is cut into cols x rows overlapping tiles, each
// run through the model at its input size, and the boxes merged with NMS across tiles.
struct TileSpec {
  int cols = 2;
  int rows = 2;
  double overlap = 0.2;    // fraction of a tile shared with its neighbour
  bool full_frame = true;  // also run the whole frame (finds objects larger than a tile)
};

// A DNN detector over a model from the config's `models:` section, served by its ModelServer.
struct DnnSpec {
  std::string model;  // name in `models:`
  std::optional<TileSpec> tiles;
};

// Detections by frame number (from 1), as a replay file lists them.
using ReplayFrames = std::map<int64_t, std::vector<Detection>>;

// Detections read from a file instead of computed (`iris synth` writes one): the frame with index
// i (from 0) gets the file's detections for frame i + 1. Format: docs/config.md.
struct ReplaySpec {
  std::string path;
  std::vector<std::string> classes;  // label of class id k (from 1) is classes[k-1]; empty: "k"
  // The file's contents, read by load_replay() when the config is loaded, so that a malformed
  // file fails before anything runs and every stream replaying it shares one copy.
  std::shared_ptr<const ReplayFrames> frames;
};

// Reads and checks a replay file; errors name the file and line.
Result<std::shared_ptr<const ReplayFrames>> load_replay(const std::string& path,
                                                        const std::vector<std::string>& classes);

using DetectorSpec = std::variant<HogSpec, MotionSpec, DnnSpec, ReplaySpec>;

class Detector {
 public:
  using Done = std::function<void(Result<std::vector<Detection>>)>;
  virtual ~Detector() = default;
  // Finds objects in `frame` (boxes in its source pixels) and calls `done` exactly once. Detectors
  // that compute on the caller's thread call it before returning; DNN detectors call it from
  // their ModelServer's thread when the result is ready, so the caller must not assume which
  // thread runs it (a stream posts the rest of its work back to its strand). The caller keeps
  // `frame` alive until then.
  virtual void detect(const Frame& frame, Done done) = 0;
};

// Base of detectors that compute on the caller's thread; turns OpenCV failures into a Status
// that names the detector.
class FrameDetector : public Detector {
 public:
  void detect(const Frame& frame, Done done) final;

 protected:
  virtual const char* name() const = 0;
  virtual std::vector<Detection> detect_one(const Frame& frame) = 0;
};

// `models`: what the Engine serves (DNN detectors look theirs up by name). `may_drop`: the stream
// is live, so a DNN request that finds its model's queue full is dropped (the frame then counts
// as one where no detector ran) instead of waiting.
Result<std::unique_ptr<Detector>> make_detector(const DetectorSpec& spec,
                                                const infer::ServedModels& models, bool may_drop);

}  // namespace iris::detect
