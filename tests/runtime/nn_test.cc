// Pooling, Resize (every coordinate mode the runtime takes), Softmax, MatMul, Gemm,
// reductions, ArgMax/ArgMin, TopK and BatchNormalization against plain-loop references.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "op_test.h"

namespace iris::runtime {
namespace {

// ---- pooling ----

struct PoolCase {
  const char* op;
  Shape x;
  Ints kernel, strides, pads, dilations;
  bool ceil = false;
  bool include_pad = false;
};

HostTensor pool_ref(const HostTensor& x, const PoolCase& c) {
  const Shape& xs = x.shape;
  const size_t sp = xs.size() - 2;
  const bool max = std::string(c.op) == "MaxPool";
  const Ints st = c.strides.empty() ? Ints(sp, 1) : c.strides;
  const Ints pads = c.pads.empty() ? Ints(2 * sp, 0) : c.pads;
  const Ints dil = c.dilations.empty() ? Ints(sp, 1) : c.dilations;
  Shape ys{xs[0], xs[1]};
  for (size_t i = 0; i < sp; ++i) {
    const int64_t span = xs[2 + i] + pads[i] + pads[sp + i] - ((c.kernel[i] - 1) * dil[i] + 1);
    int64_t o = (c.ceil ? (span + st[i] - 1) / st[i] : span / st[i]) + 1;
    if (c.ceil && (o - 1) * st[i] >= xs[2 + i] + pads[i]) --o;
    ys.push_back(o);
  }
  HostTensor y = HostTensor::zeros(DType::kFloat32, ys);
  const auto xst = row_strides(xs);
  int64_t at = 0;
  for_each_index(ys, [&](const std::vector<int64_t>& o) {
    double acc = max ? -std::numeric_limits<double>::infinity() : 0;
    int64_t count = 0;
    for_each_index(Shape(c.kernel.begin(), c.kernel.end()), [&](const std::vector<int64_t>& k) {
      int64_t off = o[0] * xst[0] + o[1] * xst[1];
      bool inside = true;
      for (size_t i = 0; i < sp; ++i) {
        const int64_t p = o[2 + i] * st[i] - pads[i] + k[i] * dil[i];
        if (p < 0 || p >= xs[2 + i]) inside = false;
        off += p * xst[2 + i];
      }
      if (!inside) {
        count += c.include_pad;
        return;
      }
      const double v = x.data<float>()[off];
      acc = max ? std::max(acc, v) : acc + v;
      ++count;
    });
    y.data<float>()[at++] = static_cast<float>(max ? acc : acc / count);
  });
  return y;
}

TEST(RuntimePool, MaxAndAverageMatchReference) {
  const std::vector<PoolCase> cases = {
      {"MaxPool", {1, 3, 8, 8}, {2, 2}, {2, 2}},
      {"MaxPool", {2, 5, 9, 11}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
      {"MaxPool", {1, 4, 10, 10}, {5, 5}, {1, 1}, {2, 2, 2, 2}},  // SPPF
      {"MaxPool", {1, 3, 9, 9}, {3, 3}, {2, 2}, {}, {}, true},    // ceil_mode
      {"MaxPool", {1, 2, 12, 12}, {3, 3}, {1, 1}, {}, {2, 2}},    // dilated
      {"AveragePool", {1, 6, 8, 8}, {2, 2}, {2, 2}},
      {"AveragePool", {1, 3, 7, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
      {"AveragePool", {1, 3, 7, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, false, true},
      {"AveragePool", {1, 4, 11}, {3}, {2}, {1, 1}},  // 1-D
  };
  for (const PoolCase& c : cases) {
    both_modes([&](bool fold) {
      SCOPED_TRACE(std::string(c.op) + " " + shape_string(c.x));
      const HostTensor x = random(c.x, -1, 1, 81);
      GraphBuilder g(fold);
      std::vector<A> attrs = {A::is("kernel_shape", c.kernel)};
      if (!c.strides.empty()) attrs.push_back(A::is("strides", c.strides));
      if (!c.pads.empty()) attrs.push_back(A::is("pads", c.pads));
      if (!c.dilations.empty()) attrs.push_back(A::is("dilations", c.dilations));
      if (c.ceil) attrs.push_back(A::i("ceil_mode", 1));
      if (c.include_pad) attrs.push_back(A::i("count_include_pad", 1));
      g.output(g.node(c.op, {g.data(x)}, attrs)[0]);
      expect_near(g.run()[0], pool_ref(x, c), 1e-5f, 1e-5f, c.op);
    });
  }
}

TEST(RuntimePool, GlobalPools) {
  const HostTensor x = random({2, 5, 7, 3}, -1, 1, 82);
  both_modes([&](bool fold) {
    GraphBuilder g(fold);
    g.output(g.node("GlobalAveragePool", {g.data(x)})[0]);
    g.output(g.node("GlobalMaxPool", {g.data(x)})[0]);
    const auto out = g.run();
    ASSERT_EQ(out.size(), 2u);
    HostTensor avg = HostTensor::zeros(DType::kFloat32, {2, 5, 1, 1}), mx = avg;
    for (int64_t i = 0; i < 10; ++i) {
      const float* p = x.data<float>() + i * 21;
      avg.data<float>()[i] = std::accumulate(p, p + 21, 0.0f) / 21;
      mx.data<float>()[i] = *std::max_element(p, p + 21);
    }
    expect_near(out[0], avg, 1e-5f, 1e-5f, "GlobalAveragePool");
    expect_near(out[1], mx, 0, 0, "GlobalMaxPool");
  });
}

// ---- Resize ----

struct ResizeCase {
  Shape x;
  Floats scales;  // or
  Ints sizes;
  std::string mode, transform, nearest;
};

// The ONNX Resize spec, one axis at a time.
double source(const ResizeCase& c, int64_t o, int64_t in, int64_t out, double scale) {
  if (c.transform == "align_corners") return out == 1 ? 0 : o * double(in - 1) / (out - 1);
  if (c.transform == "asymmetric") return o / scale;
  if (c.transform == "pytorch_half_pixel" && out == 1) return 0;
  return (o + 0.5) / scale - 0.5;
}

HostTensor resize_ref(const HostTensor& x, const ResizeCase& c) {
  const Shape& xs = x.shape;
  const size_t r = xs.size();
  Shape ys = xs;
  std::vector<double> scale(r);
  for (size_t i = 0; i < r; ++i) {
    if (!c.scales.empty()) {
      ys[i] = static_cast<int64_t>(std::floor(xs[i] * c.scales[i]));
      scale[i] = c.scales[i];
    } else {
      ys[i] = c.sizes[i];
      scale[i] = double(c.sizes[i]) / xs[i];
    }
  }
  HostTensor y = HostTensor::zeros(DType::kFloat32, ys);
  const auto xst = row_strides(xs);
  int64_t at = 0;
  for_each_index(ys, [&](const std::vector<int64_t>& o) {
    if (c.mode == "nearest") {
      int64_t off = 0;
      for (size_t i = 0; i < r; ++i) {
        const double s = source(c, o[i], xs[i], ys[i], scale[i]);
        double v;
        if (c.nearest == "floor") {
          v = std::floor(s);
        } else if (c.nearest == "ceil") {
          v = std::ceil(s);
        } else if (c.nearest == "round_prefer_ceil") {
          v = std::floor(s + 0.5);
        } else {
          v = s - std::floor(s) == 0.5 ? std::floor(s) : std::round(s);
        }
        off += std::clamp<int64_t>(static_cast<int64_t>(v), 0, xs[i] - 1) * xst[i];
      }
      y.data<float>()[at++] = x.data<float>()[off];
      return;
    }
    // Linear: separable over every axis whose size changes (here the last two).
    double acc = 0;
    const size_t first = r - 2;
    int64_t base = 0;
    for (size_t i = 0; i < first; ++i) base += o[i] * xst[i];
    for (int corner = 0; corner < 4; ++corner) {
      double w = 1;
      int64_t off = base;
      for (size_t k = 0; k < 2; ++k) {
        const size_t i = first + k;
        const double s = std::max(0.0, source(c, o[i], xs[i], ys[i], scale[i]));
        const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(s), xs[i] - 1);
        const int64_t i1 = std::min<int64_t>(i0 + 1, xs[i] - 1);
        const double f = i0 == xs[i] - 1 ? 0 : s - i0;
        const bool hi = (corner >> k) & 1;
        w *= hi ? f : 1 - f;
        off += (hi ? i1 : i0) * xst[i];
      }
      acc += w * x.data<float>()[off];
    }
    y.data<float>()[at++] = static_cast<float>(acc);
  });
  return y;
}

TEST(RuntimeResize, EveryCoordinateModeMatchesTheSpec) {
  const std::vector<ResizeCase> cases = {
      // torch nn.Upsample(scale_factor=2): oneDNN's nearest
      {{1, 3, 5, 7}, {1, 1, 2, 2}, {}, "nearest", "asymmetric", "floor"},
      {{1, 2, 4, 4}, {1, 1, 3, 3}, {}, "nearest", "half_pixel", "round_prefer_floor"},
      {{1, 2, 4, 6}, {1, 1, 2, 2}, {}, "linear", "half_pixel", ""},  // oneDNN's linear
      {{1, 2, 4, 6}, {1, 1, 2, 2}, {}, "linear", "pytorch_half_pixel", ""},
      // plain kernel: modes oneDNN does not share
      {{1, 2, 4, 5}, {1, 1, 2, 2}, {}, "nearest", "asymmetric", "round_prefer_ceil"},
      {{1, 2, 5, 7}, {}, {1, 2, 7, 11}, "nearest", "half_pixel", "round_prefer_floor"},
      {{1, 2, 6, 6}, {}, {1, 2, 4, 3}, "nearest", "asymmetric", "ceil"},
      {{1, 2, 4, 5}, {}, {1, 2, 7, 9}, "linear", "align_corners", ""},
      {{1, 2, 4, 5}, {1, 1, 2.5f, 1.5f}, {}, "linear", "asymmetric", ""},
      {{2, 3, 8, 8}, {}, {2, 3, 5, 3}, "linear", "half_pixel", ""},  // downscale
  };
  for (const ResizeCase& c : cases) {
    both_modes([&](bool fold) {
      SCOPED_TRACE(c.mode + " " + c.transform + " " + c.nearest + " " + shape_string(c.x));
      const HostTensor x = random(c.x, -1, 1, 91);
      GraphBuilder g(fold, 13);
      std::vector<A> attrs = {A::s("mode", c.mode),
                              A::s("coordinate_transformation_mode", c.transform)};
      if (!c.nearest.empty()) attrs.push_back(A::s("nearest_mode", c.nearest));
      const std::string roi = g.constant(tensor({0}, {}));
      std::vector<std::string> in = {g.data(x), roi};
      if (!c.scales.empty()) {
        in.push_back(g.constant(tensor({4}, c.scales)));
      } else {
        in.push_back(g.constant(tensor({0}, {})));
        in.push_back(g.constant(ints(c.sizes)));
      }
      g.output(g.node("Resize", in, attrs)[0]);
      expect_near(g.run()[0], resize_ref(x, c), 1e-5f, 1e-5f, "Resize");
    });
  }
}

TEST(RuntimeResize, UpsampleAndResize10AreAsymmetricFloor) {
  const HostTensor x = random({1, 2, 3, 4}, -1, 1, 92);
  const ResizeCase c{{1, 2, 3, 4}, {1, 1, 2, 3}, {}, "nearest", "asymmetric", "floor"};
  GraphBuilder up(false, 9);
  up.output(up.node("Upsample", {up.input(x), up.constant(tensor({4}, c.scales))},
                    {A::s("mode", "nearest")})[0]);
  expect_near(up.run()[0], resize_ref(x, c), 0, 0, "Upsample-9");
  GraphBuilder up7(false, 7);
  up7.output(up7.node("Upsample", {up7.input(x)},
                      {A::s("mode", "nearest"), A::fs("scales", c.scales)})[0]);
  expect_near(up7.run()[0], resize_ref(x, c), 0, 0, "Upsample-7");
  GraphBuilder r10(false, 10);
  r10.output(r10.node("Resize", {r10.input(x), r10.constant(tensor({4}, c.scales))})[0]);
  expect_near(r10.run()[0], resize_ref(x, c), 0, 0, "Resize-10");
}

// ---- Softmax ----

TEST(RuntimeSoftmax, AnyAxisAndTheOldFlatteningForm) {
  const HostTensor x = random({2, 3, 4, 5}, -3, 3, 101);
  const auto ref = [&](int64_t outer, int64_t len, int64_t inner, bool log) {
    HostTensor y = x;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        double mx = -1e30, sum = 0;
        for (int64_t k = 0; k < len; ++k)
          mx = std::max<double>(mx, x.data<float>()[(o * len + k) * inner + i]);
        for (int64_t k = 0; k < len; ++k)
          sum += std::exp(x.data<float>()[(o * len + k) * inner + i] - mx);
        for (int64_t k = 0; k < len; ++k) {
          const double v = x.data<float>()[(o * len + k) * inner + i] - mx;
          y.data<float>()[(o * len + k) * inner + i] =
              static_cast<float>(log ? v - std::log(sum) : std::exp(v) / sum);
        }
      }
    }
    return y;
  };
  both_modes([&](bool fold) {
    for (const char* op : {"Softmax", "LogSoftmax"}) {
      const bool log = std::string(op) == "LogSoftmax";
      GraphBuilder g(fold);
      g.output(g.node(op, {g.data(x)}, {A::i("axis", 1)})[0]);
      g.output(g.node(op, {g.data(x)})[0]);  // axis -1
      g.output(g.node(op, {g.data(x)}, {A::i("axis", -2)})[0]);
      const auto out = g.run();
      ASSERT_EQ(out.size(), 3u);
      expect_near(out[0], ref(2, 3, 20, log), 1e-5f, 1e-5f, "axis 1");
      expect_near(out[1], ref(24, 5, 1, log), 1e-5f, 1e-5f, "axis -1");
      expect_near(out[2], ref(6, 4, 5, log), 1e-5f, 1e-5f, "axis -2");
      // Opset < 13 flattens at the axis: axis 1 means over 3 x 4 x 5 at once.
      GraphBuilder old(fold, 11);
      old.output(old.node(op, {old.data(x)})[0]);
      expect_near(old.run()[0], ref(2, 60, 1, log), 1e-5f, 1e-5f, "opset 11");
    }
  });
}

// ---- MatMul, Gemm ----

HostTensor matmul_ref(const HostTensor& a, const HostTensor& b) {
  Shape sa = a.shape, sb = b.shape;
  const bool av = sa.size() == 1, bv = sb.size() == 1;
  if (av) sa.insert(sa.begin(), 1);
  if (bv) sb.push_back(1);
  const int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  const Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const Shape batch = broadcast(ba, bb);
  const auto sta = broadcast_strides_of(ba, batch), stb = broadcast_strides_of(bb, batch);
  Shape ys = batch;
  if (!av) ys.push_back(m);
  if (!bv) ys.push_back(n);
  HostTensor y = HostTensor::zeros(DType::kFloat32, ys);
  int64_t at = 0;
  for_each_index(batch, [&](const std::vector<int64_t>& idx) {
    int64_t oa = 0, ob = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
      oa += idx[d] * sta[d];
      ob += idx[d] * stb[d];
    }
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q) {
          s += double(a.data<float>()[oa * m * k + i * k + q]) *
               b.data<float>()[ob * k * n + q * n + j];
        }
        y.data<float>()[at++] = static_cast<float>(s);
      }
    }
  });
  return y;
}

