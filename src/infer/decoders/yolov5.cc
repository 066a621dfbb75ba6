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
    for (int64_t r = 0; r < o.shape[0]; ++r) {
      const float* p = o.data + r * o.shape[1];
      add_objectness_row(p, classes_, min_score, p[0], p[1], p[2], p[3], out);
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
