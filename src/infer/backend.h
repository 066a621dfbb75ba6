// Backend: runs a neural network. The split follows ncnn's Net/Extractor and Triton's model /
// instance: a LoadedModel is the weights, read once and shared read-only; a Context is one
// worker's execution state.
//
// Ownership and threads:
// - Backend::load() may be called from any thread. The returned LoadedModel is immutable and
//   thread-safe; it lives as long as any shared_ptr to it, and every Context keeps it alive.
// - LoadedModel::new_context() is thread-safe. A Context is NOT thread-safe: one thread at a time
//   calls infer() (the ModelServer gives each of its workers its own Context).
// - infer() borrows its input for the duration of the call and returns freshly owned outputs.
// - Backends do not set process-wide thread counts; the Engine owns the thread budget.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "infer/model_spec.h"
#include "infer/tensor.h"

namespace iris::infer {

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // -1 where the model leaves a dimension free; empty: undeclared
};

struct ModelInfo {
  std::vector<TensorInfo> inputs;   // iris feeds inputs[0] (the image)
  std::vector<TensorInfo> outputs;  // in the order infer() returns them
  // Largest batch the model accepts: 1 when its batch dimension is fixed to 1, 0 when free.
  int max_batch = 0;
  int64_t opset = 0;                  // of the default ONNX domain; errors suggest re-exports
  std::vector<std::string> op_types;  // distinct node op types, sorted (decoders read exports)
  // What the convolutions compute in: "fp32", "bf16" or "int8" (backend: iris; a layer may fall
  // back to fp32, which `iris profile` shows).
  std::string precision = "fp32";
};

class Context {
 public:
  virtual ~Context() = default;
  // `input` holds the whole batch (shape[0] = batch size, at most the model's max_batch when it
  // has one). Returns one tensor per model output, each with the same batch dimension first.
  virtual Result<std::vector<Tensor>> infer(const Tensor& input) = 0;
};

class LoadedModel {
 public:
  virtual ~LoadedModel() = default;
  virtual const ModelInfo& info() const = 0;
  virtual Result<std::unique_ptr<Context>> new_context() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Reads and checks the model. Errors name the file, the layer or shape at fault, and the fix.
  virtual Result<std::shared_ptr<const LoadedModel>> load(const ModelSpec& spec) = 0;
};

// "opencv" (OpenCV dnn, CPU) or "iris" (the iris runtime, src/runtime/). Unknown names are an error
// listing the known ones.
Result<std::unique_ptr<Backend>> make_backend(const std::string& name);

// "model 'PATH'", how messages name a model.
std::string model_label(const std::string& path);

// `input` against the model's declared input `in` (an empty shape: unknown): a batch within
// max_batch (0: any), the fixed dims equal, as many values as the shape says. `label` names the
// model.
Status check_input(const std::string& label, const TensorInfo& in, int max_batch,
                   const Tensor& input);

// What iris asks of every model, checked by each backend at load: exactly one input (the image),
// with a batch of 1 or a free batch. Sets info->max_batch. `label` names the model.
Status check_image_input(const std::string& label, ModelInfo* info);

}  // namespace iris::infer
