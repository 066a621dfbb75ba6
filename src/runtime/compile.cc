// Model::compile: passes, then lowering every node to a oneDNN primitive or a plain kernel, then
// the memory plan.
//
// Layouts: float tensors carry a oneDNN memory descriptor. Convolutions pick their own layout
// (format_tag::any, usually channel-blocked); eltwise, binary, pooling, concat and resampling
// take whatever layout their input has; Transpose is a view with permuted strides. A reorder is
// inserted only where a consumer needs another layout (plain kernels and reshapes need dense
// row-major), once per tensor and layout.
//
// Memory: every computed tensor gets a buffer; buffers whose lifetimes do not overlap share arena
// space (greedy first fit, largest first). Eltwise and binary ops, and the copy that feeds a
// Conv's residual sum, write over their input when it dies there.
//
// Precision: in BF16 and INT8 modes the Convs compute in bf16 or int8 (u8/s8 data with per-tensor
// scales from calibration, s8 weights with per-channel scales); everything else stays FP32. A
// data type is part of a tensor's layout, so the reorders that change layouts also convert
// (quantize, dequantize); a Conv writes bf16/int8 only when every reader is a Conv of the same
// precision, so chains of Convs pass low-precision tensors with no conversion between them.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/text.h"
#include "runtime/passes.h"
#include "runtime/plan.h"

namespace iris::runtime {

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

size_t Slot::bytes() const {
  if (!md.is_zero()) return md.get_size();
  return static_cast<size_t>(element_count(shape)) * dtype_size(dtype);
}

namespace {

using dnnl::algorithm;
using dnnl::prop_kind;
using Md = dnnl::memory::desc;
using Dims = dnnl::memory::dims;
constexpr auto kF32 = dnnl::memory::data_type::f32;
constexpr auto kAny = dnnl::memory::format_tag::any;

Dims dims_of(const Shape& s) { return s.empty() ? Dims{1} : Dims(s.begin(), s.end()); }

Md plain_md(const Shape& s) {
  const Dims d = dims_of(s);
  return Md(d, kF32, strides_of(d));
}

// Dense row-major FP32, whatever the strides of size-1 axes.
bool is_plain(const Md& md) {
  const dnnl_memory_desc_t& c = md.data;
  if (c.data_type != dnnl_f32 || c.format_kind != dnnl_blocked || c.offset0 != 0 ||
      c.format_desc.blocking.inner_nblks != 0) {
    return false;
  }
  int64_t expect = 1;
  for (int i = c.ndims; i-- > 0;) {
    if (c.padded_dims[i] != c.dims[i]) return false;
    if (c.dims[i] != 1 && c.format_desc.blocking.strides[i] != expect) return false;
    expect *= c.dims[i];
  }
  return true;
}

// A dense layout for `shape` with its axes in the order of `ref`'s strides (NHWC for an NHWC
// `ref`); plain when `ref` is channel-blocked or of another rank.
Md like(const Md& ref, const Shape& shape) {
  const dnnl_memory_desc_t& c = ref.data;
  if (c.format_kind != dnnl_blocked || c.format_desc.blocking.inner_nblks != 0 ||
      static_cast<size_t>(c.ndims) != shape.size() || shape.empty()) {
    return plain_md(shape);
  }
  std::vector<int> order(shape.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return c.format_desc.blocking.strides[a] > c.format_desc.blocking.strides[b];
  });
  Dims strides(shape.size());
  int64_t stride = 1;
  for (size_t k = order.size(); k-- > 0;) {
    strides[order[k]] = stride;
    stride *= shape[order[k]];
  }
  return Md(dims_of(shape), kF32, strides);
}

// oneDNN eltwise algorithms for an activation; empty when it has none.
std::vector<std::tuple<algorithm, float, float>> eltwise_of(const Activation& a) {
  constexpr float kBig = std::numeric_limits<float>::max();
  switch (a.act) {
    case Act::kRelu:
      return {{algorithm::eltwise_relu, a.alpha, 0}};
    case Act::kSigmoid:
      return {{algorithm::eltwise_logistic, 0, 0}};
    case Act::kSwish:
      return {{algorithm::eltwise_swish, a.alpha, 0}};
    case Act::kHardSwish:
      return {{algorithm::eltwise_hardswish, 0, 0}};
    case Act::kHardSigmoid:
      return {{algorithm::eltwise_linear, a.alpha, a.beta}, {algorithm::eltwise_clip_v2, 0, 1}};
    case Act::kClip:
      return {{algorithm::eltwise_clip_v2, std::max(a.alpha, -kBig), std::min(a.beta, kBig)}};
    case Act::kTanh:
      return {{algorithm::eltwise_tanh, 0, 0}};
    case Act::kSoftplus:
      return {{algorithm::eltwise_soft_relu, 0, 0}};
    case Act::kElu:
      return {{algorithm::eltwise_elu, a.alpha, 0}};
    case Act::kExp:
      return {{algorithm::eltwise_exp, 0, 0}};
    case Act::kLog:
      return {{algorithm::eltwise_log, 0, 0}};
    case Act::kSqrt:
      return {{algorithm::eltwise_sqrt, 0, 0}};
    case Act::kAbs:
      return {{algorithm::eltwise_abs, 0, 0}};
    case Act::kNeg:
      return {{algorithm::eltwise_linear, -1, 0}};
    case Act::kLinear:
      return {{algorithm::eltwise_linear, a.alpha, a.beta}};
    case Act::kPow:
      return {{algorithm::eltwise_pow, 1, a.alpha}};
  }
  return {};
}

// How profiles name a tensor's data type.
std::string type_name(dnnl::memory::data_type t) {
  using T = dnnl::memory::data_type;
  return t == T::bf16 ? "bf16" : t == T::s8 || t == T::u8 ? "int8" : "fp32";
}

// Per output channel c of weights stored as [C, n] (conv weights in file order, groups
// flattened): the step of a symmetric s8 quantization, max|w| / 127.
std::vector<float> channel_steps(const float* w, int64_t channels, int64_t n) {
  std::vector<float> steps(channels);
  for (int64_t c = 0; c < channels; ++c) {
    float m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::abs(w[c * n + i]));
    steps[c] = m > 0 ? m / 127 : 1;
  }
  return steps;
}

