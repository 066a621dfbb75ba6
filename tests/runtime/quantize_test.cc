// Calibration: histogram thresholds on data with known answers, exact growth by doubling, the
// "iris.quantization" metadata through a real .onnx file, conv sites of a fused graph, and the
// Calibrator's ranges against ranges computed directly from the same tensors.
#include "runtime/quantize.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/text.h"
#include "op_test.h"
#include "support/support.h"

namespace iris::runtime {
namespace {

using testing::contains;

Floats uniform(size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Floats v(n);
  for (float& x : v) x = u(rng);
  return v;
}

Floats gaussian(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  Floats v(n);
  for (float& x : v) x = g(rng);
  return v;
}

Histogram histogram_of(const Floats& v) {
  Histogram h;
  h.add(v.data(), v.size());
  return h;
}

float max_abs(const Floats& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

// The exact magnitude below which `fraction` of `v` lies.
float quantile_abs(Floats v, double fraction) {
  for (float& x : v) x = std::fabs(x);
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(fraction * (v.size() - 1))];
}

TEST(RuntimeQuantize, CalibrationNames) {
  for (Calibration c :
       {Calibration::kMinMax, Calibration::kPercentile, Calibration::kEntropy, Calibration::kMse}) {
    EXPECT_EQ(parse_calibration(calibration_name(c)), c);
  }
  EXPECT_EQ(parse_calibration("kl"), std::nullopt);
}

TEST(RuntimeQuantize, UniformDataKeepsItsWholeRange) {
  for (float lo : {-1.0f, 0.0f}) {  // signed (128 levels) and non-negative (256 levels)
    SCOPED_TRACE("uniform over [" + std::to_string(lo) + ", 1)");
    const Floats v = uniform(200000, lo, 1, 3);
    const Histogram h = histogram_of(v);
    EXPECT_EQ(h.count(), static_cast<int64_t>(v.size()));
    EXPECT_EQ(h.min(), *std::min_element(v.begin(), v.end()));
    EXPECT_EQ(h.threshold(Calibration::kMinMax), max_abs(v));
    const float width = h.range() / Histogram::kBins;
    EXPECT_NEAR(h.threshold(Calibration::kPercentile), quantile_abs(v, 0.9999), width);
    EXPECT_NEAR(h.threshold(Calibration::kPercentile, 50), quantile_abs(v, 0.5), width);
    // A flat distribution merges into levels without loss, and any clipping loses mass: the
    // least divergence is at the top.
    EXPECT_NEAR(h.threshold(Calibration::kEntropy), max_abs(v), 2 * width);
  }
}

// The mean squared error of quantizing `v` symmetrically to 127 steps up to `t`.
double quantization_mse(const Floats& v, float t) {
  const double step = t / 127.0;
  double e = 0;
  for (float x : v) {
    const double q = std::clamp(std::nearbyint(x / step), -127.0, 127.0) * step;
    e += (x - q) * (x - q);
  }
  return e / v.size();
}

TEST(RuntimeQuantize, MseThresholdHasTheLeastError) {
  Floats v = gaussian(200000, 4);
  v.push_back(100);
  const Histogram h = histogram_of(v);
  const float t = h.threshold(Calibration::kMse);
  // Between the tail and the outlier: one value clipped by (100 - t) weighs as much as 200000
  // values rounded to steps of t / 127, and the balance lies near half of it.
  EXPECT_GT(t, 3);
  EXPECT_LT(t, 100);
  const double best = quantization_mse(v, t);
  for (float other : {h.threshold(Calibration::kMinMax), h.threshold(Calibration::kPercentile),
                      0.7f * t, 1.4f * t}) {
    EXPECT_LT(best, quantization_mse(v, other)) << "threshold " << t << " vs " << other;
  }
}

TEST(RuntimeQuantize, OutlierMovesMinMaxOnly) {
  Floats v = gaussian(200000, 4);
  const Histogram clean = histogram_of(v);
  v.push_back(100);
  const Histogram h = histogram_of(v);
  EXPECT_EQ(h.threshold(Calibration::kMinMax), 100);
  EXPECT_EQ(h.range(), 128);
  // Two-sided 99.99% of a standard normal lies within 3.89.
  const float p = h.threshold(Calibration::kPercentile);
  EXPECT_NEAR(p, quantile_abs(v, 0.9999), h.range() / Histogram::kBins);
  EXPECT_NEAR(p, 3.89f, 0.15f);
  // Without the outlier, entropy clips the gaussian's sparse tail (2048 fine bins); with it,
  // the bins are 16x coarser and the smallest candidate (128 bins, 8) already holds every sample
  // but the outlier, which KL then clips.
  const float e_clean = clean.threshold(Calibration::kEntropy);
  EXPECT_GT(e_clean, 2.5f);
  EXPECT_LT(e_clean, clean.max_abs());
  const float e = h.threshold(Calibration::kEntropy);
  EXPECT_GE(e, 128 * h.range() / Histogram::kBins);
  EXPECT_LT(e, 16);
  // A nearer outlier keeps the bins fine, and entropy clips it as well as the sparse tail.
  v.back() = 9;
  const float e9 = histogram_of(v).threshold(Calibration::kEntropy);
  EXPECT_GT(e9, 2.5f);
  EXPECT_LT(e9, clean.max_abs());
  // Rectified (never below 0): unsigned, 256 levels, so at least 256 bins.
  Floats r = gaussian(200000, 5);
  for (float& x : r) x = std::max(x, 0.0f);
  const Histogram relu = histogram_of(r);
  EXPECT_EQ(relu.min(), 0);
  // Half the data is exactly 0, which every threshold keeps exact: it must not pull the
  // threshold down (counted with the rest, it halves it to about 2).
  const float er = relu.threshold(Calibration::kEntropy);
  EXPECT_GT(er, 3);
  EXPECT_LE(er, relu.max_abs());
}

TEST(RuntimeQuantize, GrowingByDoublingEqualsOneHistogramOverTheFinalRange) {
  Floats all;
  Histogram grown;
  std::vector<float> ranges;
  for (float scale : {0.3f, 1.0f, 7.0f, 50.0f}) {
    Floats part = uniform(5000, -scale, scale, static_cast<unsigned>(scale * 10));
    part.push_back(0);
    grown.add(part.data(), part.size());
    ranges.push_back(grown.range());
    all.insert(all.end(), part.begin(), part.end());
  }
  EXPECT_EQ(ranges, (std::vector<float>{0.5f, 1, 8, 64}));
  const Histogram once = histogram_of(all);
  EXPECT_EQ(once.range(), grown.range());
  EXPECT_EQ(once.bins(), grown.bins());
  EXPECT_EQ(once.min(), grown.min());
  EXPECT_EQ(once.max_abs(), grown.max_abs());
  for (Calibration c :
       {Calibration::kMinMax, Calibration::kPercentile, Calibration::kEntropy, Calibration::kMse}) {
    EXPECT_EQ(once.threshold(c), grown.threshold(c)) << calibration_name(c);
  }
}

TEST(RuntimeQuantize, ZerosAndNonFiniteValues) {
  Histogram h;
  const Floats zeros(10, 0.0f);
  h.add(zeros.data(), zeros.size());
  EXPECT_EQ(h.range(), 0);
  EXPECT_EQ(h.threshold(Calibration::kEntropy), 0);
  const Floats odd = {NAN, INFINITY, -INFINITY, 0.75f, -0.25f};
  h.add(odd.data(), odd.size());
  EXPECT_EQ(h.count(), 12);
  EXPECT_EQ(h.min(), -0.25f);
  EXPECT_EQ(h.max_abs(), 0.75f);
  EXPECT_EQ(h.range(), 1);
  EXPECT_EQ(h.bins()[0], 10);  // the zeros seen before there was a range
  EXPECT_EQ(h.threshold(Calibration::kMinMax), 0.75f);
}

// x [1, 3, 6, 6] -> conv1 (3x3, pad 1) -> Relu -> unnamed 1x1 Conv -> output.
struct ConvReluConv {
  HostTensor x = random({1, 3, 6, 6}, -2, 1, 31);
  HostTensor w1 = random({4, 3, 3, 3}, -0.5f, 0.5f, 32);
  HostTensor b1 = random({4}, -0.2f, 0.2f, 33);
  HostTensor w2 = random({2, 4, 1, 1}, -0.5f, 0.5f, 34);
  GraphBuilder b;
  std::string input, relu, out;

