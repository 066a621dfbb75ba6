// Neural-network ops: convolutions, normalization, pooling, resizing, softmax, matrix products,
// reductions, arg-max and top-k. Convolutions and pooling run on oneDNN only; the others also
// have plain kernels for folding and for the forms oneDNN does not take.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "runtime/ops.h"

namespace iris::runtime {
namespace {

Status need_float(const Operands& a, size_t i) {
  if (a.in[i].dtype != DType::kFloat32) {
    return a.error("needs float input " + std::to_string(i) + ", got " + dtype_name(a.in[i].dtype));
  }
  return {};
}

// ---- Conv, ConvTranspose ----

Result<std::vector<int64_t>> kernel_of(const Operands& a, const Shape& w) {
  const std::vector<int64_t> kernel(w.begin() + 2, w.end());
  const auto declared = a.node.attr_ints("kernel_shape");
  if (!declared.empty() && declared != kernel) {
    return a.error("kernel_shape " + shape_string(declared) + " does not match its weights " +
                   shape_string(w));
  }
  return kernel;
}

Result<std::vector<TypedShape>> conv_infer(const Operands& a) {
  if (Status s = need_float(a, 0); !s.ok()) return s;
  const Shape& x = a.shape(0);
  const Shape& w = a.shape(1);
  const int64_t group = a.node.attr_int("group", 1);
  if (w.size() != x.size() || x.size() < 3 || group < 1) {
    return a.error("has input " + shape_string(x) + " and weights " + shape_string(w) +
                   " of different ranks (or below 3)");
  }
  if (x[1] != w[1] * group || w[0] % group != 0) {
    return a.error("has input " + shape_string(x) + " with " + std::to_string(x[1]) +
                   " channels, which does not fit weights " + shape_string(w) + " in " +
                   std::to_string(group) + " groups");
  }
  if (a.has(2) && a.in[2].count() != w[0]) {
    return a.error("has a bias of " + std::to_string(a.in[2].count()) + " values for " +
                   std::to_string(w[0]) + " output channels");
  }
  auto kernel = kernel_of(a, w);
  if (!kernel.ok()) return kernel.status();
  auto win = conv_window(a, x, *kernel, false);
  if (!win.ok()) return win.status();
  Shape out{x[0], w[0]};
  out.insert(out.end(), win->out.begin(), win->out.end());
  return std::vector<TypedShape>{{DType::kFloat32, out}};
}

Result<std::vector<TypedShape>> conv_transpose_infer(const Operands& a) {
  if (Status s = need_float(a, 0); !s.ok()) return s;
  const Shape& x = a.shape(0);
  const Shape& w = a.shape(1);
  const int64_t group = a.node.attr_int("group", 1);
  if (w.size() != x.size() || x.size() < 3 || group < 1 || x[1] != w[0] || w[0] % group != 0) {
    return a.error("has input " + shape_string(x) + " that does not fit weights " +
                   shape_string(w) + " in " + std::to_string(group) + " groups");
  }
  const int64_t channels = w[1] * group;
  if (a.has(2) && a.in[2].count() != channels) {
    return a.error("has a bias that does not match its " + std::to_string(channels) +
                   " output channels");
  }
  auto kernel = kernel_of(a, w);
  if (!kernel.ok()) return kernel.status();
  auto win = deconv_window(a, x, *kernel);
  if (!win.ok()) return win.status();
  Shape out{x[0], channels};
  out.insert(out.end(), win->out.begin(), win->out.end());
  return std::vector<TypedShape>{{DType::kFloat32, out}};
}

// ---- BatchNormalization ----

Result<std::vector<TypedShape>> batch_norm_infer(const Operands& a) {
  if (Status s = need_float(a, 0); !s.ok()) return s;
  const Shape& x = a.shape(0);
  if (x.size() < 2) return a.error("needs an input with a channel axis");
  for (size_t i = 1; i < 5; ++i) {
    if (!a.has(i) || a.in[i].count() != x[1]) {
      return a.error("needs scale, bias, mean and variance of " + std::to_string(x[1]) + " values");
    }
  }
  std::vector<TypedShape> out{{DType::kFloat32, x}};
  for (size_t i = 1; i < a.node.outputs.size(); ++i) out.push_back({DType::kFloat32, {x[1]}});
  return out;
}

Status batch_norm_plain(const Operands& a, const std::vector<View>& out) {
  const Shape& x = a.shape(0);
  const float eps = a.node.attr_float("epsilon", 1e-5f);
  const int64_t n = x[0], c = x[1], inner = element_count(x) / (n * c);
  const float *scale = a.in[1].as<float>(), *bias = a.in[2].as<float>(),
              *mean = a.in[3].as<float>(), *var = a.in[4].as<float>();
  const float* in = a.in[0].as<float>();
  float* o = out[0].as<float>();
  for (int64_t i = 0; i < n * c; ++i) {
    const int64_t ch = i % c;
    const float k = scale[ch] / std::sqrt(var[ch] + eps);
    const float b = bias[ch] - mean[ch] * k;
    for (int64_t j = 0; j < inner; ++j) o[i * inner + j] = in[i * inner + j] * k + b;
  }
  for (size_t i = 1; i < out.size(); ++i) {
    std::memcpy(out[i].data, a.in[i == 1 ? 3 : 4].data, c * sizeof(float));
  }
  return {};
}

// ---- pooling ----

Result<std::vector<TypedShape>> pool_infer(const Operands& a) {
  if (Status s = need_float(a, 0); !s.ok()) return s;
  if (a.node.outputs.size() > 1) {
    return a.error("uses MaxPool's Indices output, which the iris runtime does not support");
  }
  const Shape& x = a.shape(0);
  const auto kernel = a.node.attr_ints("kernel_shape");
  if (kernel.empty()) return a.error("has no kernel_shape");
  auto win = conv_window(a, x, kernel, a.node.attr_int("ceil_mode", 0) != 0);
  if (!win.ok()) return win.status();
  Shape out{x[0], x[1]};
  out.insert(out.end(), win->out.begin(), win->out.end());
  return std::vector<TypedShape>{{DType::kFloat32, out}};
}

Result<std::vector<TypedShape>> global_pool_infer(const Operands& a) {
  if (Status s = need_float(a, 0); !s.ok()) return s;
  Shape out = a.shape(0);
  if (out.size() < 3) return a.error("needs an input of rank 3 or more");
  std::fill(out.begin() + 2, out.end(), 1);
  return std::vector<TypedShape>{{DType::kFloat32, out}};
}

// ---- Resize ----

Result<std::vector<TypedShape>> resize_infer(const Operands& a) {
  if (Status s = need_float(a, 0); !s.ok()) return s;
  auto plan = resize_plan(a);
  if (!plan.ok()) return plan.status();
  return std::vector<TypedShape>{{DType::kFloat32, plan->out}};
}

struct Tap {
  int64_t i0, i1;
  float w;  // weight of i1
};

std::vector<Tap> linear_taps(const ResizePlan& p, int64_t in, int64_t out, float scale) {
  std::vector<Tap> taps(out);
  for (int64_t o = 0; o < out; ++o) {
    const float x = std::max(0.0f, resize_source(p, o, in, out, scale));
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(x), in - 1);
    const int64_t i1 = std::min<int64_t>(i0 + 1, in - 1);
    taps[o] = {i0, i1, i0 == in - 1 ? 0.0f : x - static_cast<float>(i0)};
  }
  return taps;
}

Status resize_plain(const Operands& a, const std::vector<View>& out) {
  const ResizePlan p = resize_plan(a).value();
  const Shape& x = a.shape(0);
  const size_t rank = x.size();
  const float* in = a.in[0].as<float>();
  float* o = out[0].as<float>();
  if (!p.linear) {
    std::vector<std::vector<int64_t>> src(rank);
    for (size_t d = 0; d < rank; ++d) {
      for (int64_t i = 0; i < p.out[d]; ++i) {
        src[d].push_back(resize_nearest(p, i, x[d], p.out[d], p.scales[d]));
      }
    }
    const auto stride = strides_of(x);
    std::vector<int64_t> idx(rank, 0);
    const int64_t total = out[0].count();
    for (int64_t k = 0; k < total; ++k) {
      int64_t off = 0;
      for (size_t d = 0; d < rank; ++d) off += src[d][idx[d]] * stride[d];
      o[k] = in[off];
      next_index(p.out, &idx);
    }
    return {};
  }
  // Linear along the last two axes (one when the input has rank 1).
  const bool two = rank >= 2;
  const int64_t ih = two ? x[rank - 2] : 1, iw = x[rank - 1];
  const int64_t oh = two ? p.out[rank - 2] : 1, ow = p.out[rank - 1];
  const auto ty = two ? linear_taps(p, ih, oh, p.scales[rank - 2]) : std::vector<Tap>{{0, 0, 0}};
  const auto tx = linear_taps(p, iw, ow, p.scales[rank - 1]);
  const int64_t planes = element_count(x) / (ih * iw);
#pragma omp parallel for if (planes * oh * ow > (1 << 16))
  for (int64_t c = 0; c < planes; ++c) {
    const float* src = in + c * ih * iw;
    float* dst = o + c * oh * ow;
    for (int64_t y = 0; y < oh; ++y) {
      const float* r0 = src + ty[y].i0 * iw;
      const float* r1 = src + ty[y].i1 * iw;
      for (int64_t xo = 0; xo < ow; ++xo) {
        const Tap& t = tx[xo];
        const float top = r0[t.i0] + (r0[t.i1] - r0[t.i0]) * t.w;
        const float bottom = r1[t.i0] + (r1[t.i1] - r1[t.i0]) * t.w;
        dst[y * ow + xo] = top + (bottom - top) * ty[y].w;
      }
    }
  }
  return {};
}

// ---- Softmax, LogSoftmax ----

Result<std::vector<TypedShape>> softmax_infer(const Operands& a) {
  if (Status s = need_float(a, 0); !s.ok()) return s;
  if (auto d = softmax_dims(a); !d.ok()) return d.status();
  return std::vector<TypedShape>{{DType::kFloat32, a.shape(0)}};
}

Status softmax_plain(const Operands& a, const std::vector<View>& out) {
  const AxisDims d = softmax_dims(a).value();
  const bool log = a.node.op == "LogSoftmax";
  const float* in = a.in[0].as<float>();
  float* o = out[0].as<float>();
  for (int64_t i = 0; i < d.outer; ++i) {
    for (int64_t j = 0; j < d.inner; ++j) {
      const int64_t base = i * d.axis * d.inner + j;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t k = 0; k < d.axis; ++k) mx = std::max(mx, in[base + k * d.inner]);
      float sum = 0;
      for (int64_t k = 0; k < d.axis; ++k) sum += std::exp(in[base + k * d.inner] - mx);
      for (int64_t k = 0; k < d.axis; ++k) {
        const float v = in[base + k * d.inner] - mx;
        o[base + k * d.inner] = log ? v - std::log(sum) : std::exp(v) / sum;
      }
    }
  }
  return {};
}

