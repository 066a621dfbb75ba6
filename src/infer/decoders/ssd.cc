// SSD as exported by pytorch-ssd (MobileNet-SSD ONNX, also what jetson-inference uses), before NMS:
// two outputs, boxes [1, A, 4] as (x1, y1, x2, y2) normalized to the model input (0..1) and
// scores [1, A, 1 + C] of probabilities (softmax applied in the graph), column 0 the background.
// Class k of the model is column k + 1: class_names lists the real classes, without background.
// The outputs may come in either order: boxes is the one with 4 columns; when both have 4 (three
// classes), the one named "*box*", else the second (pytorch-ssd exports scores, then boxes).
#include "core/text.h"
#include "infer/decoder.h"

namespace iris::infer {
namespace {

bool names_boxes(const std::string& name) { return lower(name).find("box") != std::string::npos; }

class SsdDecoder : public DetectionDecoder {
 public:
  explicit SsdDecoder(const DecoderParams& params) : params_(params) {}

  Status check(const ModelInfo& info) override {
    const std::string expects =
        "two outputs: boxes [1, anchors, 4] and scores [1, anchors, 1 + classes]";
    if (info.outputs.size() != 2) {
      return output_error(
          "ssd", info.outputs[0],
          expects + " (the model has " + std::to_string(info.outputs.size()) + " outputs)", info,
          params_);
    }
    for (const auto& o : info.outputs) {
      if (o.shape.size() != 3) return output_error("ssd", o, expects, info, params_);
    }
    const auto& a = info.outputs[0].shape;
    const auto& b = info.outputs[1].shape;
    if (a[2] == 4 && b[2] == 4) {
      boxes_ = names_boxes(info.outputs[0].name) && !names_boxes(info.outputs[1].name) ? 0 : 1;
    } else {
      boxes_ = b[2] == 4 ? 1 : 0;
    }
    const auto& boxes = info.outputs[boxes_];
    const auto& scores = info.outputs[1 - boxes_];
    if (boxes.shape[2] != 4 || scores.shape[2] < 2 || scores.shape[1] != boxes.shape[1]) {
      return output_error("ssd", scores, expects, info, params_);
    }
    classes_ = static_cast<int>(scores.shape[2] - 1);
    return check_class_count("ssd", classes_, params_);
  }
  int num_classes() const override { return classes_; }

  void decode(const SampleOutputs& outputs, float min_score,
              std::vector<Candidate>* out) const override {
    const OutputView& boxes = outputs[boxes_];
    const OutputView& scores = outputs[1 - boxes_];
    const double w = params_.input_width, h = params_.input_height;
    for (int64_t i = 0; i < boxes.shape[0]; ++i) {
      const float* s = scores.data + i * (classes_ + 1);
      int best = 0;
      for (int c = 1; c < classes_; ++c) {
        if (s[1 + c] > s[1 + best]) best = c;
      }
      if (s[1 + best] < min_score) continue;
      const float* b = boxes.data + i * 4;
      out->push_back({{b[0] * w, b[1] * h, b[2] * w, b[3] * h}, best, s[1 + best]});
    }
  }

 private:
  const DecoderParams params_;
  int boxes_ = 0;  // index of the boxes output
  int classes_ = 0;
};

}  // namespace

std::unique_ptr<Decoder> make_ssd_decoder(const DecoderParams& params) {
  return std::make_unique<SsdDecoder>(params);
}

}  // namespace iris::infer
