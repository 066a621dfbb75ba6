// BF16 and INT8 Convs: against references that round the way the precision does (bf16
// operands; int8 data quantized with the calibrated steps, per-channel s8 weights), so a wrong
// scale, bias or activation order shows as a miss, not as noise. Also where tensors stay low
// precision between Convs, the per-layer fallback, and extra outputs.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "op_test.h"

namespace iris::runtime {
namespace {

// `x` rounded to bfloat16 (nearest even), as oneDNN converts.
float bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000u;
  std::memcpy(&x, &u, 4);
  return x;
}

// `x` quantized to the grid of `step` and saturated to [lo, hi] steps, back in real units.
double quantize(double x, double step, double lo, double hi) {
  return std::clamp(std::nearbyint(x / step), lo, hi) * step;
}

// The data of a value read by an INT8 Conv with range `r`: u8 when never negative, else s8 (whose
// step is threshold / 127 but which saturates at -128, as oneDNN's conversions do).
HostTensor quantized(const HostTensor& t, const Range& r) {
  const bool u8 = r.min >= 0;
  const double step = r.threshold / (u8 ? 255 : 127);
  return map(t, [&](double v) { return quantize(v, step, u8 ? 0 : -128, u8 ? 255 : 127); });
}

// Weights [OC, ...] quantized per output channel to symmetric s8.
HostTensor channel_quantized(const HostTensor& w) {
  HostTensor q = w;
  const int64_t n = w.count() / w.shape[0];
  for (int64_t c = 0; c < w.shape[0]; ++c) {
    float m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::abs(w.data<float>()[c * n + i]));
    for (int64_t i = 0; i < n; ++i) {
      float& v = q.data<float>()[c * n + i];
      v = static_cast<float>(quantize(v, m / 127, -127, 127));
    }
  }
  return q;
}

double silu(double v) { return v / (1 + std::exp(-v)); }

std::vector<std::string> layer_precisions(const std::shared_ptr<const Model>& m,
                                          const std::string& op_prefix) {
  std::vector<std::string> out;
  for (const Layer& l : m->layers()) {
    if (l.op.rfind(op_prefix, 0) == 0) out.push_back(l.precision);
  }
  return out;
}

// Conversions to int8 (quantizing steps).
int quantizing(const std::shared_ptr<const Model>& m) {
  return static_cast<int>(std::count_if(m->layers().begin(), m->layers().end(), [](const Layer& l) {
    return l.op == "Reorder" && l.precision == "int8";
  }));
}

// x -> Conv 3x3 + Relu -> r -> grouped Conv 3x3 (4 groups) -> d -> Conv 1x1 + bias + SiLU -> y:
// the second and third Convs read what a Conv wrote, so in BF16 and INT8 r and d never go to
// FP32.
struct Chain {
  HostTensor x = random({1, 8, 9, 10}, -1, 1, 301);
  HostTensor w1 = random({16, 8, 3, 3}, -0.3f, 0.3f, 302), b1 = random({16}, -0.2f, 0.2f, 303);
  HostTensor wd = random({16, 4, 3, 3}, -0.3f, 0.3f, 304);
  HostTensor w3 = random({12, 16, 1, 1}, -0.4f, 0.4f, 305), b3 = random({12}, -0.3f, 0.3f, 306);
  GraphBuilder g;
  std::string in, r, d, y;

  Chain() {
    in = g.input(x);
    r = g.node("Relu", {g.node("Conv", {in, g.constant(w1), g.constant(b1)},
                               {A::is("pads", {1, 1, 1, 1})}, 1, "c1")[0]})[0];
    d = g.node("Conv", {r, g.constant(wd)}, {A::i("group", 4), A::is("pads", {1, 1, 1, 1})}, 1,
               "gc")[0];
    const auto c3 = g.node("Conv", {d, g.constant(w3), g.constant(b3)}, {}, 1, "c3")[0];
    y = g.node("Mul", {c3, g.node("Sigmoid", {c3})[0]})[0];
    g.output(y);
  }

  // The chain with each Conv's operands passed through `data` (activations) and `weights`.
  HostTensor reference(const std::function<HostTensor(const HostTensor&, int)>& data,
                       const std::function<HostTensor(const HostTensor&)>& weights) const {
    const Ints one{1, 1}, pad{1, 1, 1, 1};
    const HostTensor rr = map(conv_ref(data(x, 0), weights(w1), &b1, one, pad, one, 1),
                              [](double v) { return std::max(v, 0.0); });
    const HostTensor dd = conv_ref(data(rr, 1), weights(wd), nullptr, one, pad, one, 4);
    return map(conv_ref(data(dd, 2), weights(w3), &b3, one, {0, 0, 0, 0}, one, 1), silu);
  }
};

