// Whole models through the Backend interface (`backend: iris`) against OpenCV dnn on the same
// input: the real BlazeFace models (scripts/fetch_models.sh) and the tiny test models of
// tests/infer/make_models.py. Also what the adapter reports (ModelInfo), batching, free input
// sizes, errors and concurrent contexts.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "infer/backend.h"
#include "infer/model.h"
#include "infer/test_models.h"

namespace iris::infer {
namespace {

std::string bundled(const std::string& file) {
  return std::string(IRIS_SOURCE_DIR) + "/models/" + file;
}

Result<std::shared_ptr<const LoadedModel>> load(const std::string& backend, ModelSpec spec) {
  auto b = make_backend(backend);
  if (!b.ok()) return b.status();
  spec.backend = backend;
  return (*b)->load(spec);
}

ModelSpec spec_of(const std::string& path) {
  ModelSpec spec;
  spec.name = path;
  spec.path = path;
  return spec;
}

Tensor random_input(const std::vector<int64_t>& shape, unsigned seed) {
  Tensor t{.name = "", .shape = shape};
  t.data.resize(t.element_count());
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  for (float& v : t.data) v = u(rng);
  return t;
}

// Runs `path` through both backends on one random input of `shape`; every output must agree
// within 1e-4 of its largest magnitude.
void expect_same_as_opencv(const std::string& path, const std::vector<int64_t>& shape) {
  SCOPED_TRACE(path);
  auto iris = load("iris", spec_of(path));
  ASSERT_TRUE(iris.ok()) << iris.status().message();
  auto cv = load("opencv", spec_of(path));
  ASSERT_TRUE(cv.ok()) << cv.status().message();
  const Tensor input = random_input(shape, 5);
  auto a = (*iris)->new_context();
  auto b = (*cv)->new_context();
  ASSERT_TRUE(a.ok() && b.ok());
  auto got = (*a)->infer(input);
  ASSERT_TRUE(got.ok()) << got.status().message();
  auto want = (*b)->infer(input);
  ASSERT_TRUE(want.ok()) << want.status().message();
  ASSERT_EQ(got->size(), want->size());
  for (size_t i = 0; i < got->size(); ++i) {
    const Tensor &g = (*got)[i], &w = (*want)[i];
    EXPECT_EQ(g.name, w.name);
    ASSERT_EQ(g.shape, w.shape) << g.name;
    float scale = 1e-6f;
    for (float v : w.data) scale = std::max(scale, std::fabs(v));
    float worst = 0;
    for (size_t k = 0; k < g.data.size(); ++k)
      worst = std::max(worst, std::fabs(g.data[k] - w.data[k]));
    EXPECT_LE(worst, 1e-4f * scale) << "output " << g.name << " " << shape_string(g.shape);
  }
}

TEST(RuntimeModels, BlazeFaceMatchesOpenCv) {
  for (const auto& [file, size] :
       {std::pair<std::string, int64_t>{"face_detection_front_128x128_barracuda.onnx", 128},
        {"face_detection_back_256x256_barracuda.onnx", 256}}) {
    const std::string path = bundled(file);
    ASSERT_TRUE(std::filesystem::exists(path))
        << path << " is missing; run scripts/fetch_models.sh";
    expect_same_as_opencv(path, {1, size, size, 3});
  }
}

TEST(RuntimeModels, TinyTestModelsMatchOpenCv) {
  for (const std::string name :
       {"yolov5_nchw", "yolov5_nhwc", "yolov8_nchw", "yolox_decoded_nchw", "ssd_nchw",
        "blazeface_nhwc", "end2end_nchw", "classifier_probs", "embedding", "centroid", "probe"}) {
    const std::string path = test_model(name + ".onnx");
    const bool nhwc = name.find("nhwc") != std::string::npos;
    expect_same_as_opencv(
        path, nhwc ? std::vector<int64_t>{1, 64, 64, 3} : std::vector<int64_t>{1, 3, 64, 64});
  }
  expect_same_as_opencv(test_model("bench_convnet.onnx"), {1, 3, 128, 128});
  expect_same_as_opencv(test_model("identity_nhwc.onnx"), {1, 48, 64, 3});
}

TEST(RuntimeModels, ModelInfoMatchesTheOpenCvBackend) {
  for (const std::string name : {"yolov5_nhwc", "yolov8_dynamic", "yolox_decoded_nchw"}) {
    const std::string path = test_model(name + ".onnx");
    auto iris = load("iris", spec_of(path));
    auto cv = load("opencv", spec_of(path));
    ASSERT_TRUE(iris.ok() && cv.ok()) << name;
    const ModelInfo &a = (*iris)->info(), &b = (*cv)->info();
    ASSERT_EQ(a.inputs.size(), b.inputs.size());
    EXPECT_EQ(a.inputs[0].name, b.inputs[0].name);
    EXPECT_EQ(a.inputs[0].shape, b.inputs[0].shape) << name;
    ASSERT_EQ(a.outputs.size(), b.outputs.size());
    for (size_t i = 0; i < a.outputs.size(); ++i) {
      EXPECT_EQ(a.outputs[i].name, b.outputs[i].name);
      EXPECT_EQ(a.outputs[i].shape, b.outputs[i].shape) << name;
    }
    EXPECT_EQ(a.max_batch, b.max_batch) << name;
    EXPECT_EQ(a.opset, b.opset);
    EXPECT_EQ(a.op_types, b.op_types);
  }
}

TEST(RuntimeModels, BatchesAndFreeSizesCompileOnFirstUse) {
  // yolov5_batch: a free batch whose answer depends on each sample's brightness.
  auto m = load("iris", spec_of(test_model("yolov5_batch.onnx")));
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->info().max_batch, 0);
  auto ctx = (*m)->new_context();
  ASSERT_TRUE(ctx.ok());
  for (int64_t batch : {1, 3, 2, 3}) {
    Tensor in{.shape = {batch, 3, 64, 64}};
    in.data.resize(in.element_count());
    for (int64_t s = 0; s < batch; ++s) {
      std::fill(in.data.begin() + s * 3 * 64 * 64, in.data.begin() + (s + 1) * 3 * 64 * 64,
                static_cast<float>(s % 2));
    }
    auto out = (*ctx)->infer(in);
    ASSERT_TRUE(out.ok()) << out.status().message();
    ASSERT_EQ((*out)[0].shape[0], batch);
    auto one = (*ctx)->infer(
        Tensor{.shape = {1, 3, 64, 64}, .data = std::vector<float>(3 * 64 * 64, 1.0f)});
    ASSERT_TRUE(one.ok());
    const int64_t per = (*one)[0].element_count();
    // Sample 1 (white) of the batch answers as a white sample alone.
    if (batch > 1) {
      for (int64_t k = 0; k < per; ++k) {
        ASSERT_EQ((*out)[0].data[per + k], (*one)[0].data[k]) << "batch " << batch;
      }
    }
  }
  // Free height and width: each size compiles its own plan.
  auto dyn = load("iris", spec_of(test_model("yolov8_dynamic.onnx")));
  ASSERT_TRUE(dyn.ok()) << dyn.status().message();
  auto dctx = (*dyn)->new_context();
  ASSERT_TRUE(dctx.ok());
  for (int64_t side : {32, 96}) {
    auto out = (*dctx)->infer(random_input({2, 3, side, side}, 3));
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ((*out)[0].shape[0], 2);
  }
}

TEST(RuntimeModels, ErrorsNameTheFileAndTheFix) {
  auto grid = load("iris", spec_of(test_model("gridsample.onnx")));
  ASSERT_FALSE(grid.ok());
  EXPECT_TRUE(contains(grid.status().message(),
                       "model '" + test_model("gridsample.onnx") +
                           "': the iris runtime does not support op GridSample (node producing "
                           "'warped')"))
      << grid.status().message();
  auto garbage = load("iris", spec_of(test_model("garbage.onnx")));
  ASSERT_FALSE(garbage.ok());
  EXPECT_TRUE(contains(garbage.status().message(), "is not an ONNX model"));
  auto missing = load("iris", spec_of("/nonexistent/m.onnx"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.status().message(), "does not exist"));

  auto fixed = load("iris", spec_of(test_model("yolov5_nchw.onnx")));
  ASSERT_TRUE(fixed.ok());
  auto ctx = (*fixed)->new_context();
  ASSERT_TRUE(ctx.ok());
  auto big = (*ctx)->infer(random_input({2, 3, 64, 64}, 1));
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(contains(big.status().message(), "has a batch of 2 but the model accepts at most 1"));
  auto odd = (*ctx)->infer(random_input({1, 3, 32, 64}, 1));
  ASSERT_FALSE(odd.ok());
  EXPECT_TRUE(contains(odd.status().message(), "does not fit the model's input 'images'"));
}

TEST(RuntimeModels, ContextsRunConcurrentlyOnOneModel) {
  const std::string path = bundled("face_detection_front_128x128_barracuda.onnx");
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing; run scripts/fetch_models.sh";
  auto m = load("iris", spec_of(path));
  ASSERT_TRUE(m.ok()) << m.status().message();
  const Tensor input = random_input({1, 128, 128, 3}, 9);
  auto first = (*m)->new_context();
  ASSERT_TRUE(first.ok());
  auto want = (*first)->infer(input);
  ASSERT_TRUE(want.ok());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(3, 0);
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      auto ctx = (*m)->new_context();
      if (!ctx.ok()) {
        mismatches[t] = -1;
        return;
      }
      for (int i = 0; i < 10; ++i) {
        auto got = (*ctx)->infer(input);
        if (!got.ok() || (*got)[2].data != (*want)[2].data) ++mismatches[t];
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches, (std::vector<int>{0, 0, 0}));
}

TEST(RuntimeModels, LoadModelRunsADetectorWithBackendIris) {
  ModelSpec spec = test_spec("yolov5_nchw.onnx", "yolov5");
  const cv::Mat picture(64, 128, CV_8UC3, cv::Scalar::all(0));
  std::vector<std::vector<Detection>> found;
  for (const std::string backend : {"opencv", "iris"}) {
    spec.backend = backend;
    auto model = load_model(spec);
    ASSERT_TRUE(model.ok()) << model.status().message();
    auto ctx = (*model)->loaded()->new_context();
    ASSERT_TRUE(ctx.ok());
    auto dets = (*model)->detect(**ctx, picture);
    ASSERT_TRUE(dets.ok()) << dets.status().message();
    found.push_back(*dets);
  }
  ASSERT_FALSE(found[0].empty());
  ASSERT_EQ(found[0].size(), found[1].size());
  for (size_t i = 0; i < found[0].size(); ++i) {
    EXPECT_EQ(found[0][i].label, found[1][i].label);
    EXPECT_NEAR(found[0][i].score, found[1][i].score, 1e-5);
    EXPECT_NEAR(found[0][i].box.x1, found[1][i].box.x1, 1e-3);
  }
}

// What one context of `model` answers to `input` (empty, after a failure, when it fails).
std::vector<Tensor> answer(const LoadedModel& model, const Tensor& input) {
  auto ctx = model.new_context();
  if (!ctx.ok()) {
    ADD_FAILURE() << ctx.status().message();
    return {};
  }
  auto out = (*ctx)->infer(input);
  if (!out.ok()) {
    ADD_FAILURE() << out.status().message();
    return {};
  }
  return std::move(*out);
}

// The largest difference of `got` from `want`, per output relative to its largest magnitude.
float worst_difference(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  EXPECT_EQ(got.size(), want.size());
  float worst = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    const Tensor &g = got[i], &w = want[i];
    EXPECT_EQ(g.shape, w.shape) << w.name;
    if (g.data.size() != w.data.size()) return INFINITY;
    float scale = 1e-6f;
    for (float v : w.data) scale = std::max(scale, std::fabs(v));
    for (size_t k = 0; k < g.data.size(); ++k) {
      worst = std::max(worst, std::fabs(g.data[k] - w.data[k]) / scale);
    }
  }
  return worst;
}

