// FidelityMeter against errors computed directly from two runs, choose_fallback finding the
// layer whose range was spoiled, and cross-layer equalization (exact in FP32, chosen from the
// channel ranges calibration saw).
#include "runtime/fidelity.h"

#include <cmath>

#include "op_test.h"
#include "runtime/quantize.h"

namespace iris::runtime {
namespace {

// x -> c1 (3x3) + Relu -> r -> c2 (1x1) -> c -> c3 (1x1) + Relu -> y, and the ranges that
// calibration would give its Conv inputs.
struct Net {
  HostTensor x = random({1, 6, 8, 8}, -1, 1, 401);
  GraphBuilder g;
  std::string in, r, c, y;
  std::map<std::string, Range> ranges;

  Net() {
    in = g.input(x);
    r = g.node("Relu", {g.node("Conv", {in, g.constant(random({8, 6, 3, 3}, -0.4f, 0.4f, 402))},
                               {A::is("pads", {1, 1, 1, 1})}, 1, "c1")[0]})[0];
    c = g.node("Conv", {r, g.constant(random({8, 8, 1, 1}, -0.5f, 0.5f, 403))}, {}, 1, "c2")[0];
    y = g.node("Relu", {g.node("Conv", {c, g.constant(random({4, 8, 1, 1}, -0.5f, 0.5f, 404))}, {},
                               1, "c3")[0]})[0];
    g.output(y);
    Options probe{.threads = 1};
    probe.extra_outputs = {r, c};
    const auto out = g.run(probe);
    ranges[in] = {-1, 1};
    for (size_t k = 0; k < 2; ++k) {
      float lo = 0, hi = 0;
      for (int64_t i = 0; i < out[1 + k].count(); ++i) {
        lo = std::min(lo, out[1 + k].data<float>()[i]);
        hi = std::max(hi, std::abs(out[1 + k].data<float>()[i]));
      }
      ranges[k == 0 ? r : c] = {lo, hi};
    }
  }