TEST(RuntimePrecision, Bf16ConvsRoundOperandsAndKeepBf16BetweenThem) {
  Chain c;
  const auto round = [](const HostTensor& t) { return map(t, [](double v) { return bf16(v); }); };
  const HostTensor want = c.reference([&](const HostTensor& t, int) { return round(t); }, round);
  const HostTensor fp32 = c.reference([](const HostTensor& t, int) { return t; },
                                      [](const HostTensor& t) { return t; });
  const Options options{.threads = 1, .precision = Precision::kBFloat16};
  const auto got = c.g.run(options);
  ASSERT_EQ(got.size(), 1u);
  // Accumulation is FP32 in oneDNN, the reference's in double; the operands are the same bf16.
  expect_near(got[0], want, 2e-3f, 2e-3f, "bf16 chain");
  // And rounding matters at all: the FP32 answer is measurably elsewhere.
  double diff = 0;
  for (int64_t i = 0; i < fp32.count(); ++i) {
    diff = std::max(diff, std::abs(double(fp32.data<float>()[i]) - want.data<float>()[i]));
  }
  EXPECT_GT(diff, 2e-3);

  auto model = c.g.compile(options);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(layer_precisions(*model, "Conv"), (std::vector<std::string>{"bf16", "bf16", "bf16"}));
  // Between the first Conv and the last, tensors stay bf16 (a layout change stays in bf16).
  const auto& layers = (*model)->layers();
  const auto is_conv = [](const Layer& l) { return l.op.rfind("Conv", 0) == 0; };
  const auto first = std::find_if(layers.begin(), layers.end(), is_conv);
  const auto last = std::find_if(layers.rbegin(), layers.rend(), is_conv).base();
  ASSERT_LT(first, last);
  for (auto l = first; l != last; ++l) {
    if (!is_conv(*l)) {
      EXPECT_EQ(l->precision, "bf16") << l->op << " " << l->name;
    }
  }
}

TEST(RuntimePrecision, Int8ConvsQuantizeWithTheCalibratedSteps) {
  Chain c;
  // Ranges as calibration would give them: the input in [-1, 1] (s8), r after Relu (u8), d
  // signed (s8), each cut a little below its largest value so that saturation is exercised.
  const HostTensor fp32 = c.reference([](const HostTensor& t, int) { return t; },
                                      [](const HostTensor& t) { return t; });
  std::vector<Range> ranges{{-1, 0.9f}};
  const auto range_of = [](const HostTensor& t) {
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < t.count(); ++i) {
      lo = std::min(lo, t.data<float>()[i]);
      hi = std::max(hi, std::abs(t.data<float>()[i]));
    }
    return Range{lo, 0.8f * hi};
  };
  // The reference's own intermediate values set the next range, as calibration on FP32 does.
  const Ints one{1, 1}, pad{1, 1, 1, 1};
  const HostTensor rr =
      map(conv_ref(c.x, c.w1, &c.b1, one, pad, one, 1), [](double v) { return std::max(v, 0.0); });
  ranges.push_back(range_of(rr));
  ranges.push_back(range_of(conv_ref(rr, c.wd, nullptr, one, pad, one, 4)));
  ASSERT_GE(ranges[1].min, 0);
  ASSERT_LT(ranges[2].min, 0);

  const HostTensor want = c.reference(
      [&](const HostTensor& t, int k) { return quantized(t, ranges[k]); }, channel_quantized);
  Options options{.threads = 1, .precision = Precision::kInt8};
  options.ranges = {{c.in, ranges[0]}, {c.r, ranges[1]}, {c.d, ranges[2]}};
  const auto got = c.g.run(options);
  ASSERT_EQ(got.size(), 1u);
  // FP32 accumulation order can move an intermediate value across a rounding boundary: one
  // step of r or d, times a weight, is the most one element may move.
  expect_near(got[0], want, 0.02f, 0.0f, "int8 chain");
  double mean_miss = 0, mean_fp32 = 0;
  for (int64_t i = 0; i < want.count(); ++i) {
    mean_miss += std::abs(got[0].data<float>()[i] - want.data<float>()[i]);
    mean_fp32 += std::abs(double(fp32.data<float>()[i]) - want.data<float>()[i]);
  }
  // The quantized reference is far closer to the runtime than FP32 is.
  EXPECT_LT(mean_miss * 10, mean_fp32);

  auto model = c.g.compile(options);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(layer_precisions(*model, "Conv"), (std::vector<std::string>{"int8", "int8", "int8"}));
  EXPECT_EQ(quantizing(*model), 1);  // the input; r and d stay int8
}