  ConvReluConv() {
    input = b.input(x);
    const std::string c1 = b.node("Conv", {input, b.constant(w1), b.constant(b1)},
                                  {A::is("pads", {1, 1, 1, 1})}, 1, "conv1")[0];
    relu = b.node("Relu", {c1}, {}, 1, "relu1")[0];
    out = b.node("Conv", {relu, b.constant(w2)})[0];
    b.output(out);
  }

  Graph graph() const {
    auto g = import_onnx(b.bytes(), "model 'crc'");
    EXPECT_TRUE(g.ok()) << g.status().message();
    return g.ok() ? *g : Graph{};
  }

  // Relu(conv1(x)) by direct loops.
  Floats relu_of(const HostTensor& in) const {
    Floats y(4 * 36);
    for (int o = 0; o < 4; ++o) {
      for (int r = 0; r < 6; ++r) {
        for (int c = 0; c < 6; ++c) {
          double s = b1.data<float>()[o];
          for (int i = 0; i < 3; ++i) {
            for (int kr = 0; kr < 3; ++kr) {
              for (int kc = 0; kc < 3; ++kc) {
                const int xr = r + kr - 1, xc = c + kc - 1;
                if (xr < 0 || xr >= 6 || xc < 0 || xc >= 6) continue;
                s += double{in.data<float>()[(i * 6 + xr) * 6 + xc]} *
                     w1.data<float>()[((o * 3 + i) * 3 + kr) * 3 + kc];
              }
            }
          }
          y[(o * 6 + r) * 6 + c] = static_cast<float>(std::max(s, 0.0));
        }
      }
    }
    return y;
  }
};

TEST(RuntimeQuantize, QuantizationRoundTripsThroughTheOnnxFile) {
  const testing::TempDir dir;
  const ConvReluConv m;
  // The source keeps metadata of its own, which must survive.
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(m.b.bytes()));
  auto* author = proto.add_metadata_props();
  author->set_key("author");
  author->set_value("test");
  const std::string source = dir.file("m.onnx"), dest = dir.file("m.int8.onnx");
  std::ofstream(source, std::ios::binary) << proto.SerializeAsString();

