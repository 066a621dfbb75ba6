// iris runtime: runs an ONNX model on the CPU. Model::compile() takes an imported Graph
// (graph.h) and static input shapes, folds and fuses it (passes.h), lowers it to oneDNN
// primitives and plain kernels with their memory layouts chosen once, reorders the weights once,
// and plans one memory arena. Context::run() executes the plan.
//
// Ownership and threads (ncnn's Net/Extractor split):
// - A Model is immutable after compile() and shared read-only (shared_ptr); any thread may call
//   new_context(). Each Context keeps its Model alive.
// - A Context is one worker's execution state (its arena, oneDNN stream and memory objects). It
//   is NOT thread-safe: one thread at a time calls run().
// - Threads: oneDNN here runs on OpenMP, whose thread count is per calling thread. A Model is
//   compiled for Options::threads (kernels bake their work split in) and a Context runs with that
//   many threads on whatever thread calls run(), leaving the caller's OpenMP setting as it was.
//   Whoever owns the cores (the Engine) picks the count so that workers do not oversubscribe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runtime/graph.h"
#include "runtime/tensor.h"

namespace iris::runtime {

enum class Precision { kFloat32, kBFloat16, kInt8 };
// Their names, in the enum's order: what configs, flags and profiles say.
inline constexpr std::string_view kPrecisionNames[] = {"fp32", "bf16", "int8"};
const char* precision_name(Precision p);
std::optional<Precision> parse_precision(std::string_view name);

// The calibrated range of a float value: what an INT8 layer reading it quantizes. `threshold`
// is the largest magnitude kept (values beyond saturate); a value never below 0 (`min` >= 0)
// is quantized unsigned, with twice the resolution.
struct Range {
  float min = 0;
  float threshold = 0;
};

struct Options {
  int threads = 0;  // OpenMP threads per run(); 0: OpenMP's default (one per core)
  // Shapes that replace the declared input shapes, by input name; free dimensions must be given.
  std::map<std::string, Shape> input_shapes;
  // Convolutions run in this precision; every other op stays FP32. BF16 needs avx512_bf16, INT8
  // a Range for the Conv's input (a Conv without one stays FP32).
  Precision precision = Precision::kFloat32;
  std::map<std::string, Range> ranges;  // by value name, after fusion (quantize.h)
  std::set<std::string> fp32_nodes;     // per-layer fallback: Convs kept FP32, by node name
  // Cross-layer equalization, by value name: channel c of the value is divided by scale c (by
  // the Conv that writes it) and its readers' weights multiplied by it, so that one INT8 step
  // suits every channel. Only for a value a Conv writes (at most a Relu fused) and only Convs
  // read; quantize.h picks them.
  std::map<std::string, std::vector<float>> equalize;
  // Values (by name, after fusion) returned after the model's own outputs, as FP32: what
  // calibration and per-layer comparisons read.
  std::vector<std::string> extra_outputs;
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::kFloat32;
  Shape shape;
};

// One step of the compiled plan, for profiles.
struct Layer {
  std::string name;    // the node's name, or its first output's
  std::string op;      // "Conv", "Conv+Swish", "Conv+Sum+Relu", "Reorder", ...
  std::string kernel;  // oneDNN's implementation ("brg:avx512_core", "jit:uni") or "plain"
  std::string precision = "fp32";  // what it computes in: "fp32", "bf16", "int8"
  double flops = 0;                // multiply-adds count 2; 0 where not meaningful
  Shape shape;                     // output shape
};

class Context;

class Model : public std::enable_shared_from_this<Model> {
 public:
  // Errors name the model, the node and the fix. `graph` is copied; the caller keeps it.
  static Result<std::shared_ptr<const Model>> compile(const Graph& graph, const Options& options);

  const std::vector<TensorSpec>& inputs() const;
  const std::vector<TensorSpec>& outputs() const;
  const std::vector<Layer>& layers() const;
  int threads() const;
  size_t arena_bytes() const;   // a Context's working memory
  size_t weight_bytes() const;  // constants the Model holds

  Result<std::unique_ptr<Context>> new_context() const;

  ~Model();
  struct Plan;  // compile.cc, context.cc
  explicit Model(std::unique_ptr<Plan> plan);
  const Plan& plan() const { return *plan_; }

 private:
  std::unique_ptr<Plan> plan_;
};

class Context {
 public:
  ~Context();
  // `inputs` in the order of Model::inputs(), each of exactly its dtype and shape. Fills
  // `outputs` (resized to Model::outputs()).
  Status run(const std::vector<View>& inputs, std::vector<HostTensor>* outputs);

  // With profiling on, run() waits for each layer and records its time (ms, per Model::layers()).
  void set_profiling(bool on) { profiling_ = on; }
  const std::vector<double>& layer_ms() const { return layer_ms_; }

  struct State;  // context.cc
  Context(std::shared_ptr<const Model> model, std::unique_ptr<State> state);

 private:
  std::shared_ptr<const Model> model_;
  std::unique_ptr<State> state_;
  bool profiling_ = false;
  std::vector<double> layer_ms_;
};

}  // namespace iris::runtime