const char* act_name(Act a) {
  switch (a) {
    case Act::kRelu:
      return "Relu";
    case Act::kSigmoid:
      return "Sigmoid";
    case Act::kSwish:
      return "Swish";
    case Act::kHardSwish:
      return "HardSwish";
    case Act::kHardSigmoid:
      return "HardSigmoid";
    case Act::kClip:
      return "Clip";
    case Act::kTanh:
      return "Tanh";
    case Act::kSoftplus:
      return "Softplus";
    case Act::kElu:
      return "Elu";
    case Act::kExp:
      return "Exp";
    case Act::kLog:
      return "Log";
    case Act::kSqrt:
      return "Sqrt";
    case Act::kAbs:
      return "Abs";
    case Act::kNeg:
      return "Neg";
    case Act::kLinear:
      return "Linear";
    case Act::kPow:
      return "Pow";
  }
  return "?";
}

class Compiler {
 public:
  Compiler(Model::Plan& p, const Options& options)
      : p_(p), g_(p.graph), options_(options), stream_(cpu_engine()) {}

  Status run() {
    slot_of_.assign(g_.values.size(), -1);
    readers_.assign(g_.values.size(), {});
    for (const Node& n : g_.nodes) {
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        if (n.inputs[k] >= 0) readers_[n.inputs[k]].push_back({&n, k});
      }
    }
    for (int id : g_.outputs) readers_[id].push_back({nullptr, 0});
    for (int id : g_.inputs) {
      const Value& v = g_.values[id];
      slot_of_[id] = new_slot(v.dtype, v.shape);
      p_.input_slots.push_back(slot_of_[id]);
      p_.inputs.push_back({v.name, v.dtype, v.shape});
    }
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      Status s;
      try {
        s = lower(static_cast<int>(i));
      } catch (const dnnl::error& e) {
        s = Status::error(g_.describe(n) + ": oneDNN cannot run it (" + e.what() +
                          "); fix: report the model, or use `backend: opencv`");
      }
      if (!s.ok()) return s;
    }
    for (int id : g_.outputs) {
      const Value& v = g_.values[id];
      p_.output_slots.push_back(plain(value_slot(id)));
      p_.outputs.push_back({v.name, v.dtype, v.shape});
    }
    return {};
  }

 private:
  // ---- slots ----

  int add_slot(Slot s) {
    p_.slots.push_back(std::move(s));
    return static_cast<int>(p_.slots.size()) - 1;
  }

  int new_slot(DType dtype, const Shape& shape, Md md = Md()) {
    Slot s{.dtype = dtype, .shape = shape, .md = md};
    if (dtype == DType::kFloat32 && md.is_zero()) s.md = plain_md(shape);
    s.buffer = static_cast<int>(p_.buffers.size());
    p_.buffers.push_back({s.bytes(), 0});
    return add_slot(std::move(s));
  }

  // The same memory seen with another shape or layout.
  int view(int base, const Shape& shape, Md md) {
    Slot s = p_.slots[base];
    s.shape = shape;
    s.md = s.dtype == DType::kFloat32 ? md : Md();
    return add_slot(std::move(s));
  }

  int value_slot(int id) {
    if (slot_of_[id] >= 0) return slot_of_[id];
    const Value& v = g_.values[id];
    Slot s{.dtype = v.dtype, .shape = v.shape};
    if (v.dtype == DType::kFloat32) s.md = plain_md(v.shape);
    s.constant = v.constant->bytes.data();
    p_.constants.push_back(v.constant);
    return slot_of_[id] = add_slot(std::move(s));
  }

  const Slot& slot(int i) const { return p_.slots[i]; }

  // `s` in layout `md` (and, for s8/u8, `scale`): itself, or a reordered copy (made once per
  // tensor and layout).
  int as_md(int s, const Md& md, float scale = 1) {
    if (slot(s).md == md && slot(s).scale == scale) return s;
    for (const auto& [from, to] : reordered_) {
      if (from == s && slot(to).md == md && slot(to).scale == scale) return to;
    }
    const int to = new_slot(DType::kFloat32, slot(s).shape, md);
    p_.slots[to].scale = scale;
    add_reorder(s, to, "Reorder");
    reordered_.push_back({s, to});
    return to;
  }

  int plain(int s) {
    if (slot(s).dtype != DType::kFloat32 || is_plain(slot(s).md)) return s;
    return as_md(s, plain_md(slot(s).shape));
  }

  // ---- precision ----

  // What a Conv computes in: the mode's precision unless it falls back (named in fp32_nodes, or
  // INT8 without a calibrated range for its input), and depthwise Convs never in INT8: they are
  // memory-bound (no faster in int8) and their channels' ranges differ most, which one step per
  // tensor serves worst.
  Precision precision_of(const Node& n) const {
    const Precision p = options_.precision;
    if (p == Precision::kFloat32 || (n.op != "Conv" && n.op != "ConvTranspose") ||
        options_.fp32_nodes.count(g_.layer_name(n))) {
      return Precision::kFloat32;
    }
    if (p == Precision::kInt8) {
      const bool depthwise =
          n.attr_int("group", 1) > 1 && n.input(1) >= 0 && g_.values[n.inputs[1]].shape[1] == 1;
      if (n.op != "Conv" || depthwise || !options_.ranges.count(g_.values[n.inputs[0]].name)) {
        return Precision::kFloat32;
      }
    }
    return p;
  }

  // Whether every reader of value `id` is a Conv in precision `p` taking it as its data.
  bool read_as_low(int id, Precision p) const {
    const auto& readers = readers_[id];
    return !readers.empty() && std::all_of(readers.begin(), readers.end(), [&](const auto& r) {
      return r.first && r.second == 0 && precision_of(*r.first) == p;
    });
  }

  // INT8 type and step of value `id` from its calibrated range: u8 when it is never negative.
  std::pair<dnnl::memory::data_type, float> quantized(int id) const {
    const Range& r = options_.ranges.at(g_.values[id].name);
    const bool u8 = r.min >= 0;
    const float step = r.threshold > 0 ? r.threshold / (u8 ? 255 : 127) : 1;
    return {u8 ? dnnl::memory::data_type::u8 : dnnl::memory::data_type::s8, step};
  }

  // Cross-layer equalization (Options::equalize): a Conv writing an equalized value divides its
  // output channel c (weights and bias) by the value's scale c, and a Conv reading one
  // multiplies its input channel c by it. Exact in FP32; `w` and `b` stay empty when neither
  // applies.
  Status equalized(const Node& n, const Operands& a, std::vector<float>* w,
                   std::vector<float>* b) const {
    const auto out = options_.equalize.find(g_.values[n.outputs[0]].name);
    const auto in = options_.equalize.find(g_.values[n.inputs[0]].name);
    const bool divide = out != options_.equalize.end(), multiply = in != options_.equalize.end();
    if (!divide && !multiply) return {};
    const Shape& ws = a.shape(1);
    const int64_t oc = ws[0], icg = ws[1], k = element_count(ws) / (oc * icg);
    const bool fits =
        n.op == "Conv" && (!divide || static_cast<int64_t>(out->second.size()) == oc) &&
        (!multiply ||
         (n.attr_int("group", 1) == 1 && static_cast<int64_t>(in->second.size()) == icg));
    if (!fits) {
      return a.error("does not fit its calibration's channel equalization; fix: quantize the " +
                     std::string("original model again with `iris quantize`"));
    }
    w->assign(a.in[1].as<float>(), a.in[1].as<float>() + element_count(ws));
    if (a.has(2)) b->assign(a.in[2].as<float>(), a.in[2].as<float>() + oc);
    for (int64_t o = 0; o < oc; ++o) {
      for (int64_t i = 0; i < icg; ++i) {
        const float f = (divide ? 1 / out->second[o] : 1.0f) * (multiply ? in->second[i] : 1.0f);
        for (int64_t j = 0; j < k; ++j) (*w)[(o * icg + i) * k + j] *= f;
      }
      if (divide && !b->empty()) (*b)[o] /= out->second[o];
    }
    return {};
  }

  // ---- steps ----

  // Scratchpads live in the Context. (A fresh object each time: attrs are shared handles.)
  static dnnl::primitive_attr attr() {
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return a;
  }

  Layer layer_of(const Node& n, const std::string& op, const Shape& shape) const {
    return {.name = g_.layer_name(n), .op = op, .shape = shape};
  }

  Step& add_primitive(const dnnl::primitive_desc_base& pd, Layer layer) {
    Step st;
    st.primitive = dnnl::primitive(pd.get());
    layer.kernel = pd.impl_info_str();
    st.layer = std::move(layer);
    st.scratch = pd.scratchpad_desc();
    p_.steps.push_back(std::move(st));
    return p_.steps.back();
  }

  void add_reorder(int from, int to, const std::string& op, bool elidable = false) {
    dnnl::primitive_attr attr = this->attr();
    if (slot(from).scale != slot(to).scale) {
      attr.set_output_scales(0, {slot(from).scale / slot(to).scale});
    }
    const dnnl::reorder::primitive_desc pd(cpu_engine(), slot(from).md, cpu_engine(), slot(to).md,
                                           attr);
    Layer layer{.name = "reorder",
                .op = op,
                .precision = type_name(slot(to).md.data_type()),
                .shape = slot(to).shape};
    Step& st = add_primitive(pd, layer);
    st.args = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    if (elidable && slot(from).md == slot(to).md) {
      st.inplace_in = from;
      st.inplace_out = to;
      st.elidable = true;
    }
  }

  // Constant data in layout `to` (weights), reordered once now; `attr` may quantize it.
  dnnl::memory constant_memory(const void* data, const Md& from, const Md& to,
                               const dnnl::primitive_attr& attr = dnnl::primitive_attr()) {
    dnnl::memory src(from, cpu_engine(), const_cast<void*>(data));
    dnnl::memory dst(to, cpu_engine());
    dnnl::reorder(dnnl::reorder::primitive_desc(src, dst, attr)).execute(stream_, src, dst);
    stream_.wait();
    p_.weights.push_back(dst);
    p_.weight_bytes += to.get_size();
    return dst;
  }

  Status lower_plain(int ni) {
    const Node& n = g_.nodes[ni];
    Step st;
    st.kind = Step::kPlain;
    st.def = find_op(n.op);
    st.node = ni;
    if (!st.def->plain) {
      return Status::error(g_.describe(n) +
                           ": the iris runtime runs this op only on float tensors in forms oneDNN "
                           "takes; fix: report the model");
    }
    for (int id : n.inputs) st.in.push_back(id < 0 ? -1 : plain(value_slot(id)));
    for (int id : n.outputs) {
      const Value& v = g_.values[id];
      st.out.push_back(slot_of_[id] = new_slot(v.dtype, v.shape));
    }
    st.layer = layer_of(n, n.op, g_.values[n.outputs[0]].shape);
    st.layer.kernel = "plain";
    p_.steps.push_back(std::move(st));
    return {};
  }

  // ---- lowering ----

  Status lower(int ni) {
    const Node& n = g_.nodes[ni];
    const std::string& op = n.op;
    const Value& out = g_.values[n.outputs[0]];
    // oneDNN takes float tensors with data; shapes, indices and empty tensors go plain.
    if (n.inputs.empty() || n.inputs[0] < 0) return lower_plain(ni);
    const Value& in = g_.values[n.inputs[0]];
    const bool floats = out.dtype == DType::kFloat32 && in.dtype == DType::kFloat32 &&
                        element_count(out.shape) > 0 && element_count(in.shape) > 0;
    if (!floats) return lower_plain(ni);
    if (op == "Conv" || op == "ConvTranspose") return lower_conv(n);
    if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" ||
        op == "GlobalMaxPool") {
      return lower_pool(n);
    }
    if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") {
      slot_of_[n.outputs[0]] = view(plain(value_slot(n.inputs[0])), out.shape, plain_md(out.shape));
      return {};
    }
    if (op == "Transpose") return lower_transpose(n);
    if (op == "Concat") return lower_concat(n);
    if ((op == "Slice" || op == "Split") && lower_slices(n)) return {};
    if (op == "Resize" && lower_resize(n)) return {};
    if (op == "Softmax" || op == "LogSoftmax") return lower_softmax(n);
    if (op == "MatMul" && lower_matmul(n)) return {};
    if (op == "Gemm" && lower_gemm(n)) return {};
    if (op.rfind("Reduce", 0) == 0 && lower_reduce(n)) return {};
    if (lower_eltwise(n) || lower_binary(n)) return {};
    return lower_plain(ni);
  }

  Status lower_conv(const Node& n) {
    const Operands a = operands_at_load(g_, n);
    if (!a.known(1) || (a.has(2) && !a.known(2))) {
      return a.error(
          "has weights computed at inference; the iris runtime needs constant convolution "
          "weights; fix: export the model with its weights as initializers");
    }
    const bool deconv = n.op == "ConvTranspose";
    const Shape &xs = a.shape(0), &ws = a.shape(1);
    const Shape& ys = g_.values[n.outputs[0]].shape;
    const std::vector<int64_t> kernel(ws.begin() + 2, ws.end());
    auto win = deconv ? deconv_window(a, xs, kernel) : conv_window(a, xs, kernel, false);
    if (!win.ok()) return win.status();
    std::vector<float> w_eq, b_eq;
    if (Status s = equalized(n, a, &w_eq, &b_eq); !s.ok()) return s;
    const float* weights = w_eq.empty() ? a.in[1].as<float>() : w_eq.data();
    const float* bias_data = !a.has(2) ? nullptr : b_eq.empty() ? a.in[2].as<float>() : b_eq.data();
    const int64_t group = n.attr_int("group", 1);
    const int64_t ic = xs[1], oc = ys[1];
    Dims dil;
    for (int64_t d : win->dilations) dil.push_back(d - 1);

    // The weights as stored in the file, described in oneDNN's dims.
    const int64_t kprod = element_count(kernel);
    Dims wd, wstrides;
    const int64_t ocg = oc / group, icg = ic / group;
    if (group > 1)
      wd = {group, ocg, icg};
    else
      wd = {oc, ic};
    wd.insert(wd.end(), kernel.begin(), kernel.end());
    const Dims kstrides = strides_of(kernel);
    // Conv: [OC, IC/G, k...] row-major. ConvTranspose: [IC, OC/G, k...], i.e. i before o.
    const int64_t o_stride = deconv ? kprod : icg * kprod;
    const int64_t i_stride = deconv ? ocg * kprod : kprod;
    if (group > 1)
      wstrides = {ocg * icg * kprod, o_stride, i_stride};
    else
      wstrides = {o_stride, i_stride};
    wstrides.insert(wstrides.end(), kstrides.begin(), kstrides.end());
    const Md w_user(wd, kF32, wstrides);

    // Precision: the input's type and step, the output's (low only when every reader is a
    // Conv of the same precision that takes it as its data), and for INT8 the weights' steps.
    const Precision prec = precision_of(n);
    const auto low = prec == Precision::kBFloat16 ? dnnl::memory::data_type::bf16 : kF32;
    auto [src_type, src_step] =
        prec == Precision::kInt8 ? quantized(n.inputs[0]) : std::pair{low, 1.0f};
    const bool sum = std::any_of(n.post_ops.begin(), n.post_ops.end(),
                                 [](const PostOp& p) { return p.kind == PostOp::kSum; });
    const bool low_out = prec != Precision::kFloat32 && !sum && read_as_low(n.outputs[0], prec);
    auto [dst_type, dst_step] = !low_out                   ? std::pair{kF32, 1.0f}
                                : prec == Precision::kInt8 ? quantized(n.outputs[0])
                                                           : std::pair{low, 1.0f};
    // INT8: the s32 product of channel c times src_step * w_steps[c] is its real value; an
    // int8 output divides by dst_step, after the activations when there are any.
    std::vector<float> w_steps, product_steps, scales;
    const bool int8_out = dst_type != kF32 && prec == Precision::kInt8;
    const bool last_act = !n.post_ops.empty() && n.post_ops.back().kind == PostOp::kActivation;
    if (prec == Precision::kInt8) {
      w_steps = channel_steps(weights, oc, ws[1] * kprod);
      for (float w : w_steps) product_steps.push_back(src_step * w);
      scales = product_steps;
      if (int8_out && !last_act) {
        for (float& sc : scales) sc /= dst_step;
      }
    }

    dnnl::post_ops po;
    std::string name = n.op;
    int summand = -1;
    for (size_t k = 0; k < n.post_ops.size(); ++k) {
      const PostOp& p = n.post_ops[k];
      if (p.kind == PostOp::kSum) {
        po.append_sum(1.0f);
        summand = n.inputs[p.summand];
        name += "+Sum";
        continue;
      }
      const auto algs = eltwise_of(p.activation);
      for (size_t e = 0; e < algs.size(); ++e) {
        const auto [alg, alpha, beta] = algs[e];
        const bool final = int8_out && k + 1 == n.post_ops.size() && e + 1 == algs.size();
        po.append_eltwise(final ? 1 / dst_step : 1.0f, alg, alpha, beta);
      }
      name += std::string("+") + act_name(p.activation.act);
    }
    dnnl::primitive_attr attr = this->attr();
    attr.set_post_ops(po);
    if (prec == Precision::kInt8) attr.set_output_scales(1 << 1, scales);

    const Md src_any(dims_of(xs), src_type, kAny), dst_any(dims_of(ys), dst_type, kAny);
    const auto w_type = prec == Precision::kInt8 ? dnnl::memory::data_type::s8 : low;
    const Md w_any(wd, w_type, kAny), b_md({oc}, kF32, dnnl::memory::format_tag::x);
    const bool bias = a.has(2);
    dnnl::primitive_desc pd;
    Md src_md, w_md, dst_md;
    // Convolution and deconvolution descriptors take the same arguments.
    const auto make_pd = [&](auto primitive, algorithm alg) {
      using P = decltype(primitive);
      const auto d =
          bias ? typename P::desc(prop_kind::forward_inference, alg, src_any, w_any, b_md, dst_any,
                                  win->strides, dil, win->pad_begin, win->pad_end)
               : typename P::desc(prop_kind::forward_inference, alg, src_any, w_any, dst_any,
                                  win->strides, dil, win->pad_begin, win->pad_end);
      const typename P::primitive_desc ppd(d, attr, cpu_engine());
      src_md = ppd.src_desc();
      w_md = ppd.weights_desc();
      dst_md = ppd.dst_desc();
      pd = ppd;
    };
    if (deconv) {
      make_pd(dnnl::deconvolution_forward(), algorithm::deconvolution_direct);
    } else {
      make_pd(dnnl::convolution_forward(), algorithm::convolution_direct);
    }
    const int x = as_md(value_slot(n.inputs[0]), src_md, src_step);
    const int y = new_slot(DType::kFloat32, ys, dst_md);
    p_.slots[y].scale = dst_step;
    if (summand >= 0) {
      // The sum post-op adds onto the destination: start it as a copy of the summand, which
      // the memory plan elides when the summand dies here.
      add_reorder(value_slot(summand), y, "Copy", /*elidable=*/true);
    }
    const double flops =
        deconv ? 2.0 * xs[0] * ic * element_count({xs.begin() + 2, xs.end()}) * ocg * kprod
               : 2.0 * ys[0] * oc * element_count({ys.begin() + 2, ys.end()}) * icg * kprod;
    Layer layer = layer_of(n, name, ys);
    layer.flops = flops;
    layer.precision = precision_name(prec);
    Step& st = add_primitive(pd, layer);
    st.args = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}};
    dnnl::primitive_attr w_attr;
    if (prec == Precision::kInt8) {
      std::vector<float> inv;
      for (float w : w_steps) inv.push_back(1 / w);
      w_attr.set_output_scales(group > 1 ? 3 : 1, inv);
    }
    st.fixed.push_back({DNNL_ARG_WEIGHTS, constant_memory(weights, w_user, w_md, w_attr)});
    if (bias && prec == Precision::kInt8) {
      // oneDNN adds the bias to the s32 product before scaling: the bias in product steps.
      std::vector<float> b(oc);
      for (int64_t c = 0; c < oc; ++c) b[c] = bias_data[c] / product_steps[c];
      st.fixed.push_back({DNNL_ARG_BIAS, constant_memory(b.data(), b_md, b_md)});
    } else if (bias) {
      st.fixed.push_back({DNNL_ARG_BIAS, constant_memory(bias_data, b_md, b_md)});
    }
    slot_of_[n.outputs[0]] = y;
    return {};
  }

  Status lower_pool(const Node& n) {
    const Operands a = operands_at_load(g_, n);
    const Shape& xs = a.shape(0);
    const Shape& ys = g_.values[n.outputs[0]].shape;
    const bool global = n.op.rfind("Global", 0) == 0;
    const bool max = n.op == "MaxPool" || n.op == "GlobalMaxPool";
    Window w;
    if (global) {
      w.kernel.assign(xs.begin() + 2, xs.end());
      w.strides = w.dilations = std::vector<int64_t>(w.kernel.size(), 1);
      w.pad_begin = w.pad_end = std::vector<int64_t>(w.kernel.size(), 0);
    } else {
      auto r = conv_window(a, xs, n.attr_ints("kernel_shape"), n.attr_int("ceil_mode", 0) != 0);
      if (!r.ok()) return r.status();
      w = std::move(*r);
    }
    Dims dil;
    for (int64_t d : w.dilations) dil.push_back(d - 1);
    const algorithm alg = max ? algorithm::pooling_max
                          : n.attr_int("count_include_pad", 0)
                              ? algorithm::pooling_avg_include_padding
                              : algorithm::pooling_avg_exclude_padding;
    const int x = value_slot(n.inputs[0]);
    const dnnl::pooling_v2_forward::desc d(prop_kind::forward_inference, alg, slot(x).md,
                                           Md(dims_of(ys), kF32, kAny), w.strides, w.kernel, dil,
                                           w.pad_begin, w.pad_end);
    const dnnl::pooling_v2_forward::primitive_desc pd(d, attr(), cpu_engine());
    const int y = new_slot(DType::kFloat32, ys, pd.dst_desc());
    Step& st = add_primitive(pd, layer_of(n, n.op, ys));
    st.args = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}};
    slot_of_[n.outputs[0]] = y;
    return {};
  }

  Status lower_transpose(const Node& n) {
    const int x = value_slot(n.inputs[0]);
    const Shape& xs = slot(x).shape;
    // Shape inference checked the permutation.
    const std::vector<int64_t> perm = transpose_perm(operands_at_load(g_, n), xs.size()).value();
    // Output axis i is input axis perm[i]: input axis perm[i] moves to position i.
    std::vector<int> to(xs.size());
    for (size_t i = 0; i < perm.size(); ++i) to[perm[i]] = static_cast<int>(i);
    const Shape& ys = g_.values[n.outputs[0]].shape;
    const Md md = xs.empty() ? slot(x).md : slot(x).md.permute_axes(to);
    slot_of_[n.outputs[0]] = view(x, ys, md);
    return {};
  }

  Status lower_concat(const Node& n) {
    const Shape& ys = g_.values[n.outputs[0]].shape;
    // Shape inference checked the axis.
    const int axis = operands_at_load(g_, n).axis_attr(0, ys.size()).value();
    std::vector<int> srcs;
    std::vector<Md> mds;
    for (int id : n.inputs) {
      if (g_.values[id].shape[axis] == 0) continue;
      srcs.push_back(value_slot(id));
      mds.push_back(slot(srcs.back()).md);
    }
    const dnnl::concat::primitive_desc pd(axis, mds, cpu_engine(), attr());
    const int y = new_slot(DType::kFloat32, ys, pd.dst_desc());
    Step& st = add_primitive(pd, layer_of(n, n.op, ys));
    for (size_t i = 0; i < srcs.size(); ++i) {
      st.args.push_back({DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), srcs[i]});
    }
    st.args.push_back({DNNL_ARG_DST, y});
    slot_of_[n.outputs[0]] = y;
    return {};
  }

  // Slice with unit steps and Split: each output is a reorder out of a sub-memory view.
  bool lower_slices(const Node& n) {
    const Operands a = operands_at_load(g_, n);
    std::vector<Dims> offsets;
    if (n.op == "Slice") {
      auto plan = slice_plan(a);
      if (!plan.ok()) return false;
      Dims off;
      for (const SliceAxis& s : *plan) {
        if (s.step != 1) return false;
        off.push_back(s.start);
      }
      offsets.push_back(off);
    } else {
      const Shape& xs = a.shape(0);
      auto axis = a.axis_attr(0, xs.size());
      if (!axis.ok()) return false;
      int64_t at = 0;
      for (int id : n.outputs) {
        Dims off(xs.size(), 0);
        off[*axis] = at;
        at += g_.values[id].shape[*axis];
        offsets.push_back(off);
      }
    }
    int x = value_slot(n.inputs[0]);
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const Shape& ys = g_.values[n.outputs[k]].shape;
      if (slot(x).shape.empty()) return false;
      Md sub = slot(x).md.submemory_desc(dims_of(ys), offsets[k], /*allow_empty=*/true);
      if (sub.is_zero()) {  // not on a block boundary: from the dense layout
        x = plain(x);
        sub = slot(x).md.submemory_desc(dims_of(ys), offsets[k]);
      }
      const int v = view(x, ys, sub);
      // The part keeps the whole's layout (NHWC stays NHWC for the Convs that read it).
      const int y = new_slot(DType::kFloat32, ys, like(slot(x).md, ys));
      add_reorder(v, y, n.op);
      p_.steps.back().layer = layer_of(n, n.op, ys);
      p_.steps.back().layer.kernel = "reorder";
      slot_of_[n.outputs[k]] = y;
    }
    return true;
  }

  // oneDNN's resampling where its coordinates agree with the node's: linear with half-pixel
  // centers at exact scales, nearest at integer upscales (both pick floor(o / k)).
  bool lower_resize(const Node& n) {
    const Operands a = operands_at_load(g_, n);
    auto plan = resize_plan(a);
    if (!plan.ok()) return false;
    const Shape& xs = a.shape(0);
    if (xs.size() < 3 || xs.size() > 5 || plan->out[0] != xs[0] || plan->out[1] != xs[1]) {
      return false;
    }
    for (size_t d = 2; d < xs.size(); ++d) {
      const int64_t in = xs[d], out = plan->out[d];
      const bool exact = static_cast<float>(in) * plan->scales[d] == static_cast<float>(out);
      if (!exact) return false;
      if (plan->linear) {
        const bool half =
            plan->transform == "half_pixel" || (plan->transform == "pytorch_half_pixel" && out > 1);
        if (!half) return false;
      } else {
        if (out % in != 0) return false;
        const bool floor_map =
            (plan->transform == "asymmetric" && plan->nearest == "floor") ||
            ((plan->transform == "half_pixel" || plan->transform == "pytorch_half_pixel") &&
             (plan->nearest == "round_prefer_floor" || plan->nearest == "round_prefer_ceil"));
        if (!floor_map) return false;
      }
    }
    const int x = value_slot(n.inputs[0]);
    const dnnl::resampling_forward::desc d(
        prop_kind::forward_inference,
        plan->linear ? algorithm::resampling_linear : algorithm::resampling_nearest, slot(x).md,
        Md(dims_of(plan->out), kF32, kAny));
    const dnnl::resampling_forward::primitive_desc pd(d, attr(), cpu_engine());
    const int y = new_slot(DType::kFloat32, plan->out, pd.dst_desc());
    Step& st = add_primitive(pd, layer_of(n, n.op, plan->out));
    st.args = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}};
    slot_of_[n.outputs[0]] = y;
    return true;
  }

  // oneDNN's fast softmax wants the axis innermost in memory; ONNX puts it anywhere (YOLOv8's
  // DFL: axis 1 of [1, 16, 4, A]). The input is reordered to a layout with the axis innermost,
  // which the output keeps.
  Status lower_softmax(const Node& n) {
    const Operands a = operands_at_load(g_, n);
    auto dims = softmax_dims(a);
    if (!dims.ok()) return dims.status();
    const Shape& ys = g_.values[n.outputs[0]].shape;
    const Shape s3{dims->outer, dims->axis, dims->inner};
    const Md md(dims_of(s3), kF32, Dims{dims->axis * dims->inner, 1, dims->axis});
    const int x = as_md(view(plain(value_slot(n.inputs[0])), s3, plain_md(s3)), md);
    const dnnl::softmax_v2_forward::desc d(
        prop_kind::forward_inference,
        n.op == "LogSoftmax" ? algorithm::softmax_log : algorithm::softmax_accurate, md, md, 1);
    const dnnl::softmax_v2_forward::primitive_desc pd(d, attr(), cpu_engine());
    const int y = new_slot(DType::kFloat32, s3, md);
    Step& st = add_primitive(pd, layer_of(n, n.op, ys));
    st.args = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}};
    slot_of_[n.outputs[0]] = view(plain(y), ys, plain_md(ys));
    return {};
  }

  bool lower_matmul(const Node& n) {
    const Operands a = operands_at_load(g_, n);
    Shape sa = a.shape(0), sb = a.shape(1);
    if (sa.empty() || sb.empty()) return false;
    if (sa.size() == 1) sa.insert(sa.begin(), 1);
    if (sb.size() == 1) sb.push_back(1);
    const size_t rank = std::max(sa.size(), sb.size());
    sa.insert(sa.begin(), rank - sa.size(), 1);
    sb.insert(sb.begin(), rank - sb.size(), 1);
    Shape so(rank);
    for (size_t i = 0; i + 2 < rank; ++i) so[i] = std::max(sa[i], sb[i]);
    so[rank - 2] = sa[rank - 2];
    so[rank - 1] = sb[rank - 1];
    const Shape& ys = g_.values[n.outputs[0]].shape;
    return lower_product(n, a.in[1].data, sa, sb, so, Md(), ys, "MatMul");
  }

  // src [.., M, K] x weights [.., K, N] (constant `b_data`: reordered now; nullptr: the runtime
  // tensor) plus an optional bias, into a dense output seen as `ys`.
  bool lower_product(const Node& n, const void* b_data, const Shape& sa, const Shape& sb,
                     const Shape& so, const Md& bias, const Shape& ys, const std::string& op,
                     const void* bias_data = nullptr, const Md& a_md = Md(),
                     const Md& b_md = Md()) {
    const Md src_md = a_md.is_zero() ? plain_md(sa) : a_md;
    const Md b_user = b_md.is_zero() ? plain_md(sb) : b_md;
    const bool const_b = b_data != nullptr;
    const Md w_md = const_b ? Md(dims_of(sb), kF32, kAny) : b_user;
    const Md dst_md = plain_md(so);
    dnnl::matmul::primitive_desc pd;
    try {
      const auto d = bias.is_zero() ? dnnl::matmul::desc(src_md, w_md, dst_md)
                                    : dnnl::matmul::desc(src_md, w_md, bias, dst_md);
      pd = dnnl::matmul::primitive_desc(d, attr(), cpu_engine());
    } catch (const dnnl::error&) {
      return false;
    }
    // Operands first: a reorder they need must run before the product.
    const int x = view(plain(value_slot(n.inputs[0])), sa, src_md);
    const int w = const_b ? -1 : view(plain(value_slot(n.inputs[1])), sb, b_user);
    const int y = new_slot(DType::kFloat32, so);
    Layer layer = layer_of(n, op, ys);
    layer.flops = 2.0 * element_count(so) * sa.back();
    Step& st = add_primitive(pd, layer);
    st.args = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}};
    if (const_b) {
      st.fixed.push_back({DNNL_ARG_WEIGHTS, constant_memory(b_data, b_user, pd.weights_desc())});
    } else {
      st.args.push_back({DNNL_ARG_WEIGHTS, w});
    }
    if (!bias.is_zero()) {
      st.fixed.push_back({DNNL_ARG_BIAS, constant_memory(bias_data, bias, bias)});
    }
    slot_of_[n.outputs[0]] = view(y, ys, plain_md(ys));
    return true;
  }

  bool lower_gemm(const Node& n) {
    const Operands a = operands_at_load(g_, n);
    const bool ta = n.attr_int("transA", 0), tb = n.attr_int("transB", 0);
    const float alpha = n.attr_float("alpha", 1), beta = n.attr_float("beta", 1);
    if ((a.has(2) && !a.known(2)) || (!a.known(1) && alpha != 1)) return false;
    const Shape &sa = a.shape(0), &sb = a.shape(1);
    const int64_t m = ta ? sa[1] : sa[0], k = ta ? sa[0] : sa[1], nn = tb ? sb[0] : sb[1];
    // A transposed is a strided view of the stored matrix.
    const Md a_md = ta ? Md({m, k}, kF32, Dims{1, m}) : plain_md({m, k});
    const Md b_md = tb ? Md({k, nn}, kF32, Dims{1, k}) : plain_md({k, nn});
    const void* b_data = a.in[1].data;
    if (a.known(1) && alpha != 1) {
      auto scaled = std::make_shared<HostTensor>(HostTensor::zeros(DType::kFloat32, sb));
      const float* src = a.in[1].as<float>();
      for (int64_t i = 0; i < scaled->count(); ++i) scaled->data<float>()[i] = alpha * src[i];
      b_data = scaled->bytes.data();
      p_.constants.push_back(scaled);
    }
    Md bias;
    const void* bias_data = nullptr;
    if (a.has(2)) {
      Shape cs = a.shape(2);
      cs.insert(cs.begin(), 2 - std::min<size_t>(cs.size(), 2), 1);
      auto c = std::make_shared<HostTensor>(HostTensor::zeros(DType::kFloat32, cs));
      const float* src = a.in[2].as<float>();
      for (int64_t i = 0; i < c->count(); ++i) c->data<float>()[i] = beta * src[i];
      bias = plain_md(cs);
      bias_data = c->bytes.data();
      p_.constants.push_back(c);
    }
    const Shape& ys = g_.values[n.outputs[0]].shape;
    // The view over A must see the stored matrix: give it A's own shape, then the strided md.
    return lower_product(n, b_data, {m, k}, {k, nn}, {m, nn}, bias, ys, "Gemm", bias_data, a_md,
                         b_md);
  }

  bool lower_reduce(const Node& n) {
    static const std::pair<const char*, algorithm> kAlgs[] = {
        {"ReduceMax", algorithm::reduction_max},   {"ReduceMin", algorithm::reduction_min},
        {"ReduceMean", algorithm::reduction_mean}, {"ReduceSum", algorithm::reduction_sum},
        {"ReduceProd", algorithm::reduction_mul},
    };
    const auto it = std::find_if(std::begin(kAlgs), std::end(kAlgs),
                                 [&](const auto& p) { return n.op == p.first; });
    if (it == std::end(kAlgs)) return false;
    const Operands a = operands_at_load(g_, n);
    auto axes = reduce_axes(a);
    if (!axes.ok() || axes->empty()) return false;
    Shape kept = a.shape(0);
    for (int ax : *axes) kept[ax] = 1;
    const int x = plain(value_slot(n.inputs[0]));
    const dnnl::reduction::desc d(it->second, slot(x).md, plain_md(kept), 0.0f, 0.0f);
    const dnnl::reduction::primitive_desc pd(d, attr(), cpu_engine());
    const Shape& ys = g_.values[n.outputs[0]].shape;
    const int y = new_slot(DType::kFloat32, kept);
    Step& st = add_primitive(pd, layer_of(n, n.op, ys));
    st.args = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}};
    slot_of_[n.outputs[0]] = view(y, ys, plain_md(ys));
    return true;
  }

  bool lower_eltwise(const Node& n) {
    const Operands a = operands_at_load(g_, n);
    const auto act = activation_of(a);
    const Shape& ys = g_.values[n.outputs[0]].shape;
    if (!act || a.shape(0) != ys) return false;
    const auto algs = eltwise_of(*act);
    if (algs.size() != 1) return false;
    const auto [alg, alpha, beta] = algs[0];
    const int x = value_slot(n.inputs[0]);
    const dnnl::eltwise_forward::desc d(prop_kind::forward_inference, alg, slot(x).md, alpha, beta);
    const dnnl::eltwise_forward::primitive_desc pd(d, attr(), cpu_engine());
    const int y = new_slot(DType::kFloat32, ys, slot(x).md);
    Step& st = add_primitive(pd, layer_of(n, n.op, ys));
    st.args = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}};
    st.inplace_in = x;
    st.inplace_out = y;
    slot_of_[n.outputs[0]] = y;
    return true;
  }

  bool lower_binary(const Node& n) {
    static const std::pair<const char*, algorithm> kAlgs[] = {
        {"Add", algorithm::binary_add}, {"Sub", algorithm::binary_sub},
        {"Mul", algorithm::binary_mul}, {"Div", algorithm::binary_div},
        {"Max", algorithm::binary_max}, {"Min", algorithm::binary_min},
    };
    const auto it = std::find_if(std::begin(kAlgs), std::end(kAlgs),
                                 [&](const auto& p) { return n.op == p.first; });
    if (it == std::end(kAlgs) || n.inputs.size() != 2) return false;
    const Shape& ys = g_.values[n.outputs[0]].shape;
    int s0 = value_slot(n.inputs[0]), s1 = value_slot(n.inputs[1]);
    bool negate = false;
    if (slot(s0).shape != ys) {
      // oneDNN broadcasts only its second operand: swap, and for Sub negate the result.
      const bool commutes = n.op != "Sub" && n.op != "Div";
      if (slot(s1).shape != ys || n.op == "Div") return false;
      std::swap(s0, s1);
      negate = !commutes;
    }
    if (slot(s1).shape == ys) {
      s1 = as_md(s1, slot(s0).md);
    } else {
      Shape b = slot(s1).shape;
      b.insert(b.begin(), ys.size() - b.size(), 1);
      s1 = view(plain(s1), b, plain_md(b));
    }
    dnnl::primitive_attr attr = this->attr();
    if (negate) {
      dnnl::post_ops po;
      po.append_eltwise(1.0f, algorithm::eltwise_linear, -1.0f, 0.0f);
      attr.set_post_ops(po);
    }
    const Md md = slot(s0).md;
    const dnnl::binary::desc d(it->second, md, slot(s1).md, md);
    const dnnl::binary::primitive_desc pd(d, attr, cpu_engine());
    const int y = new_slot(DType::kFloat32, ys, md);
    Step& st = add_primitive(pd, layer_of(n, n.op, ys));
    st.args = {{DNNL_ARG_SRC_0, s0}, {DNNL_ARG_SRC_1, s1}, {DNNL_ARG_DST, y}};
    st.inplace_in = s0;
    st.inplace_out = y;
    slot_of_[n.outputs[0]] = y;
    return true;
  }

  Model::Plan& p_;
  Graph& g_;
  const Options& options_;
  std::vector<std::vector<std::pair<const Node*, size_t>>> readers_;  // per value: (node, input)
                                                                      // or (nullptr: an output)
  dnnl::stream stream_;
  std::vector<int> slot_of_;                    // value id -> slot
  std::vector<std::pair<int, int>> reordered_;  // (slot, its reordered copy)
};