TEST(RuntimeMatMul, BatchedBroadcastAndVectors) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{4, 6}, {6, 5}}, {{2, 3, 4, 6}, {6, 5}},    {{2, 1, 4, 6}, {3, 6, 5}}, {{6}, {6, 5}},
      {{2, 4, 6}, {6}}, {{1, 17, 33}, {1, 33, 9}}, {{3, 2, 5}, {3, 5, 4}},
  };
  for (const auto& [sa, sb] : cases) {
    for (bool const_b : {false, true}) {
      both_modes([&](bool fold) {
        SCOPED_TRACE(shape_string(sa) + " x " + shape_string(sb) + (const_b ? " const B" : ""));
        const HostTensor a = random(sa, -1, 1, 111), b = random(sb, -1, 1, 112);
        GraphBuilder g(fold);
        g.output(g.node("MatMul", {g.data(a), const_b ? g.constant(b) : g.data(b)})[0]);
        expect_near(g.run()[0], matmul_ref(a, b), 1e-4f, 1e-4f, "MatMul");
      });
    }
  }
}

TEST(RuntimeGemm, TransposesAlphaBetaAndBias) {
  struct Case {
    bool ta, tb;
    float alpha, beta;
    Shape c;  // empty: no C
    bool const_b;
  };
  const std::vector<Case> cases = {
      {false, false, 1, 1, {5}, true},      {false, true, 1, 1, {1, 5}, true},
      {true, false, 0.5f, 2, {4, 5}, true}, {true, true, 2, 1, {}, true},
      {false, true, 1, 1, {5}, false},      {false, false, 1.5f, 0.5f, {4, 1}, false},
  };
  const int64_t m = 4, k = 6, n = 5;
  for (const Case& c : cases) {
    both_modes([&](bool fold) {
      SCOPED_TRACE(std::to_string(c.ta) + std::to_string(c.tb) + " C " + shape_string(c.c));
      const HostTensor a = random(c.ta ? Shape{k, m} : Shape{m, k}, -1, 1, 121);
      const HostTensor b = random(c.tb ? Shape{n, k} : Shape{k, n}, -1, 1, 122);
      const HostTensor cc = random(c.c.empty() ? Shape{1} : c.c, -1, 1, 123);
      GraphBuilder g(fold);
      std::vector<std::string> in = {g.data(a), c.const_b ? g.constant(b) : g.data(b)};
      if (!c.c.empty()) in.push_back(g.constant(cc));
      g.output(g.node("Gemm", in,
                      {A::i("transA", c.ta), A::i("transB", c.tb), A::f("alpha", c.alpha),
                       A::f("beta", c.beta)})[0]);
      HostTensor want = HostTensor::zeros(DType::kFloat32, {m, n});
      const auto cst = c.c.empty() ? std::vector<int64_t>{} : broadcast_strides_of(c.c, {m, n});
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (int64_t q = 0; q < k; ++q) {
            s += double(a.data<float>()[c.ta ? q * m + i : i * k + q]) *
                 b.data<float>()[c.tb ? j * k + q : q * n + j];
          }
          s *= c.alpha;
          if (!c.c.empty()) s += c.beta * cc.data<float>()[i * cst[0] + j * cst[1]];
          want.data<float>()[i * n + j] = static_cast<float>(s);
        }
      }
      expect_near(g.run()[0], want, 1e-4f, 1e-4f, "Gemm");
    });
  }
}

