#include "runtime/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/text.h"

namespace iris::runtime {

// ---- Operands ----

Status Operands::error(const std::string& what) const { return Status::error(where + ": " + what); }

namespace {

Status unknown_input(const Operands& a, size_t i, const char* what) {
  if (!a.has(i)) return a.error("needs its input " + std::string(what));
  return a.error("its input " + std::string(what) +
                 " must be known when the model loads (a constant, or computed from shapes), "
                 "but it depends on the image; fix: export the model with that value fixed");
}

}  // namespace

Result<std::vector<int64_t>> Operands::ints(size_t i, const char* what) const {
  if (!known(i)) return unknown_input(*this, i, what);
  return in[i].values<int64_t>();
}

Result<std::vector<float>> Operands::floats(size_t i, const char* what) const {
  if (!known(i)) return unknown_input(*this, i, what);
  return in[i].values<float>();
}

Result<int> Operands::axis(int64_t axis, size_t rank) const {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= std::max<int64_t>(r, 1)) {
    return error("axis " + std::to_string(axis) + " is out of range for rank " +
                 std::to_string(rank));
  }
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

Operands operands_at_load(const Graph& g, const Node& n) {
  Operands a{.node = n, .where = g.describe(n)};
  for (int id : n.inputs) {
    a.present.push_back(id >= 0);
    if (id < 0) {
      a.in.emplace_back();
      continue;
    }
    const Value& v = g.values[id];
    a.in.push_back(v.constant ? View::of(*v.constant) : View{v.dtype, v.shape, nullptr});
  }
  return a;
}

// ---- registry ----

const OpDef* find_op(std::string_view op) {
  for (const OpDef* table : {kElementwiseOps, kShapeOps, kNnOps}) {
    for (const OpDef* d = table; d->op; ++d) {
      if (op == d->op) return d;
    }
  }
  return nullptr;
}

std::vector<std::string> supported_ops() {
  // Constant and Upsample are rewritten by the importer and have no table entry.
  std::set<std::string> ops{"Constant", "Upsample"};
  for (const OpDef* table : {kElementwiseOps, kShapeOps, kNnOps}) {
    for (const OpDef* d = table; d->op; ++d) {
      ops.insert(d->op);
    }
  }
  return {ops.begin(), ops.end()};
}

// ---- broadcasting ----

std::optional<Shape> broadcast_shapes(const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const auto& s : shapes) {
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[rank - s.size() + i];
      const int64_t d = s[i];
      if (d == o || d == 1) continue;
      if (o != 1) return std::nullopt;
      o = d;
    }
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    const size_t o = out.size() - shape.size() + i;
    strides[o] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

// ---- activations ----

std::optional<Activation> activation_of(const Operands& a) {
  const Node& n = a.node;
  const std::string& op = n.op;
  const auto act = [](Act k, float alpha = 0, float beta = 0) {
    return std::optional<Activation>(Activation{k, alpha, beta});
  };
  if (op == "Relu") return act(Act::kRelu);
  if (op == "LeakyRelu") return act(Act::kRelu, n.attr_float("alpha", 0.01f));
  if (op == "Sigmoid") return act(Act::kSigmoid);
  if (op == "Swish") return act(Act::kSwish, 1.0f);
  if (op == "HardSwish") return act(Act::kHardSwish);
  if (op == "HardSigmoid") {
    return act(Act::kHardSigmoid, n.attr_float("alpha", 0.2f), n.attr_float("beta", 0.5f));
  }
  if (op == "Tanh") return act(Act::kTanh);
  if (op == "Softplus") return act(Act::kSoftplus);
  if (op == "Elu") return act(Act::kElu, n.attr_float("alpha", 1.0f));
  if (op == "Exp") return act(Act::kExp);
  if (op == "Log") return act(Act::kLog);
  if (op == "Sqrt") return act(Act::kSqrt);
  if (op == "Abs") return act(Act::kAbs);
  if (op == "Neg") return act(Act::kNeg);
  if (op == "Clip") {
    float lo = -std::numeric_limits<float>::infinity(), hi = -lo;
    if (a.has(1)) {
      if (!a.known(1) || a.in[1].count() != 1) return std::nullopt;
      lo = a.floats(1, "min").value()[0];
    }
    if (a.has(2)) {
      if (!a.known(2) || a.in[2].count() != 1) return std::nullopt;
      hi = a.floats(2, "max").value()[0];
    }
    return act(Act::kClip, lo, hi);
  }
  // x op c with a known scalar c, where the output keeps x's shape.
  const bool scalar_rhs = a.size() == 2 && a.known(1) && !a.known(0) && a.in[1].count() == 1 &&
                          a.in[1].shape.size() <= a.in[0].shape.size();
  if (!scalar_rhs) return std::nullopt;
  const float c = a.floats(1, "operand").value()[0];
  if (op == "Add") return act(Act::kLinear, 1.0f, c);
  if (op == "Sub") return act(Act::kLinear, 1.0f, -c);
  if (op == "Mul") return act(Act::kLinear, c, 0.0f);
  if (op == "Div" && c != 0) return act(Act::kLinear, 1.0f / c, 0.0f);
  if (op == "Pow") return act(Act::kPow, c);
  return std::nullopt;
}

float apply_activation(const Activation& a, float x) {
  switch (a.act) {
    case Act::kRelu:
      return x > 0 ? x : x * a.alpha;
    case Act::kSigmoid:
      return 1.0f / (1.0f + std::exp(-x));
    case Act::kSwish:
      return x / (1.0f + std::exp(-a.alpha * x));
    case Act::kHardSwish:
      return x * std::clamp(x + 3.0f, 0.0f, 6.0f) / 6.0f;
    case Act::kHardSigmoid:
      return std::clamp(a.alpha * x + a.beta, 0.0f, 1.0f);
    case Act::kClip:
      return std::min(std::max(x, a.alpha), a.beta);
    case Act::kTanh:
      return std::tanh(x);
    case Act::kSoftplus:
      return x > 20 ? x : std::log1p(std::exp(x));
    case Act::kElu:
      return x > 0 ? x : a.alpha * (std::exp(x) - 1.0f);
    case Act::kExp:
      return std::exp(x);
    case Act::kLog:
      return std::log(x);
    case Act::kSqrt:
      return std::sqrt(x);
    case Act::kAbs:
      return std::fabs(x);
    case Act::kNeg:
      return -x;
    case Act::kLinear:
      return a.alpha * x + a.beta;
    case Act::kPow:
      return std::pow(x, a.alpha);
  }
  return x;
}

// ---- windows ----

namespace {

// The window attributes Conv, pooling and ConvTranspose share, checked against input `x`; `out`
// is left for the caller.
Result<Window> window_attrs(const Operands& a, const Shape& x, const std::vector<int64_t>& kernel) {
  if (x.size() < 3) {
    return a.error("needs an input of rank 3 or more ([N, C, spatial...]), got " + shape_string(x));
  }
  const size_t spatial = x.size() - 2;
  const Node& n = a.node;
  Window w;
  w.kernel = kernel;
  w.strides = n.attr_ints("strides", std::vector<int64_t>(spatial, 1));
  w.dilations = n.attr_ints("dilations", std::vector<int64_t>(spatial, 1));
  const auto pads = n.attr_ints("pads", std::vector<int64_t>(2 * spatial, 0));
  if (w.strides.size() != spatial || w.dilations.size() != spatial || pads.size() != 2 * spatial ||
      w.kernel.size() != spatial) {
    return a.error("strides, dilations, pads or kernel_shape do not match its " +
                   std::to_string(spatial) + " spatial axes; the file is corrupt");
  }
  for (size_t i = 0; i < spatial; ++i) {
    if (w.strides[i] < 1 || w.dilations[i] < 1 || w.kernel[i] < 1 || pads[i] < 0 ||
        pads[i + spatial] < 0) {
      return a.error("has a non-positive stride, dilation or kernel size, or a negative pad");
    }
  }
  w.pad_begin.assign(pads.begin(), pads.begin() + spatial);
  w.pad_end.assign(pads.begin() + spatial, pads.end());
  return w;
}

}  // namespace

Result<Window> conv_window(const Operands& a, const Shape& x, const std::vector<int64_t>& kernel,
                           bool ceil_mode) {
  auto attrs = window_attrs(a, x, kernel);
  if (!attrs.ok()) return attrs.status();
  Window w = std::move(*attrs);
  const size_t spatial = x.size() - 2;
  const std::string auto_pad = a.node.attr_string("auto_pad", "NOTSET");
  w.out.resize(spatial);
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t in = x[i + 2], s = w.strides[i];
    const int64_t dk = (w.kernel[i] - 1) * w.dilations[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      w.out[i] = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>((w.out[i] - 1) * s + dk - in, 0);
      const int64_t small = total / 2;
      w.pad_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      w.pad_end[i] = total - w.pad_begin[i];
      continue;
    }
    if (auto_pad == "VALID") {
      w.pad_begin[i] = w.pad_end[i] = 0;
    } else if (auto_pad != "NOTSET") {
      return a.error("has auto_pad '" + auto_pad + "', which ONNX does not define");
    }
    const int64_t span = in + w.pad_begin[i] + w.pad_end[i] - dk;
    if (span < 0) {
      return a.error("input " + shape_string(x) + " is smaller than its window (" +
                     std::to_string(dk) + " along spatial axis " + std::to_string(i) + ")");
    }
    w.out[i] = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    // As PyTorch: the last window starts inside the input or its leading padding.
    if (ceil_mode && (w.out[i] - 1) * s >= in + w.pad_begin[i]) --w.out[i];
    // The end padding that yields `out` with floor rounding, as oneDNN computes it.
    w.pad_end[i] = (w.out[i] - 1) * s + dk - in - w.pad_begin[i];
  }
  return w;
}

