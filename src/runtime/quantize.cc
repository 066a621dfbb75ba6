// Calibration histograms and thresholds, the "iris.quantization" metadata (JSON in the ONNX
// file's metadata_props) and the Calibrator that runs the FP32 model over sample inputs.
#include "runtime/quantize.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/text.h"
#include "runtime/passes.h"

namespace iris::runtime {
namespace {

using nlohmann::json;

constexpr char kRequantizeFix[] =
    "fix: quantize the original model again with `iris quantize`, or re-export it";

// What a Q bin with no mass of its own counts as (in samples): clipping onto an empty level is
// then expensive but finite, so an isolated outlier does not force the threshold out to itself
// (MXNet's entropy calibration smooths empty bins by the same 1e-4).
constexpr double kEmptyMass = 1e-4;

// The JSON form; field names are the struct's.
json to_json(const Quantization& q) {
  json ranges = json::object();
  for (const auto& [name, r] : q.ranges)
    ranges[name] = {{"min", r.min}, {"threshold", r.threshold}};
  return {{"precision", precision_name(q.precision)},
          {"method", calibration_name(q.method)},
          {"percentile", q.percentile},
          {"samples", q.samples},
          {"ranges", std::move(ranges)},
          {"fp32_nodes", q.fp32_nodes},
          {"equalize", q.equalize}};
}

// Why `j` is not a Quantization, or "" with `q` filled. Unknown keys are left for newer versions.
std::string from_json(const json& j, Quantization* q) {
  if (!j.is_object()) return "it is not a JSON object";
  const auto finite = [](const json& v) { return v.is_number() && std::isfinite(v.get<double>()); };
  if (j.contains("precision")) {
    const auto p = j["precision"].is_string() ? parse_precision(j["precision"].get<std::string>())
                                              : std::nullopt;
    if (!p) return "'precision' is not one of \"fp32\", \"bf16\", \"int8\"";
    q->precision = *p;
  }
  if (j.contains("method")) {
    const auto m =
        j["method"].is_string() ? parse_calibration(j["method"].get<std::string>()) : std::nullopt;
    if (!m) return "'method' is not one of \"minmax\", \"percentile\", \"entropy\", \"mse\"";
    q->method = *m;
  }
  if (j.contains("percentile")) {
    const json& p = j["percentile"];
    if (!finite(p) || p.get<double>() <= 0 || p.get<double>() > 100) {
      return "'percentile' is not a number in (0, 100]";
    }
    q->percentile = p.get<float>();
  }
  if (j.contains("samples")) {
    if (!j["samples"].is_number_integer() || j["samples"].get<int64_t>() < 0 ||
        j["samples"].get<int64_t>() > std::numeric_limits<int>::max()) {
      return "'samples' is not a count";
    }
    q->samples = j["samples"].get<int>();
  }
  if (j.contains("ranges")) {
    if (!j["ranges"].is_object()) return "'ranges' is not an object";
    for (const auto& [name, r] : j["ranges"].items()) {
      if (!r.is_object() || !r.contains("min") || !r.contains("threshold") || !finite(r["min"]) ||
          !finite(r["threshold"]) || r["threshold"].get<double>() < 0) {
        return "range '" + name + "' is not {\"min\": number, \"threshold\": number >= 0}";
      }
      q->ranges[name] = {r["min"].get<float>(), r["threshold"].get<float>()};
    }
  }
  if (j.contains("fp32_nodes")) {
    if (!j["fp32_nodes"].is_array()) return "'fp32_nodes' is not a list of node names";
    for (const json& n : j["fp32_nodes"]) {
      if (!n.is_string()) return "'fp32_nodes' is not a list of node names";
      q->fp32_nodes.insert(n.get<std::string>());
    }
  }
  if (j.contains("equalize")) {
    if (!j["equalize"].is_object()) return "'equalize' is not an object";
    for (const auto& [name, scales] : j["equalize"].items()) {
      std::vector<float>& out = q->equalize[name];
      for (const json& v : scales.is_array() ? scales : json::array({nullptr})) {
        if (!finite(v) || v.get<double>() <= 0) {
          return "equalize '" + name + "' is not a list of positive numbers";
        }
        out.push_back(v.get<float>());
      }
    }
  }
  return "";
}

}  // namespace

const char* calibration_name(Calibration c) { return name_of(kCalibrationNames, c); }

std::optional<Calibration> parse_calibration(std::string_view name) {
  return enum_of<Calibration>(kCalibrationNames, name);
}

void Histogram::add(const float* x, size_t n) {
  float lo = std::numeric_limits<float>::infinity(), hi = 0;
  int64_t finite = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) continue;
    lo = std::min(lo, x[i]);
    hi = std::max(hi, std::fabs(x[i]));
    ++finite;
    zeros_ += x[i] == 0;
  }
  if (finite == 0) return;
  min_ = count_ ? std::min(min_, lo) : lo;
  count_ += finite;
  max_abs_ = std::max(max_abs_, hi);
  // A power-of-two range keeps kBins / range_ exact, so a bin pair merged by doubling holds
  // exactly what the wider bin would have counted.
  if (range_ == 0 && max_abs_ > 0) range_ = std::ldexp(1.0f, std::ilogb(max_abs_) + 1);
  while (range_ > 0 && max_abs_ >= range_) {
    for (int i = 0; i < kBins / 2; ++i) bins_[i] = bins_[2 * i] + bins_[2 * i + 1];
    std::fill(bins_.begin() + kBins / 2, bins_.end(), 0);
    range_ *= 2;
  }
  const float scale = range_ > 0 ? kBins / range_ : 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) continue;
    ++bins_[std::min(static_cast<int>(std::fabs(x[i]) * scale), kBins - 1)];
  }
}

