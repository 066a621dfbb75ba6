// Embedding models (re-identification, face recognition): the first output is one vector of D
// values per sample, any shape ([1, D], [1, D, 1, 1]); returned L2-normalized so that a dot
// product is the cosine similarity. An all-zero vector stays zero.
#include <cmath>

#include "infer/decoder.h"

namespace iris::infer {
namespace {

class EmbeddingDecoder : public VectorDecoder {
 public:
  explicit EmbeddingDecoder(const DecoderParams& params) : params_(params) {}
  Task task() const override { return Task::kEmbed; }

  Status check(const ModelInfo& info) override {
    const auto& out = info.outputs[0];
    if (out.shape.size() < 2 || Tensor::count(out.shape) < 2) {
      return output_error("embedding", out, "[1, D] with D >= 2", info, params_);
    }
    return {};
  }
  int num_classes() const override { return 0; }

  std::vector<float> decode(const SampleOutputs& outputs) const override {
    const OutputView& o = outputs[0];
    std::vector<float> v(o.data, o.data + o.count());
    double norm = 0;
    for (float x : v) norm += static_cast<double>(x) * x;
    norm = std::sqrt(norm);
    if (norm > 0) {
      for (float& x : v) x = static_cast<float>(x / norm);
    }
    return v;
  }

 private:
  const DecoderParams params_;
};

}  // namespace

std::unique_ptr<Decoder> make_embedding_decoder(const DecoderParams& params) {
  return std::make_unique<EmbeddingDecoder>(params);
}

}  // namespace iris::infer