  Graph graph() const { return import_onnx(g.bytes(), "model 'net'").value(); }
  Options int8() const {
    Options o{.threads = 1, .precision = Precision::kInt8};
    o.ranges = ranges;
    return o;
  }
  std::vector<View> inputs() const { return {View::of(x)}; }
};

TEST(RuntimeFidelity, MatchesErrorsComputedFromTwoRuns) {
  Net net;
  auto meter = FidelityMeter::create(net.graph(), Options{.threads = 1}, net.int8());
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  ASSERT_TRUE(meter->add(net.inputs()).ok());
  const Fidelity f = meter->result();
  EXPECT_EQ(f.samples, 1);
  ASSERT_EQ(f.layers.size(), 3u);
  ASSERT_EQ(f.outputs.size(), 1u);

  const auto a = net.g.run(1)[0];
  const auto b = net.g.run(net.int8())[0];
  double aa = 0, bb = 0, ab = 0, dd = 0;
  for (int64_t i = 0; i < a.count(); ++i) {
    const double u = a.data<float>()[i], v = b.data<float>()[i];
    aa += u * u, bb += v * v, ab += u * v, dd += (u - v) * (u - v);
  }
  EXPECT_NEAR(f.outputs[0].rel_error, std::sqrt(dd / aa), 1e-9);
  EXPECT_NEAR(f.outputs[0].cosine, ab / std::sqrt(aa * bb), 1e-9);
  EXPECT_GT(f.outputs[0].rel_error, 0);  // INT8 differs at all
  EXPECT_EQ(f.layers[2].output.value, f.outputs[0].value);
  EXPECT_NEAR(f.layers[2].output.rel_error, f.outputs[0].rel_error, 1e-9);
  for (const LayerFidelity& l : f.layers) EXPECT_EQ(l.precision, "int8") << l.site.node;
  EXPECT_EQ(f.layers[0].input.rel_error, 0);  // the model's input is exact
  EXPECT_EQ(f.layers[1].site.input, net.r);

  // FP32 against itself is exact everywhere.
  auto same = FidelityMeter::create(net.graph(), Options{.threads = 1}, Options{.threads = 1});
  ASSERT_TRUE(same.ok());
  ASSERT_TRUE(same->add(net.inputs()).ok());
  for (const LayerFidelity& l : same->result().layers) {
    EXPECT_EQ(l.output.rel_error, 0) << l.site.node;
    EXPECT_NEAR(l.output.cosine, 1, 1e-12) << l.site.node;
    EXPECT_EQ(l.precision, "fp32");
  }
}

TEST(RuntimeFidelity, FallbackMovesTheSpoiledLayerFirst) {
  Net net;
  Options bad = net.int8();
  bad.ranges[net.r].threshold /= 50;  // c2 saturates most of its input
  const std::vector<std::vector<View>> samples{net.inputs()};
  std::set<std::string> fp32;
  auto f = choose_fallback(net.graph(), Options{.threads = 1}, bad, samples, 0.9999, 3, &fp32);
  ASSERT_TRUE(f.ok()) << f.status().message();
  ASSERT_FALSE(fp32.empty());
  EXPECT_EQ(*fp32.begin(), "c2") << "moved: " << fp32.size();
  EXPECT_EQ(f->layers[1].precision, "fp32");
  // The spoiled layer cost far more than what is left.
  auto spoiled = FidelityMeter::create(net.graph(), Options{.threads = 1}, bad);
  ASSERT_TRUE(spoiled.ok());
  ASSERT_TRUE(spoiled->add(net.inputs()).ok());
  EXPECT_LT(spoiled->result().min_output_cosine(), f->min_output_cosine());

  // No fallback allowed: nothing moves, and the result says how far off it is.
  std::set<std::string> none;
  auto kept = choose_fallback(net.graph(), Options{.threads = 1}, bad, samples, 0.9999, 0, &none);
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(none.empty());
  EXPECT_LT(kept->min_output_cosine(), 0.9999);
}

TEST(RuntimeFidelity, EqualizationIsExactInFp32AndEvensTheChannels) {
  Net net;
  auto calibrator = Calibrator::create(net.graph(), Options{.threads = 1});
  ASSERT_TRUE(calibrator.ok()) << calibrator.status().message();
  ASSERT_TRUE(calibrator->add(net.inputs()).ok());
  const auto scales = calibrator->equalization();
  // r (Relu after c1) and c (c2, no activation) feed only dense Convs: both may be scaled.
  ASSERT_EQ(scales.size(), 2u);
  ASSERT_EQ(scales.count(net.r), 1u);
  ASSERT_EQ(scales.at(net.r).size(), 8u);

  Options equalized{.threads = 1};
  equalized.equalize = scales;
  equalized.extra_outputs = {net.r};
  const auto plain = net.g.run(Options{.threads = 1, .extra_outputs = {net.r}});
  const auto eq = net.g.run(equalized);
  expect_near(eq[0], plain[0], 1e-5f, 1e-5f, "equalized output");
  // r itself is r / s per channel, and each channel's range now equals its reader's largest
  // weight on it times s (both sqrt(a w)): the difficulty split evenly.
  const HostTensor w2 = random({8, 8, 1, 1}, -0.5f, 0.5f, 403);  // c2's weights
  for (int64_t c = 0; c < 8; ++c) {
    float a = 0, w = 0;
    for (int64_t i = 0; i < 64; ++i) {
      const float r = plain[1].data<float>()[c * 64 + i], e = eq[1].data<float>()[c * 64 + i];
      EXPECT_NEAR(e * scales.at(net.r)[c], r, 1e-5f);
      a = std::max(a, std::abs(e));
    }
    for (int64_t o = 0; o < 8; ++o) w = std::max(w, std::abs(w2.data<float>()[o * 8 + c]));
    EXPECT_NEAR(a, w * scales.at(net.r)[c], 1e-5f * std::max(a, 1.0f)) << "channel " << c;
  }
  // The meter compares an equalized value in its own units: FP32 with equalization is exact.
  auto meter = FidelityMeter::create(net.graph(), Options{.threads = 1}, equalized);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  ASSERT_TRUE(meter->add(net.inputs()).ok());
  for (const LayerFidelity& l : meter->result().layers) {
    EXPECT_LT(l.output.rel_error, 1e-5) << l.site.node;
    EXPECT_LT(l.input.rel_error, 1e-5) << l.site.node;
  }
  // Scales that do not fit the Conv are refused, naming it.
  equalized.equalize[net.r].pop_back();
  auto bad = net.g.compile(equalized);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("equalization"), std::string::npos);
}

}  // namespace
}  // namespace iris::runtime