// ---- MatMul, Gemm ----

struct MatMulDims {
  Shape batch;  // broadcast batch dims of the output
  int64_t m = 1, k = 1, n = 1;
  Shape a_batch, b_batch;  // each operand's batch dims
  Shape out;
};

Result<MatMulDims> matmul_dims(const Operands& a) {
  Shape sa = a.shape(0), sb = a.shape(1);
  if (sa.empty() || sb.empty()) return a.error("multiplies a scalar");
  const bool a_vec = sa.size() == 1, b_vec = sb.size() == 1;
  if (a_vec) sa.insert(sa.begin(), 1);
  if (b_vec) sb.push_back(1);
  MatMulDims d;
  d.m = sa[sa.size() - 2];
  d.k = sa.back();
  d.n = sb.back();
  if (sb[sb.size() - 2] != d.k) {
    return a.error("multiplies " + shape_string(a.shape(0)) + " by " + shape_string(a.shape(1)) +
                   ", whose inner dimensions differ");
  }
  d.a_batch.assign(sa.begin(), sa.end() - 2);
  d.b_batch.assign(sb.begin(), sb.end() - 2);
  const auto batch = broadcast_shapes({d.a_batch, d.b_batch});
  if (!batch) return a.error("has batch dimensions that do not broadcast");
  d.batch = *batch;
  d.out = d.batch;
  if (!a_vec) d.out.push_back(d.m);
  if (!b_vec) d.out.push_back(d.n);
  return d;
}

