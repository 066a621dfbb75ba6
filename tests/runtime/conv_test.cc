// Conv and ConvTranspose against direct-loop references on many shapes (grouped, depthwise,
// dilated, strided, padded, odd sizes, 1-D), and the fusions: BatchNormalization into weights,
// activations and residual Adds as post-ops, Pad into the Conv's padding.
#include <algorithm>
#include <cmath>

#include "op_test.h"

namespace iris::runtime {
namespace {

struct ConvCase {
  Shape x, w;
  Ints strides, pads, dilations;  // empty: defaults
  int64_t group = 1;
  bool bias = true;
  std::string auto_pad;
};

Ints or_default(const Ints& v, size_t n, int64_t fill) { return v.empty() ? Ints(n, fill) : v; }

TEST(RuntimeConv, MatchesDirectConvolution) {
  const std::vector<ConvCase> cases = {
      {{1, 3, 13, 11}, {8, 3, 3, 3}, {}, {1, 1, 1, 1}},
      {{2, 5, 9, 10}, {7, 5, 3, 3}, {2, 2}, {0, 1, 1, 2}},                    // strided, uneven
      {{1, 4, 12, 12}, {6, 4, 3, 3}, {}, {2, 2, 2, 2}, {2, 2}},               // dilated
      {{2, 8, 9, 9}, {12, 2, 3, 3}, {}, {1, 1, 1, 1}, {}, 4},                 // grouped
      {{1, 16, 10, 10}, {16, 1, 3, 3}, {}, {1, 1, 1, 1}, {}, 16},             // depthwise
      {{1, 24, 15, 17}, {24, 1, 5, 5}, {2, 2}, {2, 2, 2, 2}, {}, 24},         // dw 5x5 s2
      {{1, 32, 7, 7}, {16, 32, 1, 1}, {}, {}, {}, 1, false},                  // 1x1, no bias
      {{1, 5, 11, 13}, {7, 5, 3, 3}, {2, 2}, {}, {}, 1, true, "SAME_UPPER"},  // auto_pad
      {{1, 5, 10, 13}, {3, 5, 2, 4}, {3, 2}, {}, {}, 1, true, "SAME_LOWER"},  // auto_pad
      {{1, 6, 8, 8}, {4, 6, 3, 3}, {}, {}, {}, 1, true, "VALID"},             // auto_pad
      {{1, 4, 17}, {6, 4, 3}, {2}, {1, 1}},                                   // 1-D
      {{1, 64, 20, 20}, {64, 64, 3, 3}, {}, {1, 1, 1, 1}},                    // dense, wide
      {{3, 3, 6, 6}, {9, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {}, 3},              // channel mult.
  };
  for (const ConvCase& c : cases) {
    both_modes([&](bool fold) {
      SCOPED_TRACE("x " + shape_string(c.x) + " w " + shape_string(c.w) + " group " +
                   std::to_string(c.group) + " " + c.auto_pad);
      const size_t sp = c.x.size() - 2;
      const HostTensor x = random(c.x, -1, 1, 21), w = random(c.w, -0.5f, 0.5f, 22);
      const HostTensor b = random({c.w[0]}, -1, 1, 23);
      GraphBuilder g(fold);
      std::vector<std::string> in = {g.data(x), g.constant(w)};
      if (c.bias) in.push_back(g.constant(b));
      std::vector<A> attrs = {A::i("group", c.group)};
      if (!c.strides.empty()) attrs.push_back(A::is("strides", c.strides));
      if (!c.pads.empty()) attrs.push_back(A::is("pads", c.pads));
      if (!c.dilations.empty()) attrs.push_back(A::is("dilations", c.dilations));
      if (!c.auto_pad.empty()) attrs.push_back(A::s("auto_pad", c.auto_pad));
      g.output(g.node("Conv", in, attrs)[0]);
      const Ints st = or_default(c.strides, sp, 1), dil = or_default(c.dilations, sp, 1);
      Ints pads = or_default(c.pads, 2 * sp, 0);
      if (c.auto_pad.rfind("SAME", 0) == 0) {
        for (size_t i = 0; i < sp; ++i) {
          const int64_t out = (c.x[2 + i] + st[i] - 1) / st[i];
          const int64_t total =
              std::max<int64_t>(0, (out - 1) * st[i] + (c.w[2 + i] - 1) * dil[i] + 1 - c.x[2 + i]);
          pads[i] = c.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
          pads[sp + i] = total - pads[i];
        }
      }
      const HostTensor want = conv_ref(x, w, c.bias ? &b : nullptr, st, pads, dil, c.group);
      const auto out = g.run();
      ASSERT_EQ(out.size(), 1u);
      expect_near(out[0], want, 1e-4f, 1e-4f, "Conv");
    });
  }
}

struct DeconvCase {
  Shape x, w;  // w: [C_in, C_out / group, k...]
  Ints strides, pads, output_padding, dilations;
  int64_t group = 1;
};

HostTensor deconv_ref(const HostTensor& x, const HostTensor& w, const HostTensor& b,
                      const DeconvCase& c) {
  const Shape& xs = x.shape;
  const Shape& ws = w.shape;
  const size_t sp = xs.size() - 2;
  const Ints st = or_default(c.strides, sp, 1), dil = or_default(c.dilations, sp, 1);
  const Ints pads = or_default(c.pads, 2 * sp, 0), op = or_default(c.output_padding, sp, 0);
  const int64_t ocg = ws[1], icg = xs[1] / c.group;
  Shape ys{xs[0], ocg * c.group};
  for (size_t i = 0; i < sp; ++i) {
    ys.push_back(st[i] * (xs[2 + i] - 1) + op[i] + (ws[2 + i] - 1) * dil[i] + 1 - pads[i] -
                 pads[sp + i]);
  }
  std::vector<double> acc(element_count(ys), 0.0);
  const auto yst = row_strides(ys), xst = row_strides(xs), wst = row_strides(ws);
  const Shape kshape(ws.begin() + 2, ws.end());
  for_each_index(xs, [&](const std::vector<int64_t>& i) {
    const int64_t n = i[0], ic = i[1], g = ic / icg;
    int64_t xo = 0;
    for (size_t d = 0; d < xs.size(); ++d) xo += i[d] * xst[d];
    for (int64_t oc = 0; oc < ocg; ++oc) {
      for_each_index(kshape, [&](const std::vector<int64_t>& k) {
        int64_t yo = n * yst[0] + (g * ocg + oc) * yst[1];
        for (size_t d = 0; d < sp; ++d) {
          const int64_t p = i[2 + d] * st[d] - pads[d] + k[d] * dil[d];
          if (p < 0 || p >= ys[2 + d]) return;
          yo += p * yst[2 + d];
        }
        int64_t wo = ic * wst[0] + oc * wst[1];
        for (size_t d = 0; d < sp; ++d) wo += k[d] * wst[2 + d];
        acc[yo] += static_cast<double>(x.data<float>()[xo]) * w.data<float>()[wo];
      });
    }
  });
  HostTensor y = HostTensor::zeros(DType::kFloat32, ys);
  for (size_t k = 0; k < acc.size(); ++k) {
    y.data<float>()[k] = static_cast<float>(acc[k] + b.data<float>()[(k / yst[1]) % ys[1]]);
  }
  return y;
}

TEST(RuntimeConvTranspose, MatchesScatterReference) {
  const std::vector<DeconvCase> cases = {
      {{1, 4, 5, 5}, {4, 6, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}},
      {{1, 4, 6, 6}, {4, 3, 2, 2}, {2, 2}, {}, {}, {}, 2},
      {{2, 3, 5, 7}, {3, 5, 3, 3}, {}, {}, {}, {2, 2}},
      {{1, 8, 4, 4}, {8, 4, 4, 4}, {2, 2}, {1, 1, 1, 1}},
      {{1, 16, 5, 5}, {16, 1, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, {}, 16},
      {{1, 3, 9}, {3, 2, 4}, {3}, {1, 2}},
  };
  for (const DeconvCase& c : cases) {
    both_modes([&](bool fold) {
      SCOPED_TRACE("x " + shape_string(c.x) + " w " + shape_string(c.w));
      const HostTensor x = random(c.x, -1, 1, 31), w = random(c.w, -0.5f, 0.5f, 32);
      const HostTensor b = random({c.w[1] * c.group}, -1, 1, 33);
      GraphBuilder g(fold);
      std::vector<A> attrs = {A::i("group", c.group)};
      if (!c.strides.empty()) attrs.push_back(A::is("strides", c.strides));
      if (!c.pads.empty()) attrs.push_back(A::is("pads", c.pads));
      if (!c.output_padding.empty()) attrs.push_back(A::is("output_padding", c.output_padding));
      if (!c.dilations.empty()) attrs.push_back(A::is("dilations", c.dilations));
      g.output(g.node("ConvTranspose", {g.data(x), g.constant(w), g.constant(b)}, attrs)[0]);
      const auto out = g.run();
      ASSERT_EQ(out.size(), 1u);
      expect_near(out[0], deconv_ref(x, w, b, c), 1e-4f, 1e-4f, "ConvTranspose");
    });
  }
}

// ---- fusion ----

// The op names of the compiled model's layers.
std::vector<std::string> layer_ops(const GraphBuilder& g) {
  auto model = g.compile();
  std::vector<std::string> ops;
  if (!model.ok()) {
    ADD_FAILURE() << model.status().message();
    return ops;
  }
  // Reorders at the graph's NCHW boundaries are not what these tests are about.
  for (const Layer& l : (*model)->layers()) {
    if (l.op != "Reorder") ops.push_back(l.op);
  }
  return ops;
}

TEST(RuntimeFusion, BatchNormFoldsIntoConvWeights) {
  const HostTensor x = random({1, 6, 9, 9}, -1, 1, 41), w = random({10, 6, 3, 3}, -0.5f, 0.5f, 42);
  const HostTensor b = random({10}, -1, 1, 43);
  const HostTensor scale = random({10}, 0.5f, 2, 44), beta = random({10}, -1, 1, 45),
                   mean = random({10}, -1, 1, 46), var = random({10}, 0.1f, 2, 47);
  GraphBuilder g;
  const auto y =
      g.node("Conv", {g.input(x), g.constant(w), g.constant(b)}, {A::is("pads", {1, 1, 1, 1})})[0];
  g.output(g.node("BatchNormalization",
                  {y, g.constant(scale), g.constant(beta), g.constant(mean), g.constant(var)},
                  {A::f("epsilon", 1e-3f)})[0]);
  HostTensor want = conv_ref(x, w, &b, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1);
  const int64_t plane = 81;
  for (int64_t i = 0; i < want.count(); ++i) {
    const int64_t c = (i / plane) % 10;
    const double k = scale.data<float>()[c] / std::sqrt(var.data<float>()[c] + 1e-3);
    want.data<float>()[i] = static_cast<float>((want.data<float>()[i] - mean.data<float>()[c]) * k +
                                               beta.data<float>()[c]);
  }
  expect_near(g.run()[0], want, 1e-4f, 1e-4f, "Conv+BN");
  EXPECT_EQ(layer_ops(g), (std::vector<std::string>{"Conv"}));
}

TEST(RuntimeFusion, ActivationsBecomePostOps) {
  const HostTensor x = random({1, 8, 7, 7}, -1, 1, 51), w = random({8, 8, 3, 3}, -0.5f, 0.5f, 52);
  const HostTensor conv = conv_ref(x, w, nullptr, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1);
  struct Case {
    const char* name;
    std::function<std::string(GraphBuilder&, const std::string&)> build;
    std::function<double(double)> ref;
  };
  const std::vector<Case> cases = {
      {"Relu", [](GraphBuilder& g, const std::string& y) { return g.node("Relu", {y})[0]; },
       [](double v) { return std::max(v, 0.0); }},
      {"Swish",  // SiLU as exported: x * Sigmoid(x)
       [](GraphBuilder& g, const std::string& y) {
         return g.node("Mul", {y, g.node("Sigmoid", {y})[0]})[0];
       },
       [](double v) { return v / (1 + std::exp(-v)); }},
      {"HardSwish",
       [](GraphBuilder& g, const std::string& y) { return g.node("HardSwish", {y})[0]; },
       [](double v) { return v * std::clamp(v + 3, 0.0, 6.0) / 6; }},
      {"Clip",  // ReLU6
       [](GraphBuilder& g, const std::string& y) {
         return g.node("Clip", {y, g.constant(tensor({}, {0})), g.constant(tensor({}, {6}))})[0];
       },
       [](double v) { return std::clamp(v, 0.0, 6.0); }},
      {"Relu",  // LeakyRelu is a Relu with a slope
       [](GraphBuilder& g, const std::string& y) {
         return g.node("LeakyRelu", {y}, {A::f("alpha", 0.2f)})[0];
       },
       [](double v) { return v > 0 ? v : 0.2 * v; }},
      {"Sigmoid", [](GraphBuilder& g, const std::string& y) { return g.node("Sigmoid", {y})[0]; },
       [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"HardSigmoid",  // two oneDNN post-ops: linear, then clip
       [](GraphBuilder& g, const std::string& y) {
         return g.node("HardSigmoid", {y}, {A::f("alpha", 0.25f), A::f("beta", 0.4f)})[0];
       },
       [](double v) { return std::clamp(0.25 * v + 0.4, 0.0, 1.0); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    GraphBuilder g;
    const auto y = g.node("Conv", {g.input(x), g.constant(w)}, {A::is("pads", {1, 1, 1, 1})})[0];
    g.output(c.build(g, y));
    expect_near(g.run()[0], map(conv, c.ref), 1e-4f, 1e-4f, c.name);
    EXPECT_EQ(layer_ops(g), (std::vector<std::string>{std::string("Conv+") + c.name}));
  }
}

TEST(RuntimeFusion, ResidualAddBecomesASumPostOp) {
  const HostTensor x = random({1, 8, 6, 6}, -1, 1, 61);
  const HostTensor w1 = random({8, 8, 3, 3}, -0.5f, 0.5f, 62), w2 = random({8, 8, 1, 1}, -1, 1, 63);
  const HostTensor wd = random({8, 1, 3, 3}, -1, 1, 64);
  const HostTensor rr = map(conv_ref(x, w1, nullptr, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1),
                            [](double v) { return std::max(v, 0.0); });
  const HostTensor dw = conv_ref(rr, wd, nullptr, {1, 1}, {1, 1, 1, 1}, {1, 1}, 8);
  HostTensor want = conv_ref(dw, w2, nullptr, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1);
  for (int64_t i = 0; i < want.count(); ++i) {
    want.data<float>()[i] = std::max(want.data<float>()[i] + rr.data<float>()[i], 0.0f);
  }
  // r = Relu(Conv(x)); y = Relu(Conv_pw(Conv_dw(r)) + r): the BlazeFace block. r dies at the
  // Add, so the pointwise Conv adds onto r's own memory.
  const auto build = [&](GraphBuilder& g, bool swap) {
    const auto r =
        g.node("Relu",
               {g.node("Conv", {g.input(x), g.constant(w1)}, {A::is("pads", {1, 1, 1, 1})})[0]})[0];
    const auto d =
        g.node("Conv", {r, g.constant(wd)}, {A::i("group", 8), A::is("pads", {1, 1, 1, 1})})[0];
    const auto c = g.node("Conv", {d, g.constant(w2)})[0];
    g.output(g.node("Relu", {g.node("Add", swap ? std::vector{r, c} : std::vector{c, r})[0]})[0]);
    return r;
  };
  GraphBuilder g;
  build(g, false);
  expect_near(g.run()[0], want, 1e-4f, 1e-4f, "residual block");
  EXPECT_EQ(layer_ops(g), (std::vector<std::string>{"Conv+Relu", "Conv", "Conv+Sum+Relu"}));

  // When the summand is still needed afterwards, the sum adds onto a copy.
  GraphBuilder keep;
  const auto r = build(keep, true);
  keep.output(keep.node("Sigmoid", {r})[0]);
  const auto out = keep.run();
  ASSERT_EQ(out.size(), 2u);
  expect_near(out[0], want, 1e-4f, 1e-4f, "sum output");
  expect_near(out[1], map(rr, [](double v) { return 1 / (1 + std::exp(-v)); }), 1e-5f, 1e-5f,
              "summand intact");
  EXPECT_EQ(layer_ops(keep),
            (std::vector<std::string>{"Conv+Relu", "Conv", "Copy", "Conv+Sum+Relu", "Sigmoid"}));
}

TEST(RuntimeFusion, ZeroPadFoldsIntoConvPadding) {
  const HostTensor x = random({1, 3, 8, 9}, -1, 1, 71), w = random({4, 3, 3, 3}, -0.5f, 0.5f, 72);
  GraphBuilder g;
  const auto p = g.node("Pad", {g.input(x), g.constant(ints({0, 0, 1, 2, 0, 0, 2, 1}))})[0];
  g.output(g.node("Conv", {p, g.constant(w)}, {A::is("pads", {1, 0, 0, 1})})[0]);
  expect_near(g.run()[0], conv_ref(x, w, nullptr, {1, 1}, {2, 2, 2, 2}, {1, 1}, 1), 1e-4f, 1e-4f,
              "Pad+Conv");
  EXPECT_EQ(layer_ops(g), (std::vector<std::string>{"Conv"}));
}

TEST(RuntimeConv, ThreadCountsAgree) {
  const HostTensor x = random({2, 32, 24, 24}, -1, 1, 35),
                   w = random({48, 32, 3, 3}, -0.5f, 0.5f, 36);
  GraphBuilder g;
  g.output(g.node("Relu", {g.node("Conv", {g.input(x), g.constant(w)},
                                  {A::is("pads", {1, 1, 1, 1}), A::is("strides", {2, 2})})[0]})[0]);
  const auto one = g.run(1), two = g.run(2);
  ASSERT_EQ(one.size(), 1u);
  ASSERT_EQ(two.size(), 1u);
  expect_near(two[0], one[0], 1e-5f, 1e-5f, "2 threads vs 1");
  expect_near(one[0],
              map(conv_ref(x, w, nullptr, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1),
                  [](double v) { return std::max(v, 0.0); }),
              1e-4f, 1e-4f, "vs reference");
}

}  // namespace
}  // namespace iris::runtime
