#include "infer/model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "infer/test_models.h"

namespace iris::infer {
namespace {

const cv::Mat kPicture(64, 128, CV_8UC3, cv::Scalar::all(0));

std::string load_error(const ModelSpec& spec) {
  auto m = load_model(spec);
  return m.ok() ? "loaded" : m.status().message();
}

Result<std::vector<Detection>> detect(const ModelSpec& spec) {
  auto model = load_model(spec);
  if (!model.ok()) return model.status();
  auto context = (*model)->loaded()->new_context();
  if (!context.ok()) return context.status();
  return (*model)->detect(**context, kPicture);
}

TEST(LoadModel, ErrorsOfTheBackendNameTheFile) {
  ModelSpec spec = test_spec("gridsample.onnx", "yolov8");
  EXPECT_TRUE(contains(load_error(spec), "model '" + spec.path + "': OpenCV dnn 4.6 cannot"));
  spec.path = test_model("garbage.onnx");
  EXPECT_TRUE(contains(load_error(spec), "model '" + spec.path + "' is not an ONNX model"));
}

TEST(LoadModel, FreeInputSizeNeedsTheConfig) {
  const ModelSpec spec = test_spec("yolov8_dynamic.onnx", "yolov8");
  const std::string msg = load_error(spec);
  EXPECT_TRUE(contains(msg, "model 'yolov8_dynamic.onnx' (" + spec.path +
                                "): input 'images' "
                                "[?, 3, ?, ?] leaves its width free; fix: set input_size"));
}

TEST(LoadModel, InputSizeMustMatchAFixedModel) {
  ModelSpec spec = test_spec("yolov5_nchw.onnx", "yolov5");
  spec.input_width = 32;
  spec.input_height = 64;
  EXPECT_TRUE(contains(load_error(spec),
                       "has a fixed width of 64 but the config's input_size "
                       "asks for 32; fix: remove input_size"));
}

TEST(LoadModel, WrongLayoutSuggestsTheOther) {
  const ModelSpec spec = test_spec("yolov5_nhwc.onnx", "yolov5", Layout::kNCHW);
  EXPECT_TRUE(contains(load_error(spec),
                       "input 'images' [1, 64, 64, 3] does not have 3 channels "
                       "where layout nchw puts them; fix: set layout: nhwc"));
}

TEST(LoadModel, UnknownDecoderListsTheKnownOnes) {
  EXPECT_TRUE(contains(load_error(test_spec("yolov5_nchw.onnx", "yolov9")),
                       "unknown decoder 'yolov9'; fix: use one of: blazeface, classifier, "
                       "embedding, end2end, ssd, yolov5, yolov8, yolox"));
}

TEST(LoadModel, OutputTheDecoderCannotReadNamesTheDecoderThatFits) {
  ModelSpec ssd = test_spec("ssd_nchw.onnx", "yolov5");
  EXPECT_TRUE(contains(load_error(ssd),
                       "model 'ssd_nchw.onnx' (" + ssd.path +
                           "): output 'scores' has shape [1, 12, 4]; the yolov5 decoder expects "
                           "[1, boxes, 5 + classes]; fix: these outputs look like decoder 'ssd'"));
  EXPECT_TRUE(contains(load_error(test_spec("yolov8_nchw.onnx", "end2end")),
                       "output 'output0' has shape [1, 7, 10]; the end2end decoder expects [1, "
                       "boxes, 6] of (x1, y1, x2, y2, score, class); fix: these outputs look "
                       "like decoder 'yolov8'"));
  EXPECT_TRUE(contains(load_error(test_spec("classifier_logits.onnx", "yolov8")),
                       "output 'logits' has shape [1, 3]; the yolov8 decoder expects [1, 4 + "
                       "classes, anchors] (or [1, anchors, 4 + classes]); fix: these outputs "
                       "look like decoder 'classifier or embedding'"));
  EXPECT_TRUE(contains(load_error(test_spec("yolov5_nchw.onnx", "blazeface")),
                       "fix: these outputs look like decoder 'yolov5'"));
}

TEST(LoadModel, ClassNamesMustCoverTheModelsClasses) {
  ModelSpec spec = test_spec("yolov5_nchw.onnx", "yolov5");
  spec.class_names = {"person", "car"};
  EXPECT_TRUE(contains(load_error(spec),
                       "the model's outputs score 3 classes (decoder yolov5) "
                       "but the config's classes list 2; fix: list one name "
                       "per class"));
  spec.class_names.clear();
  auto dets = detect(spec);
  ASSERT_TRUE(dets.ok()) << dets.status().message();
  ASSERT_EQ(dets->size(), 3u);
  EXPECT_EQ((*dets)[0].label, "1");  // unnamed classes are numbered
}

TEST(Postprocess, ClassThresholdsOverrideTheGlobalOne) {
  // Stretched: B5 (model rows 6..14) would be in the letterbox border.
  ModelSpec spec = test_spec("yolov5_nchw.onnx", "yolov5", Layout::kNCHW, Resize::kStretch);
  spec.class_thresholds = {{"b", 0.95f}, {"a", 0.05f}};
  auto dets = detect(spec);
  ASSERT_TRUE(dets.ok()) << dets.status().message();
  // B1 and B3 ("b") fall under 0.95; B5 ("a", 0.1) now passes.
  std::vector<std::pair<std::string, float>> got;
  for (const auto& d : *dets) got.emplace_back(d.label, d.score);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].first, "c");
  EXPECT_EQ(got[1].first, "a");
  EXPECT_NEAR(got[1].second, 0.5, 1e-5);
  EXPECT_EQ(got[2].first, "a");
  EXPECT_NEAR(got[2].second, 0.1, 1e-5);