  auto plain = import_onnx_file(source);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  auto none = quantization_of(*plain);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(none->has_value());

  Quantization q;
  q.method = Calibration::kPercentile;
  q.percentile = 99.9f;
  q.samples = 7;
  q.ranges = {{m.input, {-1.9999999f, 0.1f}}, {m.relu, {0, 3.1415927e-7f}}};
  q.fp32_nodes = {"conv1"};
  q.equalize = {{"relu1", {0.5f, 2.0f, 1e-3f}}};
  ASSERT_TRUE(write_quantized_model(source, dest, q).ok());
  auto g = import_onnx_file(dest);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->metadata.at("author"), "test");
  auto back = quantization_of(*g);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_TRUE(back->has_value());
  const Quantization& r = **back;
  EXPECT_EQ(r.precision, Precision::kInt8);
  EXPECT_EQ(r.method, Calibration::kPercentile);
  EXPECT_EQ(r.percentile, 99.9f);
  EXPECT_EQ(r.samples, 7);
  EXPECT_EQ(r.fp32_nodes, q.fp32_nodes);
  EXPECT_EQ(r.equalize, q.equalize);
  ASSERT_EQ(r.ranges.size(), 2u);
  for (const auto& [name, range] : q.ranges) {
    EXPECT_EQ(r.ranges.at(name).min, range.min) << name;  // floats survive JSON exactly
    EXPECT_EQ(r.ranges.at(name).threshold, range.threshold) << name;
  }

  // Quantizing the quantized file in place replaces its entry instead of adding one.
  q.precision = Precision::kBFloat16;
  q.ranges.clear();
  ASSERT_TRUE(write_quantized_model(dest, dest, q).ok());
  auto bytes = read_file(dest);
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(proto.ParseFromString(*bytes));
  EXPECT_EQ(std::count_if(proto.metadata_props().begin(), proto.metadata_props().end(),
                          [](const auto& p) { return p.key() == kQuantizationKey; }),
            1);
  g = import_onnx_file(dest);
  ASSERT_TRUE(g.ok());
  back = quantization_of(*g);
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ((*back)->precision, Precision::kBFloat16);
  EXPECT_TRUE((*back)->ranges.empty());
  EXPECT_FALSE(std::filesystem::exists(dest + ".tmp"));
}

TEST(RuntimeQuantize, BadMetadataAndFilesAreNamed) {
  Graph g;
  g.label = "model 'det.onnx'";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"ranges\": ", "not JSON"},
      {"[1, 2]", "not a JSON object"},
      {R"({"method": "kl"})", "'method' is not one of"},
      {R"({"precision": "int4"})", "'precision' is not one of"},
      {R"({"percentile": 0})", "'percentile' is not a number in (0, 100]"},
      {R"({"ranges": {"images": {"min": 0}}})", "range 'images' is not"},
      {R"({"ranges": {"images": {"min": 0, "threshold": -1}}})", "range 'images' is not"},
      {R"({"fp32_nodes": "conv1"})", "'fp32_nodes' is not a list"},
      {R"({"equalize": {"relu1": [1, 0]}})", "equalize 'relu1' is not a list of positive"},
      {R"({"equalize": {"relu1": 2}})", "equalize 'relu1' is not a list of positive"},
  };
  for (const auto& [text, why] : cases) {
    g.metadata[kQuantizationKey] = text;
    auto q = quantization_of(g);
    ASSERT_FALSE(q.ok()) << text;
    const std::string msg = q.status().message();
    EXPECT_TRUE(contains(msg, "model 'det.onnx': metadata 'iris.quantization' is malformed"));
    EXPECT_TRUE(contains(msg, why));
    EXPECT_TRUE(contains(msg, "fix: quantize the original model again"));
  }

  const testing::TempDir dir;
  Status s = write_quantized_model(dir.file("none.onnx"), dir.file("out.onnx"), {});
  EXPECT_TRUE(contains(s.message(), "model '" + dir.file("none.onnx") + "' could not be read"));
  std::ofstream(dir.file("junk.onnx")) << "junk";
  s = write_quantized_model(dir.file("junk.onnx"), dir.file("out.onnx"), {});
  EXPECT_TRUE(contains(s.message(), "is not an ONNX model; fix:"));
  const ConvReluConv m;
  std::ofstream(dir.file("m.onnx"), std::ios::binary) << m.b.bytes();
  s = write_quantized_model(dir.file("m.onnx"), dir.file("no/such/dir/out.onnx"), {});
  EXPECT_TRUE(contains(
      s.message(), "cannot write the quantized model '" + dir.file("no/such/dir/out.onnx") + "'"));
  EXPECT_TRUE(contains(s.message(), "fix: choose a writable path"));
}