Result<std::vector<TypedShape>> matmul_infer(const Operands& a) {
  if (Status s = need_float(a, 0); !s.ok()) return s;
  if (Status s = need_float(a, 1); !s.ok()) return s;
  auto d = matmul_dims(a);
  if (!d.ok()) return d.status();
  return std::vector<TypedShape>{{DType::kFloat32, d->out}};
}

Status matmul_plain(const Operands& a, const std::vector<View>& out) {
  const MatMulDims d = matmul_dims(a).value();
  const auto sa = broadcast_strides(d.a_batch, d.batch);
  const auto sb = broadcast_strides(d.b_batch, d.batch);
  const int64_t batches = element_count(d.batch);
  const float* pa = a.in[0].as<float>();
  const float* pb = a.in[1].as<float>();
  float* po = out[0].as<float>();
  for (int64_t b = 0; b < batches; ++b) {
    int64_t oa = 0, ob = 0, rem = b;
    for (size_t i = d.batch.size(); i-- > 0;) {
      const int64_t idx = rem % d.batch[i];
      rem /= d.batch[i];
      oa += idx * sa[i];
      ob += idx * sb[i];
    }
    const float* ma = pa + oa * d.m * d.k;
    const float* mb = pb + ob * d.k * d.n;
    float* mo = po + b * d.m * d.n;
#pragma omp parallel for if (d.m * d.n * d.k > (1 << 18))
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) mo[i * d.n + j] = 0;
      for (int64_t k = 0; k < d.k; ++k) {
        const float v = ma[i * d.k + k];
        for (int64_t j = 0; j < d.n; ++j) mo[i * d.n + j] += v * mb[k * d.n + j];
      }
    }
  }
  return {};
}

