// iris quantize: post-training INT8 calibration of a model for the iris runtime. Runs sample
// pictures through the FP32 model, takes each Conv input's range (minmax, percentile, entropy or
// mse), measures the INT8 model against FP32 layer by layer, moves the layers that cost the most
// accuracy back to FP32 until the outputs agree, and writes a calibrated copy of the model.
#include "runtime/quantize.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "apps/iris/commands.h"
#include "core/clock.h"
#include "core/text.h"
#include "infer/model_spec.h"
#include "infer/preprocess.h"
#include "pipeline/config.h"
#include "runtime/fidelity.h"

namespace iris::app {

const char kQuantizeUsage[] =
    "usage: iris quantize MODEL --calib PATH --out FILE [--config CONFIG] [--method M]\n"
    "                     [--percentile P] [--samples N] [--check N] [--fp32 NODES]\n"
    "                     [--min-cosine C] [--max-fallback N] [--equalize on|off]\n"
    "                     [--threads N] [--json]\n\n"
    "Calibrates MODEL (an .onnx file, or with --config the name of one of its models) for INT8\n"
    "on the iris runtime and writes FILE: the same model with the calibration stored in its\n"
    "metadata, which `backend: iris` then runs in INT8 (docs/runtime.md).\n\n"
    "1. Pictures from PATH (a directory of images, or frames spread over a video file) are\n"
    "   preprocessed as the model's config says (without --config: RGB, pixels / 255,\n"
    "   letterboxed to the model's input size, NHWC when its last axis has 3 channels, else\n"
    "   NCHW) and run through the FP32 model; the range of\n"
    "   every convolution's input is measured.\n"
    "2. The INT8 model and the FP32 model run on --check of those pictures; per layer, the\n"
    "   relative error and cosine similarity of its input and output to FP32 are measured.\n"
    "3. While some model output's cosine similarity to FP32 is below --min-cosine, the layer\n"
    "   that adds the most error is tried in FP32, and kept there if the outputs got closer\n"
    "   (at most --max-fallback tries).\n\n"
    "options:\n"
    "  --calib PATH       calibration pictures: a directory of .jpg/.png/.bmp or a video file\n"
    "  --out FILE         where the calibrated model goes (may be MODEL itself)\n"
    "  --config CONFIG    a pipeline config whose model MODEL (by name or path) gives the\n"
    "                     preprocessing\n"
    "  --method M         mse (default), minmax, percentile or entropy: how a range's\n"
    "                     threshold is chosen from its histogram (docs/runtime.md compares them)\n"
    "  --percentile P     for --method percentile: the share of magnitudes kept (default 99.99)\n"
    "  --samples N        calibration pictures used, at most (default 100)\n"
    "  --check N          pictures the per-layer comparison runs on (default 8)\n"
    "  --fp32 NODES       comma-separated layers kept FP32 from the start (names as `iris\n"
    "                     profile` prints them)\n"
    "  --min-cosine C     the outputs' cosine similarity to FP32 to reach (default 0.999)\n"
    "  --max-fallback N   layers tried in FP32 at most (default 8; 0: none)\n"
    "  --equalize on|off  cross-layer equalization (default on): where a Conv's output feeds\n"
    "                     only dense Convs, its channels are rescaled (exactly, in FP32) so that\n"
    "                     one INT8 step suits them all; the calibration then runs again\n"
    "  --threads N        OpenMP threads (default: one per core)\n"
    "  --json             one JSON document instead of the tables\n\n"
    "Progress goes to stderr. Exit status: 0 when FILE was written, 1 when loading, running or\n"
    "writing failed, 2 for bad arguments.\n";

namespace {

struct QuantizeArgs {
  std::string model, calib, out, config;
  runtime::Calibration method = runtime::Calibration::kMse;
  float percentile = runtime::kDefaultPercentile;
  int samples = 100;
  int check = 8;
  std::set<std::string> fp32_nodes;
  double min_cosine = 0.999;
  int max_fallback = 8;
  bool equalize = true;
  int threads = 0;
  bool json = false;
};

std::optional<QuantizeArgs> parse(const Args& args) {
  QuantizeArgs a;
  const auto option = [&a](const std::string& flag,
                           const std::string& value) -> std::optional<std::string> {
    if (flag == "--calib" || flag == "--out" || flag == "--config") {
      (flag == "--calib" ? a.calib : flag == "--out" ? a.out : a.config) = value;
      return value.empty() ? "path" : "";
    }
    if (flag == "--method") {
      const auto m = runtime::parse_calibration(value);
      if (m) a.method = *m;
      return m ? "" : "minmax, percentile, entropy or mse";
    }
    if (flag == "--percentile" || flag == "--min-cosine") {
      double v = 0;
      const bool pct = flag == "--percentile";
      if (parse_finite(value, &v) && v > 0 && v <= (pct ? 100 : 1)) {
        if (pct)
          a.percentile = static_cast<float>(v);
        else
          a.min_cosine = v;
        return "";
      }
      return pct ? "percentage above 0, at most 100, such as 99.99"
                 : "number above 0, at most 1, such as 0.999";
    }
    if (flag == "--equalize") {
      a.equalize = value == "on";
      return value == "on" || value == "off" ? "" : "on or off";
    }
    if (flag == "--fp32") {
      for (std::string_view n : split_fields(value)) {
        if (!n.empty()) a.fp32_nodes.emplace(n);
      }
      return a.fp32_nodes.empty() ? "comma-separated layer names" : "";
    }
    int* number = flag == "--samples"        ? &a.samples
                  : flag == "--check"        ? &a.check
                  : flag == "--max-fallback" ? &a.max_fallback
                  : flag == "--threads"      ? &a.threads
                                             : nullptr;
    if (!number) return std::nullopt;
    const int lo = flag == "--max-fallback" ? 0 : 1;
    const int hi = flag == "--threads" ? 256 : 100000;
    if (const auto v = int_in_range(value, lo, hi)) {
      *number = *v;
      return "";
    }
    return "whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
  };
  if (!read_options("iris quantize", kQuantizeUsage, args, &a.model, &a.json, option)) {
    return std::nullopt;
  }
  for (const auto& [what, value] :
       {std::pair{"MODEL", &a.model}, {"--calib PATH", &a.calib}, {"--out FILE", &a.out}}) {
    if (value->empty()) {
      std::fprintf(stderr, "iris quantize: needs %s\n\n%s", what, kQuantizeUsage);
      return std::nullopt;
    }
  }
  return a;
}

// The model's spec, for its preprocessing: from the config (by name or path), or the defaults for
// a bare file.
Result<infer::ModelSpec> model_spec(const QuantizeArgs& a) {
  if (a.config.empty()) return infer::ModelSpec{.name = a.model, .path = a.model};
  auto config = pipeline::load_config(a.config, pipeline::Needs::kStreamsOrModels);
  if (!config.ok()) return config.status();
  const auto found = std::ranges::find_if(config->models, [&a](const infer::ModelSpec& m) {
    return m.name == a.model || m.path == a.model;
  });
  if (found == config->models.end()) {
    const std::string names =
        join(config->models, ", ", [](const infer::ModelSpec& m) { return m.name; });
    return Status::error("config '" + a.config + "' has no model named '" + a.model +
                         "' (it has: " + (names.empty() ? "none" : names) +
                         "); fix: name one of them, or its path");
  }
  return *found;
}

// The input size preprocessing needs, from the model's one image input where the spec leaves it
// (and, for a bare file, the layout).
Status resolve_input_size(const runtime::Graph& g, bool from_config, infer::ModelSpec* spec) {
  const std::string where = "model '" + spec->path + "'";
  if (g.inputs.size() != 1 || g.values[g.inputs[0]].shape.size() != 4) {
    return Status::error(where + " does not take one image (a 4-D input); iris quantize " +
                         "calibrates models with one image input");
  }
  const auto& shape = g.values[g.inputs[0]].shape;
  if (!from_config) {  // a bare file: its shape says where the channels are
    spec->layout = image_axes(shape).c == 3 ? infer::Layout::kNHWC : infer::Layout::kNCHW;
  }
  const bool nchw = spec->layout == infer::Layout::kNCHW;
  if (spec->input_width <= 0) spec->input_width = static_cast<int>(shape[nchw ? 3 : 2]);
  if (spec->input_height <= 0) spec->input_height = static_cast<int>(shape[nchw ? 2 : 1]);
  if (spec->input_width <= 0 || spec->input_height <= 0) {
    return Status::error(where + " leaves its image size free; fix: give --config with a " +
                         "model entry that sets input_size");
  }
  return {};
}

void report_step(const runtime::FallbackStep& step) {
  if (step.node.empty()) {
    std::fprintf(stderr, "iris quantize: INT8 outputs' cosine similarity to FP32: %.6f\n",
                 step.min_cosine);
  } else {
    std::fprintf(stderr, "iris quantize: %s in FP32: %.6f (%s)\n", step.node.c_str(),
                 step.min_cosine, step.kept ? "kept" : "no better, back to INT8");
  }
}

nlohmann::ordered_json value_json(const runtime::ValueFidelity& v) {
  return {
      {"value", v.value}, {"rel_error", rounded(v.rel_error, 6)}, {"cosine", rounded(v.cosine, 6)}};
}

void print_report(const QuantizeArgs& a, const runtime::Quantization& q, const runtime::Fidelity& f,
                  double seconds) {
  if (a.json) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["out"] = a.out;
    j["precision"] = runtime::precision_name(q.precision);
    j["method"] = runtime::calibration_name(q.method);
    if (q.method == runtime::Calibration::kPercentile) j["percentile"] = q.percentile;
    j["samples"] = q.samples;
    j["check_samples"] = f.samples;
    j["fp32_nodes"] = q.fp32_nodes;
    j["outputs"] = nlohmann::ordered_json::array();
    for (const auto& v : f.outputs) j["outputs"].push_back(value_json(v));
    j["layers"] = nlohmann::ordered_json::array();
    for (const auto& l : f.layers) {
      j["layers"].push_back({{"name", l.site.node},
                             {"precision", l.precision},
                             {"input", value_json(l.input)},
                             {"output", value_json(l.output)},
                             {"added_error", rounded(l.added_error(), 6)}});
    }
    j["seconds"] = rounded(seconds, 2);
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t k = 0; k < f.layers.size(); ++k) {
    const auto& l = f.layers[k];
    rows.push_back({std::to_string(k), l.site.node, l.precision, fixed(l.output.rel_error, 4),
                    fixed(l.output.cosine, 6), fixed(l.added_error(), 4)});
  }
  print_markdown_table({"#", "layer", "precision", "rel error", "cosine", "added"}, rows, 3);
  std::printf("\n");
  rows.clear();
  for (const auto& v : f.outputs) {
    rows.push_back({v.value, fixed(v.rel_error, 4), fixed(v.cosine, 6)});
  }
  print_markdown_table({"output", "rel error", "cosine"}, rows, 1);
  const std::string fallback = join(q.fp32_nodes);
  std::printf(
      "\n%s calibration on %d pictures, compared on %d; layers kept FP32: %s\nwrote %s in %.1f "
      "s\n",
      runtime::calibration_name(q.method), q.samples, f.samples,
      fallback.empty() ? "none" : fallback.c_str(), a.out.c_str(), seconds);
}

int fail(const Status& s) {
  std::fprintf(stderr, "iris quantize: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int quantize_main(const Args& args) {
  const auto a = parse(args);
  if (!a) return 2;
  const int64_t start = steady_ns();
  auto spec = model_spec(*a);
  if (!spec.ok()) return fail(spec.status());
  auto graph = runtime::import_onnx_file(spec->path);
  if (!graph.ok()) return fail(graph.status());
  if (Status s = resolve_input_size(*graph, !a->config.empty(), &*spec); !s) return fail(s);

  std::error_code ec;
  const bool dir = std::filesystem::is_directory(a->calib, ec);
  auto pictures = choose_pictures(dir ? a->calib : "", dir ? "" : a->calib, a->samples);
  if (!pictures.ok()) return fail(pictures.status().with_context("--calib"));
  std::vector<infer::Tensor> tensors;  // preprocessed once, run in every pass
  const Status read = for_each_picture(
      *pictures, [&](const std::string& name, int64_t, const cv::Mat& bgr) -> Status {
        auto sample = infer::preprocess(bgr, *spec);
        if (!sample.ok()) return sample.status().with_context(name);
        tensors.push_back(std::move(sample->tensor));
        return {};
      });
  if (!read.ok()) return fail(read.with_context("--calib"));
  const auto view = [&](size_t i) {
    return std::vector<runtime::View>{
        {runtime::DType::kFloat32, tensors[i].shape, tensors[i].data.data()}};
  };

  runtime::Options fp32;
  fp32.threads = a->threads;
  fp32.input_shapes[graph->values[graph->inputs[0]].name] = tensors[0].shape;
  // Pass 1 measures every value; with equalization, pass 2 measures the equalized model (when
  // some value can be equalized: otherwise it is the same model).
  std::optional<runtime::Calibrator> calibrator;
  runtime::Options calibrated = fp32;
  for (int pass = 1; pass == 1 || (pass == 2 && !calibrated.equalize.empty()); ++pass) {
    auto c = runtime::Calibrator::create(*graph, calibrated);
    if (!c.ok()) return fail(c.status());
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (Status s = c->add(view(i)); !s.ok()) return fail(s);
      if ((i + 1) % 10 == 0 || i + 1 == tensors.size()) {
        std::fprintf(stderr, "\riris quantize: calibrating%s %zu/%zu", pass == 2 ? " again" : "",
                     i + 1, tensors.size());
      }
    }
    std::fprintf(stderr, "\n");
    if (pass == 1 && a->equalize) calibrated.equalize = c->equalization();
    calibrator = std::move(*c);
  }

  runtime::Quantization q{.method = a->method,
                          .percentile = a->percentile,
                          .samples = calibrator->samples(),
                          .ranges = calibrator->ranges(a->method, a->percentile),
                          .fp32_nodes = a->fp32_nodes,
                          .equalize = calibrated.equalize};
  runtime::Options int8 = calibrated;
  int8.precision = runtime::Precision::kInt8;
  int8.ranges = q.ranges;
  std::vector<std::vector<runtime::View>> check;
  const size_t n = std::min<size_t>(a->check, tensors.size());
  for (size_t k = 0; k < n; ++k) check.push_back(view(k * tensors.size() / n));
  auto fidelity = runtime::choose_fallback(*graph, fp32, int8, check, a->min_cosine,
                                           a->max_fallback, &q.fp32_nodes, report_step);
  if (!fidelity.ok()) return fail(fidelity.status());
  if (fidelity->min_output_cosine() < a->min_cosine) {
    std::fprintf(stderr,
                 "iris quantize: warning: the outputs' cosine similarity to FP32 is %.6f after "
                 "%zu layers moved to FP32, below --min-cosine %g; raise --max-fallback, try "
                 "another --method, or calibrate on more pictures like the deployment's\n",
                 fidelity->min_output_cosine(), q.fp32_nodes.size(), a->min_cosine);
  }
  if (Status s = runtime::write_quantized_model(spec->path, a->out, q); !s) return fail(s);
  print_report(*a, q, *fidelity, (steady_ns() - start) / 1e9);
  return 0;
}

}  // namespace iris::app