TEST(RuntimePrecision, Int8ResidualSumAddsTheRealSummand) {
  // y = Relu(Conv1x1(x) + x), the residual read in FP32 and added after the Conv's scaling.
  const HostTensor x = random({1, 8, 5, 6}, -1, 1, 311), w = random({8, 8, 1, 1}, -0.5f, 0.5f, 312);
  GraphBuilder g;
  const auto in = g.input(x);
  const auto c = g.node("Conv", {in, g.constant(w)})[0];
  g.output(g.node("Relu", {g.node("Add", {c, in})[0]})[0]);
  const Range range{-1, 1};
  HostTensor want =
      conv_ref(quantized(x, range), channel_quantized(w), nullptr, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1);
  for (int64_t i = 0; i < want.count(); ++i) {
    want.data<float>()[i] = std::max(want.data<float>()[i] + x.data<float>()[i], 0.0f);
  }
  Options options{.threads = 1, .precision = Precision::kInt8};
  options.ranges = {{in, range}};
  expect_near(g.run(options)[0], want, 1e-4f, 1e-4f, "int8 residual");
  auto model = g.compile(options);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(layer_precisions(*model, "Conv"), (std::vector<std::string>{"int8"}));
}

TEST(RuntimePrecision, ConvsFallBackToFp32ByNameOrWithoutARange) {
  Chain c;
  Options options{.threads = 1, .precision = Precision::kInt8};
  options.ranges = {{c.in, {-1, 1}}, {c.r, {0, 2}}};  // d has no range: c3 stays FP32
  options.fp32_nodes = {"gc"};
  auto model = c.g.compile(options);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(layer_precisions(*model, "Conv"), (std::vector<std::string>{"int8", "fp32", "fp32"}));
  // c1 writes r in f32 because its reader (gc) is FP32 now: nothing but the input is quantized.
  EXPECT_EQ(quantizing(*model), 1);
  const HostTensor fp32 = c.reference([](const HostTensor& t, int) { return t; },
                                      [](const HostTensor& t) { return t; });
  expect_near(c.g.run(options)[0], fp32, 0.05f, 0.05f, "mostly fp32");
}

TEST(RuntimePrecision, DepthwiseConvsStayFp32InInt8) {
  const HostTensor x = random({1, 8, 6, 6}, -1, 1, 321);
  GraphBuilder g;
  const auto in = g.input(x);
  g.output(g.node("Conv", {in, g.constant(random({8, 1, 3, 3}, -1, 1, 322))},
                  {A::i("group", 8), A::is("pads", {1, 1, 1, 1})})[0]);
  Options options{.threads = 1, .precision = Precision::kInt8};
  options.ranges = {{in, {-1, 1}}};
  auto int8 = g.compile(options);
  ASSERT_TRUE(int8.ok()) << int8.status().message();
  EXPECT_EQ(layer_precisions(*int8, "Conv"), (std::vector<std::string>{"fp32"}));
  options.precision = Precision::kBFloat16;  // BF16 has no per-tensor step to suffer from
  auto bf16 = g.compile(options);
  ASSERT_TRUE(bf16.ok()) << bf16.status().message();
  EXPECT_EQ(layer_precisions(*bf16, "Conv"), (std::vector<std::string>{"bf16"}));
}

TEST(RuntimePrecision, ExtraOutputsReturnIntermediateValuesInFp32) {
  Chain c;
  Options options{.threads = 1, .precision = Precision::kInt8};
  options.ranges = {{c.in, {-1, 1}}, {c.r, {0, 2}}, {c.d, {-1, 2}}};
  options.extra_outputs = {c.r};
  const auto got = c.g.run(options);
  ASSERT_EQ(got.size(), 2u);
  const HostTensor rr = map(conv_ref(quantized(c.x, {-1, 1}), channel_quantized(c.w1), &c.b1,
                                     {1, 1}, {1, 1, 1, 1}, {1, 1}, 1),
                            [](double v) { return std::max(v, 0.0); });
  // r is read out before the next Conv quantizes it: c1's real output.
  expect_near(got[1], rr, 1e-4f, 1e-4f, "r");

  options.extra_outputs = {"no_such_value"};
  auto bad = c.g.compile(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'no_such_value'"), std::string::npos)
      << bad.status().message();
}

TEST(RuntimePrecision, NamesRoundTrip) {
  for (Precision p : {Precision::kFloat32, Precision::kBFloat16, Precision::kInt8}) {
    EXPECT_EQ(parse_precision(precision_name(p)), p);
  }
  EXPECT_FALSE(parse_precision("fp16").has_value());
}

}  // namespace
}  // namespace iris::runtime