Result<Window> deconv_window(const Operands& a, const Shape& x,
                             const std::vector<int64_t>& kernel) {
  auto attrs = window_attrs(a, x, kernel);
  if (!attrs.ok()) return attrs.status();
  Window w = std::move(*attrs);
  const size_t spatial = x.size() - 2;
  const Node& n = a.node;
  const auto out_pad = n.attr_ints("output_padding", std::vector<int64_t>(spatial, 0));
  const auto out_shape = n.attr_ints("output_shape");
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (out_pad.size() != spatial) return a.error("output_padding does not match its spatial axes");
  if (!out_shape.empty() && out_shape.size() != spatial && out_shape.size() != x.size()) {
    return a.error("output_shape does not match its spatial axes");
  }
  w.out.resize(spatial);
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t in = x[i + 2], s = w.strides[i];
    const int64_t dk = (w.kernel[i] - 1) * w.dilations[i] + 1;
    const int64_t full = s * (in - 1) + out_pad[i] + dk;
    int64_t target = -1;
    if (!out_shape.empty()) {
      target = out_shape[out_shape.size() - spatial + i];
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      target = in * s;
    }
    if (target >= 0) {
      const int64_t total = full - target;
      if (total < 0) return a.error("output_shape is larger than the input allows");
      const bool upper = auto_pad == "SAME_UPPER";
      w.pad_begin[i] = upper ? total / 2 : total - total / 2;
      w.pad_end[i] = total - w.pad_begin[i];
    } else if (auto_pad == "VALID") {
      w.pad_begin[i] = w.pad_end[i] = 0;
    }
    w.out[i] = full - w.pad_begin[i] - w.pad_end[i];
    if (w.out[i] < 1) return a.error("pads leave an empty output");
    // oneDNN has no output_padding: it is less padding at the end.
    w.pad_end[i] -= out_pad[i];
  }
  return w;
}

