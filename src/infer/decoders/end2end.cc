// Models that run NMS themselves (YOLOv10, ultralytics and YOLOv7 "end2end" exports): one output
// [1, N, 6] of rows (x1, y1, x2, y2, score, class) in model-input pixels, unused rows scoring 0.
// No NMS is run again; thresholds per class and max_detections still apply.
#include <cmath>

#include "infer/decoder.h"

namespace iris::infer {
namespace {

class End2endDecoder : public DetectionDecoder {
 public:
  explicit End2endDecoder(const DecoderParams& params) : params_(params) {}

  Status check(const ModelInfo& info) override {
    const auto& out = info.outputs[0];
    if (out.shape.size() != 3 || out.shape[2] != 6) {
      return output_error("end2end", out, "[1, boxes, 6] of (x1, y1, x2, y2, score, class)", info,
                          params_);
    }
    return {};
  }
  int num_classes() const override { return params_.num_class_names; }
  bool needs_nms() const override { return false; }

  void decode(const SampleOutputs& outputs, float min_score,
              std::vector<Candidate>* out) const override {
    const OutputView& o = outputs[0];
    for (int64_t i = 0; i < o.shape[0]; ++i) {
      const float* p = o.data + i * 6;
      if (p[4] < min_score || !(p[5] >= 0)) continue;
      out->push_back({{p[0], p[1], p[2], p[3]}, static_cast<int>(std::lround(p[5])), p[4]});
    }
  }

 private:
  const DecoderParams params_;
};

}  // namespace

std::unique_ptr<Decoder> make_end2end_decoder(const DecoderParams& params) {
  return std::make_unique<End2endDecoder>(params);
}

}  // namespace iris::infer