// ---- reductions, arg, topk ----

TEST(RuntimeReduce, AxesKeepdimsAndAll) {
  const HostTensor x = random({2, 3, 4, 5}, 0.5f, 1.5f, 131);
  struct Case {
    const char* op;
    Ints axes;
    bool keep;
  };
  const std::vector<Case> cases = {
      {"ReduceMean", {2, 3}, true}, {"ReduceMax", {1}, false},    {"ReduceMin", {-1}, true},
      {"ReduceSum", {}, false},     {"ReduceProd", {0, 2}, true}, {"ReduceSumSquare", {3}, true},
      {"ReduceMean", {1}, false},
  };
  for (const Case& c : cases) {
    both_modes([&](bool fold) {
      SCOPED_TRACE(std::string(c.op) + " axes " + shape_string(c.axes));
      std::vector<bool> reduced(4, c.axes.empty());
      for (int64_t a : c.axes) reduced[a < 0 ? a + 4 : a] = true;
      Shape kept, out;
      for (size_t i = 0; i < 4; ++i) {
        kept.push_back(reduced[i] ? 1 : x.shape[i]);
        if (!reduced[i] || c.keep) out.push_back(reduced[i] ? 1 : x.shape[i]);
      }
      const std::string op = c.op;
      std::vector<double> acc(element_count(kept), op == "ReduceMax"    ? -1e30
                                                   : op == "ReduceMin"  ? 1e30
                                                   : op == "ReduceProd" ? 1
                                                                        : 0);
      const auto kst = broadcast_strides_of(kept, x.shape);
      int64_t at = 0;
      for_each_index(x.shape, [&](const std::vector<int64_t>& idx) {
        int64_t o = 0;
        for (size_t d = 0; d < 4; ++d) o += idx[d] * kst[d];
        const double v = x.data<float>()[at++];
        if (op == "ReduceMax")
          acc[o] = std::max(acc[o], v);
        else if (op == "ReduceMin")
          acc[o] = std::min(acc[o], v);
        else if (op == "ReduceProd")
          acc[o] *= v;
        else if (op == "ReduceSumSquare")
          acc[o] += v * v;
        else
          acc[o] += v;
      });
      HostTensor want = HostTensor::zeros(DType::kFloat32, out);
      const double group = double(x.count()) / acc.size();
      for (size_t i = 0; i < acc.size(); ++i) {
        want.data<float>()[i] = static_cast<float>(op == "ReduceMean" ? acc[i] / group : acc[i]);
      }
      GraphBuilder g(fold);
      std::vector<std::string> in = {g.data(x)};
      if (!c.axes.empty()) in.push_back(g.constant(ints(c.axes)));
      g.output(g.node(c.op, in, {A::i("keepdims", c.keep)})[0]);
      expect_near(g.run()[0], want, 1e-5f, 1e-4f, c.op);
    });
  }
}