// ---- resize ----

Result<ResizePlan> resize_plan(const Operands& a) {
  const Node& n = a.node;
  ResizePlan p;
  const std::string mode = n.attr_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear") {
    return a.error("has mode '" + mode +
                   "'; the iris runtime resizes with 'nearest' and 'linear'; fix: export the "
                   "model with one of those");
  }
  p.linear = mode == "linear";
  p.transform = n.attr_string("coordinate_transformation_mode", "half_pixel");
  p.nearest = n.attr_string("nearest_mode", "round_prefer_floor");
  static const std::set<std::string> kTransforms = {"half_pixel", "pytorch_half_pixel",
                                                    "align_corners", "asymmetric"};
  static const std::set<std::string> kNearest = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                                 "ceil"};
  if (!kTransforms.count(p.transform)) {
    return a.error("has coordinate_transformation_mode '" + p.transform +
                   "', which the iris runtime does not support (" + join(kTransforms) + ")");
  }
  if (!p.linear && !kNearest.count(p.nearest)) {
    return a.error("has nearest_mode '" + p.nearest + "', which ONNX does not define");
  }
  if (n.attr_int("antialias", 0) != 0 || n.has_attr("axes")) {
    return a.error("uses antialias or axes (opset 18), which the iris runtime does not support");
  }
  const Shape& x = a.shape(0);
  const bool scales_given = a.has(2) && (a.in[2].count() > 0);
  if (scales_given) {
    auto scales = a.floats(2, "scales");
    if (!scales.ok()) return scales.status();
    p.scales = std::move(*scales);
    if (p.scales.size() != x.size()) return a.error("scales do not match the input's rank");
    for (size_t i = 0; i < x.size(); ++i) {
      if (!(p.scales[i] > 0)) return a.error("has a scale that is not positive");
      p.out.push_back(static_cast<int64_t>(std::floor(x[i] * p.scales[i])));
    }
  } else {
    auto sizes = a.ints(3, "sizes (or scales)");
    if (!sizes.ok()) return sizes.status();
    if (sizes->size() != x.size()) return a.error("sizes do not match the input's rank");
    p.out = std::move(*sizes);
    for (size_t i = 0; i < x.size(); ++i) {
      p.scales.push_back(static_cast<float>(p.out[i]) / static_cast<float>(x[i]));
    }
  }
  for (int64_t d : p.out) {
    if (d < 1) return a.error("resizes " + shape_string(x) + " to nothing");
  }
  if (p.linear) {
    for (size_t i = 0; i + 2 < x.size(); ++i) {
      if (p.out[i] != x[i]) {
        return a.error(
            "resizes linearly along an axis other than the last two; the iris "
            "runtime supports 1-D and 2-D linear resizing");
      }
    }
  }
  return p;
}

