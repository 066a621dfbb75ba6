// Classifiers: one output holding C class scores per sample ([1, C], [1, C, 1, 1], ...). Returns
// probabilities: scores that already form a distribution (all in [0, 1], summing to 1 within
// 1e-3: the graph ends in Softmax) are kept, anything else is taken as logits and goes through a
// softmax. Picking the top k and naming them is the Model's job.
#include <algorithm>
#include <cmath>

#include "infer/decoder.h"

namespace iris::infer {
namespace {

class ClassifierDecoder : public VectorDecoder {
 public:
  explicit ClassifierDecoder(const DecoderParams& params) : params_(params) {}
  Task task() const override { return Task::kClassify; }

  Status check(const ModelInfo& info) override {
    const auto& out = info.outputs[0];
    int64_t n = 1;
    for (size_t i = 1; i < out.shape.size(); ++i) {
      if (out.shape[i] > 1 && n > 1) {
        return output_error("classifier", out, "[1, classes] (trailing 1s allowed)", info, params_);
      }
      n *= out.shape[i];
    }
    if (n < 2)
      return output_error("classifier", out, "[1, classes] with 2 or more classes", info, params_);
    classes_ = static_cast<int>(n);
    return check_class_count("classifier", classes_, params_);
  }
  int num_classes() const override { return classes_; }

  std::vector<float> decode(const SampleOutputs& outputs) const override {
    const OutputView& o = outputs[0];
    std::vector<float> p(o.data, o.data + classes_);
    double sum = 0;
    bool in_range = true;
    for (float v : p) {
      sum += v;
      in_range = in_range && v >= 0 && v <= 1;
    }
    if (in_range && std::abs(sum - 1) <= 1e-3) return p;
    const float top = *std::max_element(p.begin(), p.end());
    sum = 0;
    for (float& v : p) {
      v = std::exp(v - top);
      sum += v;
    }
    for (float& v : p) v = static_cast<float>(v / sum);
    return p;
  }

 private:
  const DecoderParams params_;
  int classes_ = 0;
};

}  // namespace

std::unique_ptr<Decoder> make_classifier_decoder(const DecoderParams& params) {
  return std::make_unique<ClassifierDecoder>(params);
}

}  // namespace iris::infer
