// Decoders read a model's raw outputs. At load a decoder checks the outputs' shapes and learns
// their layout; then it turns ONE sample's outputs into candidate boxes (detectors) or a vector
// (classifiers, embeddings). Thresholds per class, NMS and the mapping to source pixels are shared
// by all detectors (postprocess.h).
//
// Adding a decoder: one file in decoders/ that defines its factory, and one line in
// decoders/registry.cc.
//
// Threads: check() runs once, at load; decode() is const and may run on many threads at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/geometry.h"
#include "core/status.h"
#include "infer/backend.h"
#include "infer/tensor.h"

namespace iris::infer {

// One box a detector proposes, in model-input pixels, before thresholds per class and NMS.
struct Candidate {
  Box box;
  int class_id = 0;
  float score = 0;
};

// One output of one sample: the batch dimension dropped, the data borrowed from the batch.
struct OutputView {
  std::vector<int64_t> shape;
  const float* data = nullptr;
  int64_t count() const { return Tensor::count(shape); }
};
using SampleOutputs = std::vector<OutputView>;  // in ModelInfo::outputs order

struct DecoderParams {
  int input_width = 0;  // model input, resolved
  int input_height = 0;
  int num_class_names = 0;  // how many class names the config lists (0: none)
};

enum class Task { kDetect, kClassify, kEmbed };

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual Task task() const = 0;
  // `info.outputs` holds concrete shapes, batch first (as a batch-of-1 inference returned them).
  // An output this decoder cannot read is an error that names the output, its shape, what this
  // decoder expects and which decoder probably fits (see output_error()).
  virtual Status check(const ModelInfo& info) = 0;
  // Classes the model scores, known after check(); 0 when the outputs do not say (end2end,
  // embeddings).
  virtual int num_classes() const = 0;
};

class DetectionDecoder : public Decoder {
 public:
  Task task() const final { return Task::kDetect; }
  // Appends the candidates of one sample that score at least `min_score`.
  virtual void decode(const SampleOutputs& outputs, float min_score,
                      std::vector<Candidate>* out) const = 0;
  // False for models that already ran NMS themselves.
  virtual bool needs_nms() const { return true; }
};

// Classifiers (class probabilities) and embeddings (an L2-normalized vector).
class VectorDecoder : public Decoder {
 public:
  virtual std::vector<float> decode(const SampleOutputs& outputs) const = 0;
};

// The decoder a ModelSpec names. Unknown names are an error listing the known ones.
Result<std::unique_ptr<Decoder>> make_decoder(const std::string& name, const DecoderParams& params);

// For check(): "output 'x' has shape [..]; the <decoder> decoder expects <expects>; <hint>",
// where the hint names the decoder whose layout the outputs look like.
Status output_error(const std::string& decoder, const TensorInfo& output,
                    const std::string& expects, const ModelInfo& info, const DecoderParams& params);
// For check(): an error when the config lists class names but not one per class the model scores.
Status check_class_count(const std::string& decoder, int model_classes,
                         const DecoderParams& params);

// Rows of YOLOv5 and YOLOX (4 box values, objectness, `classes` class scores): appends the row's
// best class, scored objectness * class score, when that reaches `min_score`. The box is centre
// (cx, cy) and size (w, h) in model-input pixels.
void add_objectness_row(const float* row, int classes, float min_score, float cx, float cy, float w,
                        float h, std::vector<Candidate>* out);

// Anchors of YOLOX-style grids (strides 8, 16 and 32) for an input of this size.
int64_t grid_anchor_count(int width, int height);

}  // namespace iris::infer
