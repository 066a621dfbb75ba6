// iris profile: where a model's time goes on the iris runtime. Per layer of the compiled plan
// (after folding and fusion): time, share, GFLOP/s, the oneDNN kernel that runs it and the
// precision it computes in.
#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "apps/iris/commands.h"
#include "core/clock.h"
#include "core/text.h"
#include "infer/runtime_backend.h"
#include "runtime/model.h"

namespace iris::app {

const char kProfileUsage[] =
    "usage: iris profile MODEL [--precision P] [--threads N] [--batch N] [--input WxH]\n"
    "                          [--repeat N] [--warmup N] [--json]\n\n"
    "Compiles MODEL (an .onnx file) on the iris runtime (backend: iris) and times every layer\n"
    "of the compiled plan on random input: the layers are what runs after constant folding and\n"
    "fusion (a Conv with its BatchNormalization, activation and residual Add is one layer).\n"
    "Prints per layer the mean time, its share of the total, GFLOP/s where the layer computes\n"
    "products (convolutions, matrix products), oneDNN's kernel and the precision the layer\n"
    "computes in. Timing each layer waits for it, so the layers add up to a little more than the\n"
    "end-to-end latency, printed too.\n\n"
    "options:\n"
    "  --precision P fp32, bf16 or int8: what the convolutions run in (default: the file's own,\n"
    "                that is its `iris quantize` calibration's, else fp32); int8 needs a\n"
    "                calibrated file\n"
    "  --threads N   OpenMP threads (default: one per core)\n"
    "  --batch N     batch size, for models with a free batch (default 1)\n"
    "  --input WxH   input width and height, for models that leave them free\n"
    "  --repeat N    timed runs (default 20)\n"
    "  --warmup N    untimed runs before them (default 3)\n"
    "  --json        one JSON document instead of the table\n\n"
    "Exit status: 0 when the model ran, 1 when it failed to load or run, 2 for bad arguments.\n";

namespace {

struct ProfileArgs {
  std::string model;
  std::string precision;  // "": the file's own
  int threads = 0;
  int batch = 1;
  int width = 0, height = 0;
  int repeat = 20;
  int warmup = 3;
  bool json = false;
};

// The options that take a whole number, and its range.
struct NumberOption {
  const char* flag;
  int ProfileArgs::*field;
  int lo, hi;
};
constexpr NumberOption kNumberOptions[] = {
    {"--threads", &ProfileArgs::threads, 1, 256},
    {"--batch", &ProfileArgs::batch, 1, 1000000},
    {"--repeat", &ProfileArgs::repeat, 1, 1000000},
    {"--warmup", &ProfileArgs::warmup, 0, 1000000},
};

std::optional<ProfileArgs> parse(const Args& args) {
  ProfileArgs a;
  const auto option = [&a](const std::string& flag,
                           const std::string& value) -> std::optional<std::string> {
    if (flag == "--input")
      return parse_input_size(value, &a.width, &a.height) ? "" : kInputSizeWant;
    if (flag == "--precision") {
      a.precision = value;
      return runtime::parse_precision(value) ? "" : "precision: fp32, bf16 or int8";
    }
    const auto number =
        std::ranges::find_if(kNumberOptions, [&](const NumberOption& o) { return flag == o.flag; });
    if (number == std::end(kNumberOptions)) return std::nullopt;
    if (const auto v = int_in_range(value, number->lo, number->hi)) {
      a.*number->field = *v;
      return "";
    }
    return "whole number from " + std::to_string(number->lo) + " to " + std::to_string(number->hi);
  };
  if (!read_options("iris profile", kProfileUsage, args, &a.model, &a.json, option)) {
    return std::nullopt;
  }
  if (a.model.empty()) {
    std::fprintf(stderr, "iris profile: needs MODEL, an .onnx file\n\n%s", kProfileUsage);
    return std::nullopt;
  }
  return a;
}

double ms_since(int64_t t0_ns) { return (steady_ns() - t0_ns) / 1e6; }

}  // namespace

int profile_main(const Args& args) {
  const auto a = parse(args);
  if (!a) return 2;
  auto graph = runtime::import_onnx_file(a->model);
  if (!graph.ok()) {
    std::fprintf(stderr, "iris profile: %s\n", graph.status().message().c_str());
    return 1;
  }
  runtime::Options options;
  if (Status s = infer::choose_precision(a->model, *graph, a->precision, &options); !s) {
    std::fprintf(stderr, "iris profile: %s\n", s.message().c_str());
    return 1;
  }
  options.threads = a->threads;
  for (int id : graph->inputs) {
    const auto& v = graph->values[id];
    options.input_shapes[v.name] = image_shape(v.shape, a->batch, a->width, a->height);
  }
  const int64_t compile_start = steady_ns();
  auto model = runtime::Model::compile(*graph, options);
  const double compile_ms = ms_since(compile_start);
  if (!model.ok()) {
    std::fprintf(stderr, "iris profile: %s\n", model.status().message().c_str());
    return 1;
  }
  auto context = (*model)->new_context();
  if (!context.ok()) {
    std::fprintf(stderr, "iris profile: %s\n", context.status().message().c_str());
    return 1;
  }
  std::vector<runtime::HostTensor> inputs;
  std::vector<runtime::View> views;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (const auto& spec : (*model)->inputs()) {
    inputs.push_back(runtime::HostTensor::zeros(spec.dtype, spec.shape));
    if (spec.dtype == runtime::DType::kFloat32) {
      for (int64_t i = 0; i < inputs.back().count(); ++i) {
        inputs.back().data<float>()[i] = uniform(rng);
      }
    }
  }
  for (auto& t : inputs) views.push_back(runtime::View::of(t));

  // End-to-end first (no per-layer waits), then per layer.
  std::vector<runtime::HostTensor> outputs;
  std::vector<double> latency;
  for (int i = 0; i < a->warmup + a->repeat; ++i) {
    const int64_t t0 = steady_ns();
    if (Status s = (*context)->run(views, &outputs); !s.ok()) {
      std::fprintf(stderr, "iris profile: %s\n", s.message().c_str());
      return 1;
    }
    if (i >= a->warmup) latency.push_back(ms_since(t0));
  }
  std::sort(latency.begin(), latency.end());
  const auto& layers = (*model)->layers();
  std::vector<double> ms(layers.size(), 0.0);
  (*context)->set_profiling(true);
  for (int i = 0; i < a->warmup + a->repeat; ++i) {
    if (Status s = (*context)->run(views, &outputs); !s.ok()) {
      std::fprintf(stderr, "iris profile: %s\n", s.message().c_str());
      return 1;
    }
    if (i < a->warmup) continue;
    for (size_t k = 0; k < ms.size(); ++k) ms[k] += (*context)->layer_ms()[k] / a->repeat;
  }
  double total = 0, flops = 0;
  std::map<std::string, int> by_precision;  // layers per precision, for the summary
  for (size_t k = 0; k < ms.size(); ++k) {
    total += ms[k];
    flops += layers[k].flops;
    ++by_precision[layers[k].precision];
  }
  const char* precision = runtime::precision_name(options.precision);
  const double p50 = latency[latency.size() / 2];
  const auto gflops = [](double f, double t) { return t > 0 && f > 0 ? f / (t * 1e6) : 0.0; };

  if (a->json) {
    nlohmann::ordered_json j;
    j["model"] = a->model;
    j["precision"] = precision;
    j["threads"] = a->threads;
    j["input_shapes"] = nlohmann::ordered_json::array();
    for (const auto& in : (*model)->inputs()) j["input_shapes"].push_back(in.shape);
    j["compile_ms"] = compile_ms;
    j["latency_p50_ms"] = p50;
    j["layers_total_ms"] = total;
    j["gflop"] = flops / 1e9;
    j["gflop_per_s"] = gflops(flops, p50);
    j["arena_bytes"] = (*model)->arena_bytes();
    j["weight_bytes"] = (*model)->weight_bytes();
    j["repeat"] = a->repeat;
    j["layers"] = nlohmann::ordered_json::array();
    for (size_t k = 0; k < layers.size(); ++k) {
      j["layers"].push_back({{"name", layers[k].name},
                             {"op", layers[k].op},
                             {"kernel", layers[k].kernel},
                             {"precision", layers[k].precision},
                             {"shape", layers[k].shape},
                             {"ms", ms[k]},
                             {"share", total > 0 ? ms[k] / total : 0.0},
                             {"gflop", layers[k].flops / 1e9},
                             {"gflop_per_s", gflops(layers[k].flops, ms[k])}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%-4s %-40s %-22s %-28s %-9s %-18s %9s %6s %8s\n", "#", "layer", "op", "kernel",
              "precision", "output", "ms", "share", "GFLOP/s");
  for (size_t k = 0; k < layers.size(); ++k) {
    std::string name = layers[k].name;
    if (name.size() > 40) name = "..." + name.substr(name.size() - 37);
    const double g = gflops(layers[k].flops, ms[k]);
    std::printf("%-4zu %-40s %-22s %-28s %-9s %-18s %9.4f %5.1f%% %8s\n", k, name.c_str(),
                layers[k].op.c_str(), layers[k].kernel.c_str(), layers[k].precision.c_str(),
                runtime::shape_string(layers[k].shape).c_str(), ms[k],
                total > 0 ? 100 * ms[k] / total : 0.0, g > 0 ? fixed(g, 1).c_str() : "");
  }
  std::printf(
      "\n%zu layers, %.3f GFLOP; layers add up to %.3f ms; end-to-end p50 %.3f ms over %d runs "
      "(%.1f GFLOP/s); compiled in %.1f ms\n",
      layers.size(), flops / 1e9, total, p50, a->repeat, gflops(flops, p50), compile_ms);
  const std::string counts = join(by_precision, ", ", [](const auto& precision_layers) {
    return std::to_string(precision_layers.second) + " " + precision_layers.first;
  });
  std::printf("precision: %s (layers: %s); threads: %s; arena %.2f MiB, weights %.2f MiB\n",
              precision, counts.c_str(),
              a->threads > 0 ? std::to_string(a->threads).c_str() : "OpenMP default",
              (*model)->arena_bytes() / 1048576.0, (*model)->weight_bytes() / 1048576.0);
  return 0;
}

}  // namespace iris::app