  spec.class_thresholds = {{"bicycle", 0.5f}};
  EXPECT_TRUE(contains(load_error(spec),
                       "class_thresholds of model 'yolov5_nchw.onnx' names "
                       "'bicycle', which is not one of its classes (a, b, c)"));
}

TEST(Postprocess, MaxDetectionsKeepsTheBest) {
  ModelSpec spec = test_spec("yolov8_nchw.onnx", "yolov8");
  spec.max_detections = 2;
  auto dets = detect(spec);
  ASSERT_TRUE(dets.ok()) << dets.status().message();
  ASSERT_EQ(dets->size(), 2u);
  EXPECT_NEAR((*dets)[0].score, 0.9, 1e-5);
  EXPECT_NEAR((*dets)[1].score, 0.6, 1e-5);
}

TEST(Postprocess, BoxesInTheLetterboxBorderAreDropped) {
  // A 128x16 picture becomes 64x8 in the 64x64 input, at rows 28..36 between 28-pixel borders.
  // With the threshold at 0.05, B5 (rows 6..14, score 0.1) passes but lies in the border only.
  ModelSpec spec = test_spec("yolov5_nchw.onnx", "yolov5");
  spec.score_threshold = 0.05f;
  auto model = load_model(spec);
  ASSERT_TRUE(model.ok());
  auto context = (*model)->loaded()->new_context();
  ASSERT_TRUE(context.ok());
  auto dets = (*model)->detect(**context, cv::Mat(16, 128, CV_8UC3, cv::Scalar::all(0)));
  ASSERT_TRUE(dets.ok()) << dets.status().message();
  ASSERT_EQ(dets->size(), 3u);  // B1, B2, B4 (B3 lost to B1 in NMS)
  // B2 (model rows 32..48) maps to y (32 - 28) / 0.5 = 8 .. 40, clipped to the picture at 16.
  EXPECT_EQ((*dets)[1].box, (Box{76, 8, 100, 16}));
}

TEST(Classifier, SoftmaxOnLogitsOnlyAndTopK) {
  // Logits (1, 3, 2): probabilities e^x / (e + e^3 + e^2).
  const double sum = std::exp(1.0) + std::exp(3.0) + std::exp(2.0);
  for (const std::string file : {"classifier_logits.onnx", "classifier_probs.onnx"}) {
    ModelSpec spec = test_spec(file, "classifier");
    spec.top_k = 2;
    auto model = load_model(spec);
    ASSERT_TRUE(model.ok()) << model.status().message();
    EXPECT_EQ((*model)->task(), Task::kClassify);
    auto context = (*model)->loaded()->new_context();
    ASSERT_TRUE(context.ok());
    auto top = (*model)->classify(**context, kPicture, cv::Rect(10, 10, 30, 30));
    ASSERT_TRUE(top.ok()) << top.status().message();
    ASSERT_EQ(top->size(), 2u) << file;
    EXPECT_EQ((*top)[0].model, file);
    EXPECT_EQ((*top)[0].label, "b");
    EXPECT_NEAR((*top)[0].score, std::exp(3.0) / sum, 1e-5) << file;
    EXPECT_EQ((*top)[1].label, "c");
    EXPECT_NEAR((*top)[1].score, std::exp(2.0) / sum, 1e-5) << file;

    auto wrong = (*model)->detect(**context, kPicture);
    ASSERT_FALSE(wrong.ok());
    EXPECT_TRUE(contains(wrong.status().message(),
                         "is a classifier (decoder classifier), not "
                         "a detector"));
  }
}

TEST(Embedding, IsL2Normalized) {
  ModelSpec spec = test_spec("embedding.onnx", "embedding");
  spec.class_names.clear();
  auto model = load_model(spec);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto context = (*model)->loaded()->new_context();
  ASSERT_TRUE(context.ok());
  auto v = (*model)->embed(**context, kPicture, cv::Rect(0, 0, 20, 40));
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_EQ(v->size(), 4u);
  EXPECT_NEAR((*v)[0], 0.6, 1e-6);
  EXPECT_NEAR((*v)[1], 0.0, 1e-6);
  EXPECT_NEAR((*v)[2], 0.8, 1e-6);
  EXPECT_NEAR((*v)[3], 0.0, 1e-6);
}

TEST(Nms, IsClassAware) {
  const std::vector<Candidate> c = {
      {{0, 0, 10, 10}, 0, 0.8f},    // 0: overlaps 1 (see below)
      {{1, 0, 11, 10}, 0, 0.9f},    // 1: kept, best of class 0
      {{1, 0, 11, 10}, 1, 0.7f},    // 2: same place, other class: kept
      {{1, 1, 11, 11}, 1, 0.6f},    // 3: overlaps 2 (IoU 0.82): dropped
      {{20, 20, 30, 30}, 0, 0.5f},  // 4: apart: kept
  };
  // Box 0 overlaps box 1 by IoU 9/11 = 0.82: dropped at 0.45, kept at 0.9.
  EXPECT_EQ(nms(c, 0.45), (std::vector<size_t>{1, 2, 4}));
  EXPECT_EQ(nms(c, 0.9), (std::vector<size_t>{1, 0, 2, 3, 4}));
}

}  // namespace
}  // namespace iris::infer
