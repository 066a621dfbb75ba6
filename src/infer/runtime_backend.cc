// Backend over the iris runtime (src/runtime): `backend: iris`. The runtime compiles a model for
// static input shapes and a thread count; the LoadedModel keeps the imported graph and compiles
// (and caches) one runtime::Model per input shape and thread count it is asked to run, so a batch
// size or a free image size costs one compile the first time it is seen. Every plan runs the
// convolutions in the one precision chosen at load (choose_precision).
//
// Threads: a Context runs with the process's OpenCV thread count at new_context() (what the
// Engine and `iris bench` set with cv::setNumThreads), on the runtime's per-thread OpenMP setting,
// so ModelServer workers do not change each other's thread counts.
#include "infer/runtime_backend.h"

#include <map>
#include <mutex>
#include <opencv2/core.hpp>

#include "core/log.h"
#include "infer/backend.h"
#include "runtime/model.h"
#include "runtime/quantize.h"

namespace iris::infer {
namespace {

struct PlanKey {
  std::vector<int64_t> shape;
  int threads;
  auto operator<=>(const PlanKey&) const = default;
};

class RuntimeModel : public LoadedModel, public std::enable_shared_from_this<RuntimeModel> {
 public:
  // `options`: the precision and its calibration, which every plan shares.
  RuntimeModel(const std::string& path, runtime::Graph graph, ModelInfo info,
               runtime::Options options)
      : label_(model_label(path)),
        graph_(std::move(graph)),
        info_(std::move(info)),
        options_(std::move(options)) {}

  const ModelInfo& info() const override { return info_; }
  Result<std::unique_ptr<Context>> new_context() const override;

  // The runtime model for `shape` at `threads`, compiled on first use.
  Result<std::shared_ptr<const runtime::Model>> compiled(const std::vector<int64_t>& shape,
                                                         int threads) const {
    const PlanKey key{shape, threads};
    std::lock_guard lock(mu_);
    const auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
    runtime::Options options = options_;
    options.threads = threads;
    options.input_shapes[info_.inputs[0].name] = shape;
    auto model = runtime::Model::compile(graph_, options);
    if (!model.ok()) return model.status();
    plans_.emplace(key, *model);
    return *model;
  }

  const std::string& label() const { return label_; }

 private:
  const std::string label_;  // model_label(path), made once for errors
  const runtime::Graph graph_;
  const ModelInfo info_;
  const runtime::Options options_;
  mutable std::mutex mu_;
  mutable std::map<PlanKey, std::shared_ptr<const runtime::Model>> plans_;
};

class RuntimeContext : public Context {
 public:
  RuntimeContext(std::shared_ptr<const RuntimeModel> model, int threads)
      : model_(std::move(model)), threads_(threads) {}

  Result<std::vector<Tensor>> infer(const Tensor& input) override {
    const ModelInfo& info = model_->info();
    if (Status s = check_input(model_->label(), info.inputs[0], info.max_batch, input); !s) {
      return s;
    }
    auto it = contexts_.find(input.shape);
    if (it == contexts_.end()) {
      auto compiled = model_->compiled(input.shape, threads_);
      if (!compiled.ok()) return compiled.status();
      auto context = (*compiled)->new_context();
      if (!context.ok()) return context.status();
      it = contexts_.emplace(input.shape, std::move(*context)).first;
    }
    const runtime::View in{runtime::DType::kFloat32, input.shape,
                           const_cast<float*>(input.data.data())};
    if (Status s = it->second->run({in}, &outputs_); !s.ok()) return s;
    const int64_t batch = input.shape[0];
    std::vector<Tensor> result(outputs_.size());
    for (size_t i = 0; i < outputs_.size(); ++i) {
      const runtime::HostTensor& t = outputs_[i];
      Tensor& r = result[i];
      r.name = info.outputs[i].name;
      r.shape = t.shape;
      if (r.shape.empty() || r.shape[0] != batch) {
        if (batch != 1) {
          return Status::error(model_->label() + ": output '" + r.name + "' has shape " +
                               shape_string(r.shape) + " for a batch of " + std::to_string(batch) +
                               "; iris needs the batch as its first dimension; fix: re-export "
                               "the model with a dynamic batch axis, or use max_batch: 1");
        }
        r.shape.insert(r.shape.begin(), 1);
      }
      r.data = t.floats();
    }
    return result;
  }