// Lifetimes, in-place reuse and arena offsets.
void plan_memory(Model::Plan& p) {
  const size_t nb = p.buffers.size();
  const int end = static_cast<int>(p.steps.size());
  std::vector<int> first(nb, std::numeric_limits<int>::max()), last(nb, -1);
  std::vector<bool> pinned(nb, false);  // inputs and outputs: never written over
  const auto touch = [&](int s, int i) {
    const int b = p.slots[s].buffer;
    if (b < 0) return;
    first[b] = std::min(first[b], i);
    last[b] = std::max(last[b], i);
  };
  for (int s : p.input_slots) {
    touch(s, -1);
    pinned[p.slots[s].buffer] = true;
  }
  for (int i = 0; i < end; ++i) {
    const Step& st = p.steps[i];
    for (const auto& [arg, s] : st.args) touch(s, i);
    for (int s : st.in) {
      if (s >= 0) touch(s, i);
    }
    for (int s : st.out) touch(s, i);
  }
  for (int s : p.output_slots) {
    touch(s, end);
    if (p.slots[s].buffer >= 0) pinned[p.slots[s].buffer] = true;
  }
  // In place: the output takes over the input's buffer when the input dies at this step.
  for (int i = 0; i < end; ++i) {
    Step& st = p.steps[i];
    if (st.inplace_in < 0) continue;
    const int bin = p.slots[st.inplace_in].buffer, bout = p.slots[st.inplace_out].buffer;
    // Another operand of the step in the same buffer (Add(x, x)) would read what it writes.
    const bool shared = std::any_of(st.args.begin(), st.args.end(), [&](const auto& arg) {
      return arg.second != st.inplace_in && p.slots[arg.second].buffer == bin;
    });
    if (bin < 0 || bin == bout || shared || pinned[bin] || last[bin] != i || first[bout] != i ||
        p.buffers[bin].bytes != p.buffers[bout].bytes ||
        p.slots[st.inplace_in].md != p.slots[st.inplace_out].md) {
      continue;
    }
    for (Slot& s : p.slots) {
      if (s.buffer == bout) s.buffer = bin;
    }
    last[bin] = last[bout];
    pinned[bin] = pinned[bout];
    p.buffers[bout].bytes = 0;
    if (st.elidable) st.kind = Step::kPlain, st.def = nullptr;  // marks it dropped
  }
  std::erase_if(p.steps, [](const Step& st) { return st.kind == Step::kPlain && !st.def; });

  std::vector<size_t> order;
  for (size_t b = 0; b < nb; ++b) {
    if (p.buffers[b].bytes > 0 && first[b] <= last[b]) order.push_back(b);  // used at all
  }
  std::sort(order.begin(), order.end(),
            [&](size_t x, size_t y) { return p.buffers[x].bytes > p.buffers[y].bytes; });
  std::vector<size_t> placed;
  constexpr size_t kAlign = 64;
  for (size_t b : order) {
    std::vector<std::pair<size_t, size_t>> taken;  // [begin, end) of overlapping buffers
    for (size_t o : placed) {
      if (first[o] <= last[b] && first[b] <= last[o]) {
        taken.push_back({p.buffers[o].offset, p.buffers[o].offset + p.buffers[o].bytes});
      }
    }
    std::sort(taken.begin(), taken.end());
    size_t at = 0;
    for (const auto& [lo, hi] : taken) {
      if (at + p.buffers[b].bytes <= lo) break;
      at = std::max(at, (hi + kAlign - 1) / kAlign * kAlign);
    }
    p.buffers[b].offset = at;
    p.arena_bytes = std::max(p.arena_bytes, at + p.buffers[b].bytes);
    placed.push_back(b);
  }
  for (const Step& st : p.steps) {
    p.scratch_bytes = std::max(p.scratch_bytes, st.scratch.is_zero() ? 0 : st.scratch.get_size());
    p.layers.push_back(st.layer);
  }
}

}  // namespace