TEST(RuntimeQuantize, ConvSitesNameTheFusedNodesAsTheCompiledLayers) {
  const ConvReluConv m;
  const Graph g = m.graph();
  auto sites = conv_sites(g, {});
  ASSERT_TRUE(sites.ok()) << sites.status().message();
  ASSERT_EQ(sites->size(), 2u);
  // The Relu is fused into conv1, which now writes the Relu's output.
  EXPECT_EQ((*sites)[0].node, "conv1");
  EXPECT_EQ((*sites)[0].input, m.input);
  EXPECT_EQ((*sites)[0].output, m.relu);
  EXPECT_EQ((*sites)[1].node, m.out);  // unnamed: named after its output
  EXPECT_EQ((*sites)[1].input, m.relu);
  EXPECT_EQ((*sites)[1].output, m.out);
  auto model = Model::compile(g, {});
  ASSERT_TRUE(model.ok()) << model.status().message();
  for (const ConvSite& s : *sites) {
    EXPECT_TRUE(std::any_of((*model)->layers().begin(), (*model)->layers().end(),
                            [&](const Layer& l) { return l.name == s.node; }))
        << s.node;
  }
  // Shapes the model cannot take are the compiler's error.
  auto bad = conv_sites(g, {{m.input, {1, 5, 6, 6}}});
  EXPECT_FALSE(bad.ok());
}

TEST(RuntimeQuantize, CalibratorRangesMatchTheTensorsItRan) {
  const ConvReluConv m;
  Options options;
  options.threads = 1;
  auto c = Calibrator::create(m.graph(), options);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(conv_sites(m.graph(), {})->size(), 2u);

  Floats xs, rs;
  Histogram hx, hr;
  for (unsigned seed : {41u, 42u, 43u}) {
    const HostTensor x = random({1, 3, 6, 6}, -2, 1.5f, seed);
    ASSERT_TRUE(c->add({View::of(x)}).ok());
    const Floats xv = x.floats(), rv = m.relu_of(x);
    xs.insert(xs.end(), xv.begin(), xv.end());
    rs.insert(rs.end(), rv.begin(), rv.end());
  }
  EXPECT_EQ(c->samples(), 3);
  hx = histogram_of(xs);

  const auto minmax = c->ranges(Calibration::kMinMax);
  ASSERT_EQ(minmax.size(), 2u);
  const Range rx = minmax.at(m.input), rr = minmax.at(m.relu);
  EXPECT_EQ(rx.min, *std::min_element(xs.begin(), xs.end()));
  EXPECT_EQ(rx.threshold, max_abs(xs));
  EXPECT_EQ(rr.min, 0);                                   // rectified: INT8 reads it unsigned
  EXPECT_EQ(*std::min_element(rs.begin(), rs.end()), 0);  // the data does reach the Relu's 0
  EXPECT_NEAR(rr.threshold, max_abs(rs), 1e-5f * max_abs(rs));
  // The input's histogram is exactly the test's own, so every method agrees with it.
  for (Calibration method : {Calibration::kPercentile, Calibration::kEntropy}) {
    const auto r = c->ranges(method, 99.0f);
    EXPECT_EQ(r.at(m.input).threshold, hx.threshold(method, 99.0f)) << calibration_name(method);
    EXPECT_LE(r.at(m.relu).threshold, rr.threshold);
    EXPECT_GT(r.at(m.relu).threshold, 0);
  }

  const HostTensor wrong = random({1, 3, 5, 5});
  const Status s = c->add({View::of(wrong)});
  EXPECT_TRUE(contains(s.message(), "model 'crc': input '" + m.input + "'"));
  EXPECT_EQ(c->samples(), 3);
}

}  // namespace
}  // namespace iris::runtime