ModelSpec with_precision(const std::string& path, const std::string& precision) {
  ModelSpec spec = spec_of(path);
  spec.precision = precision;
  return spec;
}

TEST(RuntimeModels, Bf16RunsCloseToFp32) {
  const std::string path = bundled("face_detection_front_128x128_barracuda.onnx");
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing; run scripts/fetch_models.sh";
  auto fp32 = load("iris", spec_of(path));
  auto bf16 = load("iris", with_precision(path, "bf16"));
  ASSERT_TRUE(fp32.ok()) << fp32.status().message();
  ASSERT_TRUE(bf16.ok()) << bf16.status().message();
  EXPECT_EQ((*fp32)->info().precision, "fp32");
  EXPECT_EQ((*bf16)->info().precision, "bf16");
  const Tensor input = random_input({1, 128, 128, 3}, 11);
  const float worst = worst_difference(answer(**bf16, input), answer(**fp32, input));
  EXPECT_GT(worst, 0) << "bf16 rounds, so its answer cannot equal fp32's bit for bit";
  EXPECT_LT(worst, 0.02f);
}

TEST(RuntimeModels, Int8NeedsACalibratedFile) {
  const std::string path = test_model("bench_convnet.onnx");
  auto m = load("iris", with_precision(path, "int8"));
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(contains(m.status().message(), "model '" + path + "' is not calibrated"))
      << m.status().message();
  EXPECT_TRUE(contains(m.status().message(), "fix: calibrate it with `iris quantize " + path +
                                                 " --calib DIR --out FILE`"));
  auto unknown = load("iris", with_precision(path, "int4"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(contains(unknown.status().message(), "unknown precision 'int4'; fix: use fp32, "));
}

TEST(RuntimeModels, CalibratedFileRunsInItsOwnPrecisionUnlessAskedOtherwise) {
  const std::string path = test_model("bench_convnet.onnx");
  testing::TempDir dir;
  const std::string calibrated = dir.file("convnet_int8.onnx");
  ASSERT_TRUE(write_calibrated(path, calibrated, {1, 3, 128, 128}).ok());
  auto fp32 = load("iris", spec_of(path));
  auto own = load("iris", spec_of(calibrated));
  auto asked = load("iris", with_precision(calibrated, "fp32"));
  ASSERT_TRUE(fp32.ok() && own.ok() && asked.ok());
  EXPECT_EQ((*own)->info().precision, "int8");
  EXPECT_EQ((*asked)->info().precision, "fp32");
  const Tensor input = random_input({1, 3, 128, 128}, 12);
  const std::vector<Tensor> want = answer(**fp32, input);
  const float worst = worst_difference(answer(**own, input), want);
  EXPECT_GT(worst, 0) << "int8 rounds, so its answer cannot equal fp32's bit for bit";
  EXPECT_LT(worst, 0.03f);
  // The calibration is only metadata: asked for fp32, the file answers as the original does.
  EXPECT_EQ(worst_difference(answer(**asked, input), want), 0);
}

}  // namespace
}  // namespace iris::infer