const char* precision_name(Precision p) { return name_of(kPrecisionNames, p); }

std::optional<Precision> parse_precision(std::string_view name) {
  return enum_of<Precision>(kPrecisionNames, name);
}

Model::Model(std::unique_ptr<Plan> plan) : plan_(std::move(plan)) {}
Model::~Model() = default;

const std::vector<TensorSpec>& Model::inputs() const { return plan_->inputs; }
const std::vector<TensorSpec>& Model::outputs() const { return plan_->outputs; }
const std::vector<Layer>& Model::layers() const { return plan_->layers; }
int Model::threads() const { return plan_->threads; }
size_t Model::arena_bytes() const { return plan_->arena_bytes + plan_->scratch_bytes; }
size_t Model::weight_bytes() const { return plan_->weight_bytes; }

Result<std::shared_ptr<const Model>> Model::compile(const Graph& graph, const Options& options) {
  auto plan = std::make_unique<Plan>();
  plan->graph = graph;
  plan->threads = options.threads;
  if (Status s = prepare(plan->graph, options.input_shapes); !s.ok()) return s;
  for (const std::string& name : options.extra_outputs) {
    Graph& g = plan->graph;
    const auto it = std::find_if(g.values.begin(), g.values.end(),
                                 [&](const Value& v) { return v.name == name; });
    if (it == g.values.end() || it->dtype != DType::kFloat32) {
      return Status::error(graph.label + " has no float value '" + name +
                           "' after fusion to return; fix: name a Conv's input or output");
    }
    g.outputs.push_back(static_cast<int>(it - g.values.begin()));
  }
  // Kernels size their work split by the thread count they are created under.
  ThreadScope threads(options.threads);
  try {
    Compiler compiler(*plan, options);
    if (Status s = compiler.run(); !s.ok()) return s;
  } catch (const dnnl::error& e) {
    return Status::error(graph.label + ": oneDNN failed to set up the model (" +
                         std::string(e.what()) + "); fix: report the model");
  }
  plan_memory(*plan);
  return std::shared_ptr<const Model>(std::make_shared<Model>(std::move(plan)));
}

}  // namespace iris::runtime
