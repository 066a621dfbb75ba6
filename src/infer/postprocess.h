// Post-processing shared by every detection decoder: thresholds (global and per class), class-aware
// NMS, the cap on detections, the mapping from model-input pixels to source pixels, class names.
#pragma once

#include <string>
#include <vector>

#include "core/detection.h"
#include "core/status.h"
#include "infer/decoder.h"
#include "infer/model_spec.h"
#include "infer/preprocess.h"

namespace iris::infer {

// Greedy NMS within each class: visits boxes by descending score and drops any box overlapping
// an already kept box of the same class by IoU > `iou_threshold`. Returns the kept indices, best
// score first.
std::vector<size_t> nms(const std::vector<Candidate>& candidates, double iou_threshold);

// Class-aware NMS over detections already in source pixels (classes told apart by label), e.g.
// to merge the boxes of overlapping tiles; keeps the best `max_detections`, best score first.
std::vector<Detection> merge_detections(std::vector<Detection> detections, double iou_threshold,
                                        int max_detections);

class Postprocess {
 public:
  // `num_classes` as the decoder read it from the model (0: unknown). Fails when a key of
  // spec.class_thresholds is not a class name (or, without class names, a class number).
  static Result<Postprocess> create(const ModelSpec& spec, int num_classes);

  // The lowest threshold of any class: decoders drop candidates below it early.
  float min_score() const { return min_score_; }
  // Thresholds, maps to source pixels, runs NMS when `run_nms`, keeps the best max_detections.
  std::vector<Detection> run(std::vector<Candidate> candidates, const InputTransform& transform,
                             bool run_nms) const;
  std::string label(int class_id) const;

 private:
  std::vector<std::string> names_;
  std::vector<float> thresholds_;  // per class id; ids past the end use threshold_
  float threshold_ = 0;
  float min_score_ = 0;
  double nms_iou_ = 0;
  int max_detections_ = 0;
};

}  // namespace iris::infer