float Histogram::threshold(Calibration method, float percentile) const {
  if (max_abs_ == 0) return 0;
  const float width = range_ / kBins;
  switch (method) {
    case Calibration::kMinMax:
      return max_abs_;
    case Calibration::kPercentile: {
      const double target =
          static_cast<double>(count_) * std::clamp(percentile, 0.0f, 100.0f) / 100;
      int64_t seen = 0;
      for (int i = 0; i < kBins; ++i) {
        seen += bins_[i];
        if (seen >= target) return std::min((i + 1) * width, max_abs_);
      }
      return max_abs_;
    }
    case Calibration::kEntropy:
      return entropy_threshold();
    case Calibration::kMse:
      break;
  }
  return mse_threshold();
}

// The threshold t (a bin's upper edge) minimising the squared error of quantizing the histogram's
// magnitudes: values up to t round to a grid of t / levels (error step^2 / 12 each, exact zeros
// none), values past it saturate to t (error (x - t)^2, x at its bin's centre). Unlike minmax a
// rare outlier does not coarsen every step; unlike entropy, clipping large values costs what
// they lose. Suffix sums make each candidate O(1).
float Histogram::mse_threshold() const {
  const int levels = min_ >= 0 ? 255 : 127;
  const double width = range_ / kBins;
  int top = kBins;
  while (top > 1 && bins_[top - 1] == 0) --top;
  // Over bins i and up: count, sum of centres, sum of squared centres.
  std::vector<double> n(kBins + 1, 0), sx(kBins + 1, 0), sxx(kBins + 1, 0);
  for (int i = kBins; i-- > 0;) {
    const double c = (i + 0.5) * width, k = static_cast<double>(bins_[i]);
    n[i] = n[i + 1] + k;
    sx[i] = sx[i + 1] + k * c;
    sxx[i] = sxx[i + 1] + k * c * c;
  }
  double best_error = std::numeric_limits<double>::infinity();
  int best = top;
  for (int i = 1; i <= top; ++i) {
    const double t = i * width, step = t / levels;
    const double kept = n[0] - n[i] - static_cast<double>(zeros_);
    const double error =
        kept * step * step / 12 + (sxx[i] - 2 * t * sx[i] + t * t * n[i]);  // sum (x - t)^2
    if (error < best_error) {
      best_error = error;
      best = i;
    }
  }
  return std::min(static_cast<float>(best * width), max_abs_);
}

