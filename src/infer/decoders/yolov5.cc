// YOLOv5 (and YOLOv7, decoded YOLOX): one output [1, N, 5 + C] of rows
// (cx, cy, w, h, objectness, class scores...) in model-input pixels; score = objectness * class.
// Each row keeps its best class only.
#include "infer/decoder.h"

namespace iris::infer {
namespace {

class Yolov5Decoder : public DetectionDecoder {
 public:
  explicit Yolov5Decoder(const DecoderParams& params) : params_(params) {}

  Status check(const ModelInfo& info) override {
    const auto& out = info.outputs[0];
    if (out.shape.size() != 3 || out.shape[2] < 6) {
      return output_error("yolov5", out, "[1, boxes, 5 + classes]", info, params_);
    }
    classes_ = static_cast<int>(out.shape[2] - 5);
    return check_class_count("yolov5", classes_, params_);
  }
  int num_classes() const override { return classes_; }

  void decode(const SampleOutputs& outputs, float min_score,
              std::vector<Candidate>* out) const override {
    const OutputView& o = outputs[0];
    const int64_t rows = o.shape[0];
    const int64_t stride = o.shape[1];
    for (int64_t r = 0; r < rows; ++r) {
      const float* p = o.data + r * stride;
      if (p[4] < min_score) continue;  // the score is at most the objectness
      int best = 0;
      for (int c = 1; c < classes_; ++c) {
        if (p[5 + c] > p[5 + best]) best = c;
      }
      const float score = p[4] * p[5 + best];
      if (score < min_score) continue;
      out->push_back(
          {{p[0] - p[2] / 2, p[1] - p[3] / 2, p[0] + p[2] / 2, p[1] + p[3] / 2}, best, score});
    }
  }

 private:
  const DecoderParams params_;
  int classes_ = 0;
};

}  // namespace

std::unique_ptr<Decoder> make_yolov5_decoder(const DecoderParams& params) {
  return std::make_unique<Yolov5Decoder>(params);
}

}  // namespace iris::infer
