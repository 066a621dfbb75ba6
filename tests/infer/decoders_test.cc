// Every decoder end to end through the OpenCV backend: models from make_models.py output the boxes
// B1..B5 (model-input pixels) in each decoder's layout; the detections must come back in source
// pixels, for letterbox and stretch, NCHW and NHWC inputs.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "infer/model.h"
#include "infer/test_models.h"

namespace iris::infer {
namespace {

struct Expected {
  int box;  // 1..4: B1..B4 of make_models.py
  std::string label;
  float score;
};

// The source picture is 128x64 and the model input 64x64.
// Letterbox: scale 0.5, the 64x32 picture centred with a 16-pixel border top and bottom, so
// source = (model - (0, 16)) / 0.5. Stretch: x / 0.5, y / 1.
// Model boxes (x1, y1, x2, y2): B1 (12, 26, 28, 34), B2 (38, 32, 50, 48), B3 (13, 26, 29, 34),
// B4 (12, 27, 28, 35).
const Box kLetterboxed[] = {
    {}, {24, 20, 56, 36}, {76, 32, 100, 64}, {26, 20, 58, 36}, {24, 22, 56, 38}};
const Box kStretched[] = {
    {}, {24, 26, 56, 34}, {76, 32, 100, 48}, {26, 26, 58, 34}, {24, 27, 56, 35}};

// B3 loses to B1 in NMS (same class), B4 does not (other class), B5 is under the threshold.
const std::vector<Expected> kAfterNms = {{1, "b", 0.9f}, {2, "c", 0.6f}, {4, "a", 0.5f}};

struct Case {
  std::string model;  // file stem; _nchw / _nhwc appended
  std::string decoder;
  std::vector<Expected> expected;
  std::vector<std::string> classes = {"a", "b", "c"};
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.model << " (decoder " << c.decoder << ")";
}

class DecoderTest : public ::testing::TestWithParam<Case> {};

void expect_detections(const std::vector<Detection>& got, const std::vector<Expected>& want,
                       const Box* boxes, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    const Box& b = boxes[want[i].box];
    SCOPED_TRACE(what + ", detection " + std::to_string(i) + " (B" + std::to_string(want[i].box) +
                 ")");
    EXPECT_EQ(got[i].label, want[i].label);
    EXPECT_NEAR(got[i].score, want[i].score, 1e-5);
    EXPECT_NEAR(got[i].box.x1, b.x1, 1e-3);
    EXPECT_NEAR(got[i].box.y1, b.y1, 1e-3);
    EXPECT_NEAR(got[i].box.x2, b.x2, 1e-3);
    EXPECT_NEAR(got[i].box.y2, b.y2, 1e-3);
  }
}

TEST_P(DecoderTest, KnownBoxesComeBackInSourcePixels) {
  const Case& c = GetParam();
  const cv::Mat picture(64, 128, CV_8UC3, cv::Scalar(40, 90, 200));
  for (Layout layout : {Layout::kNCHW, Layout::kNHWC}) {
    for (Resize resize : {Resize::kLetterbox, Resize::kStretch}) {
      const std::string what = c.model + (layout == Layout::kNCHW ? " nchw" : " nhwc") +
                               (resize == Resize::kLetterbox ? " letterbox" : " stretch");
      ModelSpec spec = test_spec(c.model + (layout == Layout::kNCHW ? "_nchw.onnx" : "_nhwc.onnx"),
                                 c.decoder, layout, resize);
      spec.class_names = c.classes;
      auto model = load_model(spec);
      ASSERT_TRUE(model.ok()) << model.status().message();
      EXPECT_EQ((*model)->spec().input_width, 64);
      EXPECT_EQ((*model)->spec().input_height, 64);
      auto context = (*model)->loaded()->new_context();
      ASSERT_TRUE(context.ok()) << context.status().message();
      auto dets = (*model)->detect(**context, picture);
      ASSERT_TRUE(dets.ok()) << dets.status().message();
      expect_detections(*dets, c.expected, resize == Resize::kLetterbox ? kLetterboxed : kStretched,
                        what);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllDecoders, DecoderTest,
    ::testing::Values(
        Case{"yolov5", "yolov5", kAfterNms}, Case{"yolov8", "yolov8", kAfterNms},
        Case{"yolox_raw", "yolox", kAfterNms}, Case{"yolox_decoded", "yolox", kAfterNms},
        Case{"ssd", "ssd", kAfterNms},
        // One class: B3 and B4 both lose to B1.
        Case{"blazeface", "blazeface", {{1, "face", 0.9f}, {2, "face", 0.6f}}, {"face"}},
        // The model ran NMS itself: B3 stays.
        Case{"end2end",
             "end2end",
             {{1, "b", 0.9f}, {3, "b", 0.7f}, {2, "c", 0.6f}, {4, "a", 0.5f}}}),
    [](const auto& info) { return info.param.model; });

TEST(Yolov8Decoder, ReadsTheTransposedExport) {
  auto model = load_model(test_spec("yolov8_transposed.onnx", "yolov8"));
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto context = (*model)->loaded()->new_context();
  ASSERT_TRUE(context.ok());
  auto dets = (*model)->detect(**context, cv::Mat(64, 128, CV_8UC3, cv::Scalar::all(0)));
  ASSERT_TRUE(dets.ok()) << dets.status().message();
  expect_detections(*dets, kAfterNms, kLetterboxed, "transposed");
}

TEST(Yolov8Decoder, ReadsAnExportWithFreeBatchAndSize) {
  ModelSpec spec = test_spec("yolov8_dynamic.onnx", "yolov8");
  spec.input_width = spec.input_height = 64;
  auto model = load_model(spec);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->info().max_batch, 0);
  auto context = (*model)->loaded()->new_context();
  ASSERT_TRUE(context.ok());
  auto dets = (*model)->detect(**context, cv::Mat(64, 128, CV_8UC3, cv::Scalar::all(0)));
  ASSERT_TRUE(dets.ok()) << dets.status().message();
  expect_detections(*dets, kAfterNms, kLetterboxed, "dynamic");
}

}  // namespace
}  // namespace iris::infer