 private:
  std::shared_ptr<const RuntimeModel> model_;
  const int threads_;
  std::map<std::vector<int64_t>, std::unique_ptr<runtime::Context>> contexts_;
  std::vector<runtime::HostTensor> outputs_;
};

Result<std::unique_ptr<Context>> RuntimeModel::new_context() const {
  return std::unique_ptr<Context>(
      std::make_unique<RuntimeContext>(shared_from_this(), cv::getNumThreads()));
}

class RuntimeBackend : public Backend {
 public:
  Result<std::shared_ptr<const LoadedModel>> load(const ModelSpec& spec) override {
    const std::string& path = spec.path;
    auto graph = runtime::import_onnx_file(path);
    if (!graph.ok()) return graph.status();
    auto info = model_info(path, *graph);
    if (!info.ok()) return info.status();
    runtime::Options options;
    if (Status s = choose_precision(path, *graph, spec.precision, &options); !s) return s;
    info->precision = runtime::precision_name(options.precision);
    std::string note = model_label(path) + ": convolutions run in " + info->precision;
    if (!options.fp32_nodes.empty()) {
      note += " (" + std::to_string(options.fp32_nodes.size()) + " kept in fp32 by calibration)";
    }
    // Compile for a batch of one now, so that a model the runtime cannot run fails at load.
    const auto shape = first_shape(info->inputs[0].shape, spec);
    auto model = std::make_shared<RuntimeModel>(path, std::move(*graph), std::move(*info),
                                                std::move(options));
    if (shape) {
      if (auto compiled = model->compiled(*shape, cv::getNumThreads()); !compiled.ok()) {
        return compiled.status();
      }
    }
    log::info(note + " on the iris runtime");
    return std::shared_ptr<const LoadedModel>(std::move(model));
  }

 private:
  // The input shape for a batch of one: free image sides from the spec's input size; nullopt
  // when some dimension stays free.
  static std::optional<std::vector<int64_t>> first_shape(std::vector<int64_t> shape,
                                                         const ModelSpec& spec) {
    if (shape.empty()) return std::nullopt;
    shape[0] = 1;
    if (shape.size() == 4) {
      const bool nchw = spec.layout == Layout::kNCHW;
      int64_t& c = shape[nchw ? 1 : 3];
      int64_t& h = shape[nchw ? 2 : 1];
      int64_t& w = shape[nchw ? 3 : 2];
      if (c < 0) c = 3;
      if (h < 0 && spec.input_height > 0) h = spec.input_height;
      if (w < 0 && spec.input_width > 0) w = spec.input_width;
    }
    for (int64_t d : shape) {
      if (d < 1) return std::nullopt;
    }
    return shape;
  }

  static Result<ModelInfo> model_info(const std::string& path, const runtime::Graph& g) {
    ModelInfo info;
    for (int id : g.inputs) info.inputs.push_back({g.values[id].name, g.values[id].shape});
    for (size_t i = 0; i < g.outputs.size(); ++i) {
      info.outputs.push_back({g.values[g.outputs[i]].name, g.declared_outputs[i]});
    }
    info.opset = g.opset;
    info.op_types = g.op_types();
    if (Status s = check_image_input(model_label(path), &info); !s) return s;
    if (g.values[g.inputs[0]].dtype != runtime::DType::kFloat32) {
      return Status::error(model_label(path) + ": input '" + info.inputs[0].name +
                           "' is not float; iris feeds float images; fix: re-export the model "
                           "with a float input");
    }
    return info;
  }
};

}  // namespace

Status choose_precision(const std::string& path, const runtime::Graph& g,
                        const std::string& precision, runtime::Options* options) {
  const std::string label = model_label(path);
  std::optional<runtime::Precision> asked;
  if (!precision.empty()) {
    asked = runtime::parse_precision(precision);
    if (!asked) {
      return Status::error(label + ": unknown precision '" + precision +
                           "'; fix: use fp32, bf16 or int8");
    }
  }
  auto calibration = runtime::quantization_of(g);
  if (!calibration.ok()) return calibration.status();
  const std::optional<runtime::Quantization>& q = *calibration;
  options->precision = asked ? *asked : q ? q->precision : runtime::Precision::kFloat32;
  // A calibration (its ranges, equalization and fallbacks) serves the precision it was made for;
  // in another the file runs as the plain model it also is.
  const bool calibrated = q && q->precision == options->precision;
  if (options->precision == runtime::Precision::kInt8 && !calibrated) {
    return Status::error(label +
                         " is not calibrated for int8, which needs the calibrated ranges of its "
                         "convolutions' inputs; fix: calibrate it with `iris quantize " +
                         path + " --calib DIR --out FILE` and run FILE, or use fp32 or bf16");
  }
  if (calibrated) {
    options->ranges = q->ranges;
    options->fp32_nodes = q->fp32_nodes;
    options->equalize = q->equalize;
  }
  return Status();
}

std::unique_ptr<Backend> make_runtime_backend() { return std::make_unique<RuntimeBackend>(); }

}  // namespace iris::infer