float resize_source(const ResizePlan& p, int64_t o, int64_t in, int64_t out, float scale) {
  const float fo = static_cast<float>(o);
  if (p.transform == "align_corners") {
    return out == 1 ? 0.0f : fo * static_cast<float>(in - 1) / static_cast<float>(out - 1);
  }
  if (p.transform == "asymmetric") return fo / scale;
  if (p.transform == "pytorch_half_pixel" && out == 1) return 0.0f;
  return (fo + 0.5f) / scale - 0.5f;
}

int64_t resize_nearest(const ResizePlan& p, int64_t o, int64_t in, int64_t out, float scale) {
  const float x = resize_source(p, o, in, out, scale);
  float r;
  if (p.nearest == "floor") {
    r = std::floor(x);
  } else if (p.nearest == "ceil") {
    r = std::ceil(x);
  } else if (p.nearest == "round_prefer_ceil") {
    r = std::floor(x + 0.5f);
  } else {
    r = std::ceil(x - 0.5f);  // round_prefer_floor
  }
  return std::clamp<int64_t>(static_cast<int64_t>(r), 0, in - 1);
}

// ---- axes, softmax, slice, transpose, split, reduce ----

AxisDims axis_dims(const Shape& shape, int axis) {
  AxisDims d;
  for (int i = 0; i < axis; ++i) d.outer *= shape[i];
  if (static_cast<size_t>(axis) < shape.size()) d.axis = shape[axis];
  for (size_t i = axis + 1; i < shape.size(); ++i) d.inner *= shape[i];
  return d;
}

void next_index(const Shape& shape, std::vector<int64_t>* idx) {
  for (size_t d = shape.size(); d-- > 0;) {
    if (++(*idx)[d] < shape[d]) return;
    (*idx)[d] = 0;
  }
}

Result<AxisDims> softmax_dims(const Operands& a) {
  const Shape& x = a.shape(0);
  auto axis = a.axis_attr(-1, x.size());
  if (!axis.ok()) return axis.status();
  AxisDims d = axis_dims(x, *axis);
  if (a.node.attr_int("_flatten", 0)) {
    d.axis *= d.inner;
    d.inner = 1;
  }
  return d;
}

