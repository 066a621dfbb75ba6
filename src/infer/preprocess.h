// Preprocess: turns a BGR picture (or a region of it: a tile, a detection's crop) into one input
// sample for a model, as its ModelSpec asks (size, layout, channel order, normalization, letterbox
// or stretch), and remembers how to map the model's boxes back to source pixels.
#pragma once

#include <opencv2/core.hpp>

#include "core/geometry.h"
#include "core/status.h"
#include "infer/model_spec.h"
#include "infer/tensor.h"

namespace iris::infer {

// Model-input pixels -> source pixels: undo the letterbox border and the scale, add the region's
// origin, clip to the source picture. Boxes use pixel-edge coordinates on both sides (the box
// [0, 0, w, h] of the model input covers the whole resized region).
struct InputTransform {
  double scale_x = 1, scale_y = 1;  // model pixels per source pixel
  double pad_x = 0, pad_y = 0;      // letterbox border left and top, model pixels
  double roi_x = 0, roi_y = 0;      // the region's top-left corner in the source
  double source_width = 0, source_height = 0;

  Box to_source(const Box& model_box) const;
};

struct Sample {
  Tensor tensor;  // batch dimension 1: [1, 3, H, W] or [1, H, W, 3]
  InputTransform transform;
};

// `spec.input_width` and `spec.input_height` must be set (Model resolves them from the model).
// `roi` is clipped to the picture; an empty picture or region is an error.
Result<Sample> preprocess(const cv::Mat& bgr, const cv::Rect& roi, const ModelSpec& spec);
inline Result<Sample> preprocess(const cv::Mat& bgr, const ModelSpec& spec) {
  return preprocess(bgr, cv::Rect(0, 0, bgr.cols, bgr.rows), spec);
}

}  // namespace iris::infer