Result<std::vector<TypedShape>> gemm_infer(const Operands& a) {
  if (Status s = need_float(a, 0); !s.ok()) return s;
  const Shape &sa = a.shape(0), &sb = a.shape(1);
  if (sa.size() != 2 || sb.size() != 2) return a.error("needs 2-D A and B");
  const bool ta = a.node.attr_int("transA", 0), tb = a.node.attr_int("transB", 0);
  const int64_t m = ta ? sa[1] : sa[0], k = ta ? sa[0] : sa[1];
  const int64_t kb = tb ? sb[1] : sb[0], n = tb ? sb[0] : sb[1];
  if (k != kb) {
    return a.error("multiplies " + shape_string(sa) + " by " + shape_string(sb) +
                   ", whose inner dimensions differ");
  }
  if (a.has(2) && !broadcast_shapes({a.shape(2), {m, n}})) {
    return a.error("has C " + shape_string(a.shape(2)) + " that does not broadcast to [" +
                   std::to_string(m) + ", " + std::to_string(n) + "]");
  }
  return std::vector<TypedShape>{{DType::kFloat32, {m, n}}};
}

Status gemm_plain(const Operands& a, const std::vector<View>& out) {
  const Shape &sa = a.shape(0), &sb = a.shape(1);
  const bool ta = a.node.attr_int("transA", 0), tb = a.node.attr_int("transB", 0);
  const float alpha = a.node.attr_float("alpha", 1), beta = a.node.attr_float("beta", 1);
  const int64_t m = out[0].shape[0], n = out[0].shape[1], k = ta ? sa[0] : sa[1];
  const float* pa = a.in[0].as<float>();
  const float* pb = a.in[1].as<float>();
  float* po = out[0].as<float>();
  std::vector<int64_t> sc;
  if (a.has(2)) sc = broadcast_strides(a.shape(2), {m, n});
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float s = 0;
      for (int64_t q = 0; q < k; ++q) {
        s += pa[ta ? q * sa[1] + i : i * sa[1] + q] * pb[tb ? j * sb[1] + q : q * sb[1] + j];
      }
      s *= alpha;
      if (a.has(2)) s += beta * a.in[2].as<float>()[i * sc[0] + j * sc[1]];
      po[i * n + j] = s;
    }
  }
  return {};
}

