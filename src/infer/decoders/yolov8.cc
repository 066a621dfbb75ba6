// YOLOv8 / YOLO11 (ultralytics): one output [1, 4 + C, A] whose channels are (cx, cy, w, h, class
// scores...) in model-input pixels, with no objectness. The transposed export [1, A, 4 + C] is
// read too: the channel axis is the one of size 4 + len(class_names); without class names it is
// the smaller axis (every real export has more anchors than channels), and the exporter's
// [4 + C, A] when both axes are equal.
#include "infer/decoder.h"

namespace iris::infer {
namespace {

class Yolov8Decoder : public DetectionDecoder {
 public:
  explicit Yolov8Decoder(const DecoderParams& params) : params_(params) {}

  Status check(const ModelInfo& info) override {
    const auto& out = info.outputs[0];
    const std::string expects = "[1, 4 + classes, anchors] (or [1, anchors, 4 + classes])";
    if (out.shape.size() != 3) return output_error("yolov8", out, expects, info, params_);
    const int64_t a = out.shape[1], b = out.shape[2];
    if (params_.num_class_names > 0) {
      const int64_t channels = 4 + params_.num_class_names;
      transposed_ = a != channels && b == channels;
    } else {
      transposed_ = a > b;
    }
    const int64_t channels = transposed_ ? b : a;
    if (channels < 5) return output_error("yolov8", out, expects, info, params_);
    classes_ = static_cast<int>(channels - 4);
    return check_class_count("yolov8", classes_, params_);
  }
  int num_classes() const override { return classes_; }

  void decode(const SampleOutputs& outputs, float min_score,
              std::vector<Candidate>* out) const override {
    const OutputView& o = outputs[0];
    const int64_t anchors = transposed_ ? o.shape[0] : o.shape[1];
    // Element (channel c, anchor i) lives at c * cs + i * as.
    const int64_t cs = transposed_ ? 1 : anchors;
    const int64_t as = transposed_ ? 4 + classes_ : 1;
    for (int64_t i = 0; i < anchors; ++i) {
      const float* p = o.data + i * as;
      int best = 0;
      float score = p[4 * cs];
      for (int c = 1; c < classes_; ++c) {
        const float s = p[(4 + c) * cs];
        if (s > score) {
          score = s;
          best = c;
        }
      }
      if (score < min_score) continue;
      const float cx = p[0], cy = p[cs], w = p[2 * cs], h = p[3 * cs];
      out->push_back({{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}, best, score});
    }
  }

 private:
  const DecoderParams params_;
  bool transposed_ = false;
  int classes_ = 0;
};

}  // namespace

std::unique_ptr<Decoder> make_yolov8_decoder(const DecoderParams& params) {
  return std::make_unique<Yolov8Decoder>(params);
}

}  // namespace iris::infer