// TensorRT's entropy calibration (Migacz, "8-bit Inference with TensorRT", GTC 2017). For a
// candidate threshold of i bins, the reference P is bins 0..i-1 with the clipped mass added to
// the last (values past the threshold saturate to it); the candidate Q merges the unclipped bins
// 0..i-1 into as many levels as the quantized type has and spreads each level's mass evenly over
// its bins where P is non-zero. The threshold is the upper edge of the i with the least
// KL(P || Q): more bins cost resolution, fewer cost clipping. Levels: 128 magnitudes for signed
// data; 256 for data never below 0, which INT8 layers quantize unsigned (Range in model.h).
// Exact zeros are left out: every threshold quantizes them exactly, and Relu's half of the data
// at 0, spread over level 0's bins, would make every wide level look lossy.
float Histogram::entropy_threshold() const {
  const int levels = min_ >= 0 ? 256 : 128;
  const auto bin = [&](int j) { return bins_[j] - (j == 0 ? zeros_ : 0); };
  const int64_t total = count_ - zeros_;
  int top = kBins;  // candidates past the last non-empty bin clip nothing and only lose resolution
  while (top > 1 && bins_[top - 1] == 0) --top;
  if (top <= levels) return max_abs_;  // the histogram is no finer than the quantization
  std::vector<double> mass(levels);
  std::vector<int> nonzero(levels);
  double best_kl = std::numeric_limits<double>::infinity();
  int best = top;
  int64_t kept = 0;
  for (int i = 0; i < levels - 1; ++i) kept += bin(i);
  for (int i = levels; i <= top; ++i) {
    kept += bin(i - 1);
    const int64_t clipped = total - kept;
    if (kept == 0) continue;
    std::fill(mass.begin(), mass.end(), 0.0);
    std::fill(nonzero.begin(), nonzero.end(), 0);
    const auto level = [&](int j) { return static_cast<int>(int64_t{j} * levels / i); };
    const auto p_of = [&](int j) { return bin(j) + (j == i - 1 ? clipped : 0); };
    for (int j = 0; j < i; ++j) {
      mass[level(j)] += bin(j);
      nonzero[level(j)] += p_of(j) > 0;
    }
    double kl = 0;
    for (int j = 0; j < i; ++j) {
      const int64_t p = p_of(j);
      if (p == 0) continue;
      const int l = level(j);
      const double pn = static_cast<double>(p) / total;
      const double qn = std::max(mass[l] / nonzero[l], kEmptyMass) / kept;
      kl += pn * std::log(pn / qn);
    }
    if (kl < best_kl) {
      best_kl = kl;
      best = i;
    }
  }
  return std::min(best * (range_ / kBins), max_abs_);
}

Result<std::optional<Quantization>> quantization_of(const Graph& g) {
  const auto it = g.metadata.find(kQuantizationKey);
  if (it == g.metadata.end()) return std::optional<Quantization>();
  const std::string where = g.label + ": metadata '" + kQuantizationKey + "' is malformed (";
  Quantization q;
  std::string why;
  try {
    why = from_json(json::parse(it->second), &q);
  } catch (const json::exception& e) {
    why = std::string("not JSON: ") + e.what();
  }
  if (!why.empty()) return Status::error(where + why + "); " + kRequantizeFix);
  return std::optional<Quantization>(std::move(q));
}