// ---- reductions, ArgMax/ArgMin, TopK ----

Result<std::vector<TypedShape>> reduce_infer(const Operands& a) {
  if (a.in[0].dtype == DType::kBool) return a.error("reduces a bool tensor");
  auto axes = reduce_axes(a);
  if (!axes.ok()) return axes.status();
  const bool keep = a.node.attr_int("keepdims", 1) != 0;
  Shape out;
  const Shape& x = a.shape(0);
  for (size_t i = 0; i < x.size(); ++i) {
    const bool reduced = std::find(axes->begin(), axes->end(), static_cast<int>(i)) != axes->end();
    if (!reduced) {
      out.push_back(x[i]);
    } else if (keep) {
      out.push_back(1);
    }
  }
  return std::vector<TypedShape>{{a.in[0].dtype, out}};
}

// Calls run(init, step) with the reduction `op`'s start value and step on T, chosen once rather
// than per element.
template <typename T, typename Run>
void with_reduction(const std::string& op, Run run) {
  if (op == "ReduceMax") {
    run(std::numeric_limits<T>::lowest(), [](T acc, T v) { return std::max(acc, v); });
  } else if (op == "ReduceMin") {
    run(std::numeric_limits<T>::max(), [](T acc, T v) { return std::min(acc, v); });
  } else if (op == "ReduceProd") {
    run(T{1}, [](T acc, T v) { return acc * v; });
  } else if (op == "ReduceSumSquare") {
    run(T{0}, [](T acc, T v) { return acc + v * v; });
  } else {  // ReduceSum, ReduceMean
    run(T{0}, [](T acc, T v) { return acc + v; });
  }
}

Status reduce_plain(const Operands& a, const std::vector<View>& out) {
  const auto axes = reduce_axes(a).value();
  const Shape& x = a.shape(0);
  const std::string& op = a.node.op;
  // Output strides over the input's axes, 0 on reduced ones.
  Shape kept = x;
  for (int ax : axes) kept[ax] = 1;
  const auto stride = broadcast_strides(kept, x);
  const int64_t total = a.in[0].count();
  const int64_t group = axes.empty() ? 1 : total / std::max<int64_t>(out[0].count(), 1);
  dispatch(a.in[0].dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* in = a.in[0].as<T>();
    T* o = out[0].as<T>();
    const int64_t n = out[0].count();
    with_reduction<T>(op, [&](T init, auto step) {
      std::fill(o, o + n, init);
      std::vector<int64_t> idx(x.size(), 0);
      for (int64_t i = 0; i < total; ++i) {
        int64_t off = 0;
        for (size_t d = 0; d < x.size(); ++d) off += idx[d] * stride[d];
        o[off] = step(o[off], in[i]);
        next_index(x, &idx);
      }
    });
    if (op == "ReduceMean") {
      for (int64_t i = 0; i < n; ++i) o[i] /= static_cast<T>(group);
    }
  });
  return {};
}

Result<std::vector<TypedShape>> arg_infer(const Operands& a) {
  const Shape& x = a.shape(0);
  auto axis = a.axis_attr(0, x.size());
  if (!axis.ok()) return axis.status();
  Shape out = x;
  if (a.node.attr_int("keepdims", 1)) {
    out[*axis] = 1;
  } else {
    out.erase(out.begin() + *axis);
  }
  return std::vector<TypedShape>{{DType::kInt64, out}};
}

