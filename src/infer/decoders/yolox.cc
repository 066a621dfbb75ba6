// YOLOX: one output [1, A, 5 + C] of rows (x, y, w, h, objectness, class scores...), objectness
// and classes already through a sigmoid; score = objectness * class.
// Both exports are read, told apart by the graph itself: the default one decodes boxes inside the
// model (its graph has the Exp of exp(w) * stride) into pixels, like YOLOv5; the one exported with
// decode_in_inference=False has no Exp and leaves the raw grid regression, decoded here over the
// grids of strides 8, 16 and 32 (rows ordered stride by stride, row-major within a grid):
// cx = (x + gx) * stride, w = exp(w) * stride.
#include <algorithm>
#include <cmath>

#include "infer/decoder.h"

namespace iris::infer {
namespace {

class YoloxDecoder : public DetectionDecoder {
 public:
  explicit YoloxDecoder(const DecoderParams& params) : params_(params) {}

  Status check(const ModelInfo& info) override {
    const auto& out = info.outputs[0];
    if (out.shape.size() != 3 || out.shape[2] < 6) {
      return output_error("yolox", out, "[1, anchors, 5 + classes]", info, params_);
    }
    raw_ = !std::binary_search(info.op_types.begin(), info.op_types.end(), "Exp");
    const int64_t grid = grid_anchor_count(params_.input_width, params_.input_height);
    if (raw_ && out.shape[1] != grid) {
      return output_error("yolox", out,
                          "[1, " + std::to_string(grid) +
                              ", 5 + classes] for raw outputs (no Exp "
                              "in the graph) at input " +
                              std::to_string(params_.input_width) + "x" +
                              std::to_string(params_.input_height) +
                              ": one row per cell of the stride 8, 16 and 32 grids",
                          info, params_);
    }
    classes_ = static_cast<int>(out.shape[2] - 5);
    return check_class_count("yolox", classes_, params_);
  }
  int num_classes() const override { return classes_; }

  void decode(const SampleOutputs& outputs, float min_score,
              std::vector<Candidate>* out) const override {
    const OutputView& o = outputs[0];
    const int64_t stride = o.shape[1];
    if (!raw_) {
      for (int64_t row = 0; row < o.shape[0]; ++row) {
        const float* p = o.data + row * stride;
        add_objectness_row(p, classes_, min_score, p[0], p[1], p[2], p[3], out);
      }
      return;
    }
    int64_t row = 0;
    for (int s : {8, 16, 32}) {
      const int gw = params_.input_width / s, gh = params_.input_height / s;
      for (int gy = 0; gy < gh; ++gy) {
        for (int gx = 0; gx < gw; ++gx, ++row) {
          const float* p = o.data + row * stride;
          if (p[4] < min_score) continue;  // skips exp() for most rows
          add_objectness_row(p, classes_, min_score, (p[0] + gx) * s, (p[1] + gy) * s,
                             std::exp(p[2]) * s, std::exp(p[3]) * s, out);
        }
      }
    }
  }

 private:
  const DecoderParams params_;
  bool raw_ = false;
  int classes_ = 0;
};

}  // namespace

std::unique_ptr<Decoder> make_yolox_decoder(const DecoderParams& params) {
  return std::make_unique<YoloxDecoder>(params);
}

}  // namespace iris::infer
