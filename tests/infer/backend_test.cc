#include "infer/backend.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "infer/model.h"
#include "infer/onnx_reader.h"
#include "infer/test_models.h"

namespace iris::infer {
namespace {

Result<std::shared_ptr<const LoadedModel>> load(const std::string& path) {
  auto backend = make_backend("opencv");
  if (!backend.ok()) return backend.status();
  ModelSpec spec;
  spec.path = path;
  return (*backend)->load(spec);
}

Tensor zeros(std::vector<int64_t> shape) {
  Tensor t;
  t.shape = std::move(shape);
  t.data.assign(t.element_count(), 0.0f);
  return t;
}

TEST(Backend, UnknownNameListsTheKnownOnes) {
  auto b = make_backend("tensorrt");
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(contains(b.status().message(), "unknown backend 'tensorrt'"));
  EXPECT_TRUE(contains(b.status().message(), "opencv"));
}

TEST(OpenCvBackend, MissingFileIsNamed) {
  const std::string path = test_model("no_such_model.onnx");
  auto m = load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(contains(m.status().message(), "model '" + path + "' does not exist"));
  EXPECT_TRUE(contains(m.status().message(), "fix:"));
}

TEST(OpenCvBackend, GarbageIsNotOnnx) {
  for (const std::string name : {"garbage.onnx", "text.onnx"}) {
    const std::string path = test_model(name);
    if (name == "text.onnx") std::ofstream(path) << "name: yolov8n\nlayers: 168\n";
    auto m = load(path);
    ASSERT_FALSE(m.ok()) << name;
    EXPECT_TRUE(contains(m.status().message(), "model '" + path + "' is not an ONNX model ("));
    EXPECT_TRUE(contains(m.status().message(), "fix: point the model's path at an .onnx file"));
  }
}

TEST(OpenCvBackend, UnsupportedOpNamesTheOpAndTheFix) {
  const std::string path = test_model("gridsample.onnx");
  auto m = load(path);
  ASSERT_FALSE(m.ok());
  const std::string& msg = m.status().message();
  EXPECT_TRUE(contains(msg, "model '" + path +
                                "': OpenCV dnn 4.6 cannot import node "
                                "producing 'warped' (op GridSample)"));
  EXPECT_TRUE(contains(msg, "fix: re-export the model with opset <= 12 (it has opset 16)"));
  EXPECT_TRUE(contains(msg, "onnxsim"));
}

TEST(OpenCvBackend, ModelInfoComesFromTheGraph) {
  auto fixed = load(test_model("yolov5_nhwc.onnx"));
  ASSERT_TRUE(fixed.ok()) << fixed.status().message();
  const ModelInfo& info = (*fixed)->info();
  ASSERT_EQ(info.inputs.size(), 1u);
  EXPECT_EQ(info.inputs[0].name, "images");
  EXPECT_EQ(info.inputs[0].shape, (std::vector<int64_t>{1, 64, 64, 3}));
  ASSERT_EQ(info.outputs.size(), 1u);
  EXPECT_EQ(info.outputs[0].name, "output0");
  EXPECT_EQ(info.outputs[0].shape, (std::vector<int64_t>{1, 10, 8}));
  EXPECT_EQ(info.max_batch, 1);
  EXPECT_EQ(info.opset, 11);
  EXPECT_EQ(info.op_types, (std::vector<std::string>{"Flatten", "Gemm", "GlobalAveragePool",
                                                     "Reshape", "Transpose"}));

  auto dynamic = load(test_model("yolov8_dynamic.onnx"));
  ASSERT_TRUE(dynamic.ok()) << dynamic.status().message();
  EXPECT_EQ((*dynamic)->info().inputs[0].shape, (std::vector<int64_t>{-1, 3, -1, -1}));
  EXPECT_EQ((*dynamic)->info().outputs[0].shape, (std::vector<int64_t>{-1, 7, 10}));
  EXPECT_EQ((*dynamic)->info().max_batch, 0);
}

TEST(OpenCvBackend, OutputsComeInGraphOrderWithTheirNames) {
  auto m = load(test_model("blazeface_nchw.onnx"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto context = (*m)->new_context();
  ASSERT_TRUE(context.ok());
  auto out = (*context)->infer(zeros({1, 3, 64, 64}));
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->size(), 4u);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> want = {
      {"scores_16", {1, 512, 1}},
      {"scores_8", {1, 384, 1}},
      {"boxes_16", {1, 512, 16}},
      {"boxes_8", {1, 384, 16}}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*out)[i].name, want[i].first);
    EXPECT_EQ((*out)[i].shape, want[i].second);
  }
}

TEST(OpenCvBackend, RejectsInputsThatDoNotFit) {
  auto m = load(test_model("yolov5_nchw.onnx"));
  ASSERT_TRUE(m.ok());
  auto context = (*m)->new_context();
  ASSERT_TRUE(context.ok());
  auto batch = (*context)->infer(zeros({2, 3, 64, 64}));
  ASSERT_FALSE(batch.ok());
  EXPECT_TRUE(contains(batch.status().message(),
                       "has a batch of 2 but the model accepts at "
                       "most 1"));
  auto size = (*context)->infer(zeros({1, 3, 32, 64}));
  ASSERT_FALSE(size.ok());
  EXPECT_TRUE(
      contains(size.status().message(), "does not fit the model's input 'images' [1, 3, 64, 64]"));
}

TEST(OpenCvBackend, ContextsRunAtTheSameTimeOnOneLoadedModel) {
  auto m = load(test_model("identity_nchw.onnx"));
  ASSERT_TRUE(m.ok());
  std::vector<std::thread> threads;
  std::vector<int> good(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto context = (*m)->new_context();
      if (!context.ok()) return;
      Tensor in = zeros({1, 3, 48, 64});
      for (int i = 0; i < 20; ++i) {
        in.data.assign(in.data.size(), static_cast<float>(t * 100 + i));
        auto out = (*context)->infer(in);
        good[t] += out.ok() && (*out)[0].data == in.data;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good, (std::vector<int>{20, 20, 20, 20}));
}

// A free batch axis: two samples in one inference, each with its own answer. The model scores B1
// on a black sample and B2 on a white one (make_models.py, yolov5_batch).
TEST(OpenCvBackend, DynamicBatchGivesPerSampleResults) {
  ModelSpec spec = test_spec("yolov5_batch.onnx", "yolov5");
  auto model = load_model(spec);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->info().max_batch, 0);
  auto black = (*model)->preprocess(cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(0)));
  auto white = (*model)->preprocess(cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(255)));
  ASSERT_TRUE(black.ok() && white.ok());
  Tensor batch = black->tensor;
  batch.shape[0] = 3;
  batch.data.insert(batch.data.end(), white->tensor.data.begin(), white->tensor.data.end());
  batch.data.insert(batch.data.end(), black->tensor.data.begin(), black->tensor.data.end());
  auto context = (*model)->loaded()->new_context();
  ASSERT_TRUE(context.ok());
  auto out = (*context)->infer(batch);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].shape, (std::vector<int64_t>{3, 10, 8}));
  const Box b1{12, 26, 28, 34}, b2{38, 32, 50, 48};  // 64x64 pictures: no border, scale 1
  for (int sample = 0; sample < 3; ++sample) {
    auto dets = (*model)->detections(*out, black->transform, sample);
    ASSERT_TRUE(dets.ok()) << dets.status().message();
    ASSERT_EQ(dets->size(), 1u) << "sample " << sample;
    EXPECT_EQ((*dets)[0].box, sample == 1 ? b2 : b1) << "sample " << sample;
    EXPECT_NEAR((*dets)[0].score, sample == 1 ? 0.6 : 0.9, 1e-5);
  }
  auto missing = (*model)->detections(*out, black->transform, 3);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.status().message(), "has no sample 3"));
}

TEST(OnnxReader, ReadsShapesOpsAndOpset) {
  const std::string bytes = testing::read_file(test_model("gridsample.onnx"));
  auto s = read_onnx(bytes);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->ir_version, 7);
  EXPECT_EQ(s->opset, 16);
  // The grid is an initializer, not an input.
  ASSERT_EQ(s->inputs.size(), 1u);
  EXPECT_EQ(s->inputs[0].shape, (std::vector<int64_t>{1, 3, 64, 64}));
  ASSERT_EQ(s->nodes.size(), 1u);
  EXPECT_EQ(s->nodes[0].op_type, "GridSample");
  EXPECT_EQ(s->nodes[0].outputs, (std::vector<std::string>{"warped"}));
}

TEST(OnnxReader, TruncatedFileSaysWhere) {
  const std::string bytes = testing::read_file(test_model("yolov5_nchw.onnx"));
  auto s = read_onnx(std::string_view(bytes).substr(0, bytes.size() - 7));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.status().message(), "malformed protobuf"));
  EXPECT_TRUE(contains(s.status().message(), "at byte "));
}

}  // namespace
}  // namespace iris::infer