Status arg_plain(const Operands& a, const std::vector<View>& out) {
  const Shape& x = a.shape(0);
  const int axis = a.axis_attr(0, x.size()).value();
  const bool last = a.node.attr_int("select_last_index", 0) != 0;
  const bool max = a.node.op == "ArgMax";
  const auto [outer, dim, inner] = axis_dims(x, axis);
  dispatch(a.in[0].dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* in = a.in[0].as<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < inner; ++j) {
        int64_t best = 0;
        T bv = in[o * dim * inner + j];
        for (int64_t k = 1; k < dim; ++k) {
          const T v = in[(o * dim + k) * inner + j];
          const bool better = max ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
          if (better) {
            best = k;
            bv = v;
          }
        }
        out[0].as<int64_t>()[o * inner + j] = best;
      }
    }
  });
  return {};
}

Result<std::vector<TypedShape>> topk_infer(const Operands& a) {
  const Shape& x = a.shape(0);
  auto axis = a.axis_attr(-1, x.size());
  if (!axis.ok()) return axis.status();
  auto k = a.ints(1, "K");
  if (!k.ok()) return k.status();
  if (k->size() != 1 || (*k)[0] < 0 || (*k)[0] > x[*axis]) {
    return a.error("asks for the top " + (k->empty() ? "?" : std::to_string((*k)[0])) + " of " +
                   std::to_string(x[*axis]) + " values");
  }
  Shape out = x;
  out[*axis] = (*k)[0];
  return std::vector<TypedShape>{{a.in[0].dtype, out}, {DType::kInt64, out}};
}

Status topk_plain(const Operands& a, const std::vector<View>& out) {
  const Shape& x = a.shape(0);
  const int axis = a.axis_attr(-1, x.size()).value();
  const bool largest = a.node.attr_int("largest", 1) != 0;
  const int64_t k = out[0].shape[axis];
  const auto [outer, dim, inner] = axis_dims(x, axis);
  dispatch(a.in[0].dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* in = a.in[0].as<T>();
    T* values = out[0].as<T>();
    int64_t* indices = out[1].as<int64_t>();
    std::vector<int64_t> order(dim);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < inner; ++j) {
        const T* row = in + o * dim * inner + j;
        std::iota(order.begin(), order.end(), 0);
        // Ties keep the lower index first.
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t p, int64_t q) {
          const T vp = row[p * inner], vq = row[q * inner];
          if (vp != vq) return largest ? vp > vq : vp < vq;
          return p < q;
        });
        for (int64_t i = 0; i < k; ++i) {
          const int64_t at = (o * k + i) * inner + j;
          values[at] = row[order[i] * inner];
          indices[at] = order[i];
        }
      }
    }
  });
  return {};
}

}  // namespace

const OpDef kNnOps[] = {
    {"Conv", conv_infer, nullptr},
    {"ConvTranspose", conv_transpose_infer, nullptr},
    {"BatchNormalization", batch_norm_infer, batch_norm_plain},
    {"MaxPool", pool_infer, nullptr},
    {"AveragePool", pool_infer, nullptr},
    {"GlobalAveragePool", global_pool_infer, nullptr},
    {"GlobalMaxPool", global_pool_infer, nullptr},
    {"Resize", resize_infer, resize_plain},
    {"Softmax", softmax_infer, softmax_plain},
    {"LogSoftmax", softmax_infer, softmax_plain},
    {"MatMul", matmul_infer, matmul_plain},
    {"Gemm", gemm_infer, gemm_plain},
    {"ReduceMax", reduce_infer, reduce_plain},
    {"ReduceMin", reduce_infer, reduce_plain},
    {"ReduceMean", reduce_infer, reduce_plain},
    {"ReduceSum", reduce_infer, reduce_plain},
    {"ReduceProd", reduce_infer, reduce_plain},
    {"ReduceSumSquare", reduce_infer, reduce_plain},
    {"ArgMax", arg_infer, arg_plain},
    {"ArgMin", arg_infer, arg_plain},
    {"TopK", topk_infer, topk_plain},
    {nullptr, nullptr, nullptr},
};

}  // namespace iris::runtime