TEST(RuntimeArgTopK, ArgMaxArgMinAndTopK) {
  const HostTensor x = tensor({2, 5}, {3, 1, 4, 1, 5, 9, 2, 6, 5, 3});
  both_modes([&](bool fold) {
    GraphBuilder g(fold);
    g.output(g.node("ArgMax", {g.data(x)}, {A::i("axis", 1)})[0]);
    g.output(g.node("ArgMin", {g.data(x)}, {A::i("axis", 1), A::i("keepdims", 0)})[0]);
    g.output(g.node("ArgMin", {g.data(x)}, {A::i("axis", 1), A::i("select_last_index", 1)})[0]);
    const auto top = g.node("TopK", {g.data(x), g.constant(ints({3}))}, {}, 2);
    g.output(top[0]);
    g.output(top[1]);
    const auto low = g.node("TopK", {g.data(x), g.constant(ints({2}))},
                            {A::i("axis", 0), A::i("largest", 0)}, 2);
    g.output(low[0]);
    g.output(low[1]);
    const auto out = g.run();
    ASSERT_EQ(out.size(), 7u);
    expect_equal(out[0], ints({2, 1}, {4, 0}), "ArgMax");
    expect_equal(out[1], ints({2}, {1, 1}), "ArgMin, first of ties");
    expect_equal(out[2], ints({2, 1}, {3, 1}), "ArgMin, last of ties");
    expect_equal(out[3], tensor({2, 3}, {5, 4, 3, 9, 6, 5}), "TopK values");
    expect_equal(out[4], ints({2, 3}, {4, 2, 0, 0, 2, 3}), "TopK indices");
    expect_equal(out[5], tensor({2, 5}, {3, 1, 4, 1, 3, 9, 2, 6, 5, 5}), "TopK smallest values");
    expect_equal(out[6], ints({2, 5}, {0, 0, 0, 0, 1, 1, 1, 1, 1, 0}), "TopK smallest indices");
  });
}

TEST(RuntimeBatchNorm, StandaloneNormalizesPerChannel) {
  const HostTensor x = random({2, 4, 3, 3}, -1, 1, 141);
  const HostTensor s = random({4}, 0.5f, 2, 142), b = random({4}, -1, 1, 143),
                   m = random({4}, -1, 1, 144), v = random({4}, 0.1f, 2, 145);
  HostTensor want = x;
  for (int64_t i = 0; i < x.count(); ++i) {
    const int64_t c = (i / 9) % 4;
    want.data<float>()[i] =
        static_cast<float>((x.data<float>()[i] - m.data<float>()[c]) /
                               std::sqrt(v.data<float>()[c] + 1e-5) * s.data<float>()[c] +
                           b.data<float>()[c]);
  }
  both_modes([&](bool fold) {
    GraphBuilder g(fold);
    g.output(g.node("BatchNormalization",
                    {g.data(x), g.constant(s), g.constant(b), g.constant(m), g.constant(v)})[0]);
    expect_near(g.run()[0], want, 1e-5f, 1e-5f, "BatchNormalization");
  });
}

}  // namespace
}  // namespace iris::runtime