Status write_quantized_model(const std::string& source_onnx, const std::string& dest,
                             const Quantization& q) {
  const std::string label = "model '" + source_onnx + "'";
  auto bytes = read_file(source_onnx);
  if (!bytes.ok()) {
    return Status::error(label + " could not be read (" + bytes.status().message() +
                         "); fix: check the model's path");
  }
  onnx::ModelProto m;
  if (bytes->empty() || bytes->size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !m.ParseFromArray(bytes->data(), static_cast<int>(bytes->size())) || !m.has_graph()) {
    return Status::error(label +
                         " is not an ONNX model; fix: point the model's path at an .onnx file");
  }
  auto* props = m.mutable_metadata_props();
  const auto old = std::find_if(props->begin(), props->end(),
                                [](const auto& p) { return p.key() == kQuantizationKey; });
  auto* entry = old != props->end() ? &*old : m.add_metadata_props();
  entry->set_key(kQuantizationKey);
  entry->set_value(to_json(q).dump());
  std::string out;
  if (!m.SerializeToString(&out)) {
    return Status::error(label +
                         " could not be serialized with its quantization; fix: report the model");
  }
  if (Status s = replace_file(dest, out); !s) {
    return Status::error("cannot write the quantized model '" + dest + "' (" + s.message() +
                         "); fix: choose a writable path with free space");
  }
  return {};
}

namespace {

// `g` folded and fused for `input_shapes`, as Model::compile sees it.
Result<Graph> fused(const Graph& g, const std::map<std::string, Shape>& input_shapes) {
  Graph f = g;
  if (Status s = prepare(f, input_shapes); !s.ok()) return s;
  return f;
}

// A Conv or ConvTranspose whose weights are known at load: what reduced precision can run.
bool constant_weights(const Graph& f, const Node& n) {
  return (n.op == "Conv" || n.op == "ConvTranspose") && n.input(0) >= 0 && n.input(1) >= 0 &&
         f.values[n.input(1)].constant && !n.outputs.empty();
}

// The values Options::equalize may scale, each with its readers' largest weight magnitude per
// input channel: a Conv writes it with at most a Relu fused (so scaling commutes with the
// activation), and only dense Convs read it, as their data.
std::map<std::string, std::vector<float>> equalizable(const Graph& f) {
  std::vector<std::vector<const Node*>> readers(f.values.size());
  for (const Node& n : f.nodes) {
    for (int id : n.inputs) {
      if (id >= 0) readers[id].push_back(&n);
    }
  }
  for (int id : f.outputs) readers[id].push_back(nullptr);
  std::map<std::string, std::vector<float>> out;
  for (const Node& p : f.nodes) {
    if (p.op != "Conv" || !constant_weights(f, p)) continue;
    const bool homogeneous =
        p.post_ops.empty() ||
        (p.post_ops.size() == 1 && p.post_ops[0].kind == PostOp::kActivation &&
         p.post_ops[0].activation.act == Act::kRelu && p.post_ops[0].activation.alpha == 0);
    const int v = p.outputs[0];
    const auto& rs = readers[v];
    const bool only_convs = !rs.empty() && std::all_of(rs.begin(), rs.end(), [&](const Node* r) {
      return r && r->op == "Conv" && constant_weights(f, *r) && r->attr_int("group", 1) == 1 &&
             r->inputs[0] == v && std::count(r->inputs.begin(), r->inputs.end(), v) == 1;
    });
    if (!homogeneous || !only_convs) continue;
    const int64_t channels = f.values[v].shape.size() > 1 ? f.values[v].shape[1] : 0;
    std::vector<float> w_max(channels, 0.0f);
    for (const Node* r : rs) {
      const HostTensor& w = *f.values[r->inputs[1]].constant;
      const int64_t oc = w.shape[0], k = w.count() / (oc * channels);
      for (int64_t o = 0; o < oc; ++o) {
        for (int64_t c = 0; c < channels; ++c) {
          for (int64_t j = 0; j < k; ++j) {
            w_max[c] = std::max(w_max[c], std::abs(w.data<float>()[(o * channels + c) * k + j]));
          }
        }
      }
    }
    out[f.values[v].name] = std::move(w_max);
  }
  return out;
}

}  // namespace