Result<std::vector<SliceAxis>> slice_plan(const Operands& a) {
  const Shape& x = a.shape(0);
  auto starts = a.ints(1, "starts");
  if (!starts.ok()) return starts.status();
  auto ends = a.ints(2, "ends");
  if (!ends.ok()) return ends.status();
  std::vector<int64_t> axes, steps(starts->size(), 1);
  if (a.has(3)) {
    auto v = a.ints(3, "axes");
    if (!v.ok()) return v.status();
    axes = std::move(*v);
  } else {
    for (size_t i = 0; i < starts->size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (a.has(4)) {
    auto v = a.ints(4, "steps");
    if (!v.ok()) return v.status();
    steps = std::move(*v);
  }
  if (ends->size() != starts->size() || axes.size() != starts->size() ||
      steps.size() != starts->size()) {
    return a.error("starts, ends, axes and steps differ in length");
  }
  std::vector<SliceAxis> plan(x.size());
  for (size_t i = 0; i < x.size(); ++i) plan[i].count = x[i];
  std::vector<bool> seen(x.size(), false);
  for (size_t k = 0; k < axes.size(); ++k) {
    auto axis = a.axis(axes[k], x.size());
    if (!axis.ok()) return axis.status();
    if (seen[*axis]) return a.error("slices axis " + std::to_string(*axis) + " twice");
    seen[*axis] = true;
    const int64_t dim = x[*axis], step = steps[k];
    if (step == 0) return a.error("has a step of 0");
    int64_t start = (*starts)[k], end = (*ends)[k];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    int64_t count;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      count = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      count = start > end ? (start - end - step - 1) / -step : 0;
    }
    plan[*axis] = {start, step, count};
  }
  return plan;
}

Result<std::vector<int64_t>> transpose_perm(const Operands& a, size_t rank) {
  std::vector<int64_t> perm = a.node.attr_ints("perm");
  if (perm.empty()) {
    for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  }
  std::vector<bool> seen(rank, false);
  if (perm.size() != rank) return a.error("perm does not match the input's rank");
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[p]) {
      return a.error("perm is not a permutation of the input's axes");
    }
    seen[p] = true;
  }
  return perm;
}

Result<std::vector<int64_t>> split_sizes(const Operands& a, int axis, size_t outputs) {
  const int64_t dim = a.shape(0)[axis];
  std::vector<int64_t> sizes;
  if (a.has(1)) {
    auto v = a.ints(1, "split");
    if (!v.ok()) return v.status();
    sizes = std::move(*v);
    int64_t sum = 0;
    for (int64_t s : sizes) sum += s < 0 ? dim + 1 : s;
    if (sizes.size() != outputs || sum != dim) {
      return a.error("split sizes do not add up to " + std::to_string(dim) + " in " +
                     std::to_string(outputs) + " outputs");
    }
    return sizes;
  }
  const int64_t n = static_cast<int64_t>(outputs);
  const int64_t each = (dim + n - 1) / n;  // opset 18: the last part may be smaller
  for (int64_t i = 0; i < n; ++i)
    sizes.push_back(std::max<int64_t>(0, std::min(each, dim - i * each)));
  return sizes;
}

Result<std::vector<int>> reduce_axes(const Operands& a) {
  const size_t rank = a.shape(0).size();
  std::vector<int64_t> axes = a.node.attr_ints("axes");
  if (a.has(1)) {
    auto v = a.ints(1, "axes");
    if (!v.ok()) return v.status();
    axes = std::move(*v);
  }
  std::set<int> out;
  if (axes.empty()) {
    if (a.node.attr_int("noop_with_empty_axes", 0)) return std::vector<int>{};
    for (size_t i = 0; i < rank; ++i) out.insert(static_cast<int>(i));
  }
  for (int64_t axis : axes) {
    auto r = a.axis(axis, rank);
    if (!r.ok()) return r.status();
    out.insert(*r);
  }
  return std::vector<int>(out.begin(), out.end());
}

}  // namespace iris::runtime