Result<std::vector<ConvSite>> conv_sites(const Graph& g,
                                         const std::map<std::string, Shape>& input_shapes) {
  auto f = fused(g, input_shapes);
  if (!f.ok()) return f.status();
  return conv_sites(*f);
}

std::vector<ConvSite> conv_sites(const Graph& f) {
  std::vector<ConvSite> sites;
  for (const Node& n : f.nodes) {
    if (!constant_weights(f, n)) continue;
    sites.push_back({f.layer_name(n), f.values[n.inputs[0]].name, f.values[n.outputs[0]].name});
  }
  return sites;
}

Result<Calibrator> Calibrator::create(const Graph& g, Options options) {
  auto f = fused(g, options.input_shapes);
  if (!f.ok()) return f.status();
  options.precision = Precision::kFloat32;
  options.ranges.clear();
  options.fp32_nodes.clear();
  options.extra_outputs.clear();
  Calibrator c;
  c.weight_max_ = equalizable(*f);
  // Graph inputs are read from the caller's tensors (Model::inputs() are g.inputs in order),
  // sparing a copy through the outputs.
  std::map<std::string, size_t> inputs;
  for (size_t i = 0; i < g.inputs.size(); ++i) inputs[g.values[g.inputs[i]].name] = i;
  for (const ConvSite& s : conv_sites(*f)) {
    if (!c.histograms_.try_emplace(s.input).second) continue;
    const auto in = inputs.find(s.input);
    if (in != inputs.end()) {
      c.sources_.push_back({s.input, true, in->second});
    } else {
      c.sources_.push_back({s.input, false, options.extra_outputs.size()});
      options.extra_outputs.push_back(s.input);
    }
  }
  auto model = Model::compile(g, options);
  if (!model.ok()) return model.status();
  const size_t own = (*model)->outputs().size() - options.extra_outputs.size();
  for (Source& s : c.sources_) {
    if (!s.is_input) s.index += own;
  }
  auto context = (*model)->new_context();  // keeps the model alive
  if (!context.ok()) return context.status();
  c.context_ = std::move(*context);
  return c;
}

Status Calibrator::add(const std::vector<View>& inputs) {
  if (Status s = context_->run(inputs, &outputs_); !s.ok()) return s;
  for (const Source& s : sources_) {
    const View v = s.is_input ? inputs[s.index] : View::of(outputs_[s.index]);
    histograms_[s.name].add(v.as<float>(), static_cast<size_t>(v.count()));
    if (!weight_max_.count(s.name)) continue;
    // Dense [N, C, ...]: the largest magnitude of each channel.
    std::vector<float>& m = channel_max_[s.name];
    const int64_t channels = v.shape[1], inner = v.count() / (v.shape[0] * channels);
    m.resize(channels, 0.0f);
    const float* x = v.as<float>();
    for (int64_t i = 0; i < v.count(); ++i) {
      float& c = m[(i / inner) % channels];
      c = std::max(c, std::abs(x[i]));
    }
  }
  ++samples_;
  return {};
}

std::map<std::string, Range> Calibrator::ranges(Calibration method, float percentile) const {
  std::map<std::string, Range> out;
  for (const auto& [name, h] : histograms_) {
    if (h.count() > 0) out[name] = {h.min(), h.threshold(method, percentile)};
  }
  return out;
}

std::map<std::string, std::vector<float>> Calibrator::equalization() const {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, activations] : channel_max_) {
    const std::vector<float>& weights = weight_max_.at(name);
    std::vector<float> scales(activations.size(), 1.0f);
    for (size_t c = 0; c < scales.size(); ++c) {
      // Channel c's activations shrink by s and its weights grow by s, so both end up with
      // range sqrt(a w): the quantization difficulty split evenly (SmoothQuant's alpha 0.5).
      if (activations[c] > 0 && weights[c] > 0) scales[c] = std::sqrt(activations[c] / weights[c]);
    }
    out[name] = std::move(scales);
  }
  return out;
}

}  // namespace iris::runtime
