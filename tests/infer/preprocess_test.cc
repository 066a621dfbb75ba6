#include "infer/preprocess.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "infer/backend.h"
#include "infer/test_models.h"

namespace iris::infer {
namespace {

const char kFruits[] = "/usr/share/doc/opencv-doc/examples/data/fruits.jpg";      // 512x480
const char kBuilding[] = "/usr/share/doc/opencv-doc/examples/data/building.jpg";  // 868x600

ModelSpec sized(int w, int h, Resize resize) {
  ModelSpec spec;
  spec.name = "m";
  spec.input_width = w;
  spec.input_height = h;
  spec.resize = resize;
  return spec;
}

void expect_box(const Box& got, const Box& want) {
  EXPECT_DOUBLE_EQ(got.x1, want.x1);
  EXPECT_DOUBLE_EQ(got.y1, want.y1);
  EXPECT_DOUBLE_EQ(got.x2, want.x2);
  EXPECT_DOUBLE_EQ(got.y2, want.y2);
}

TEST(InputTransform, UndoesLetterboxExactly) {
  // 100x50 into 64x64: scale 0.64, the picture becomes 64x32 (50 * 0.64 = 32) with a 16-pixel
  // border above and below.
  auto s =
      preprocess(cv::Mat(50, 100, CV_8UC3, cv::Scalar::all(0)), sized(64, 64, Resize::kLetterbox));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->transform.pad_x, 0);
  EXPECT_EQ(s->transform.pad_y, 16);
  expect_box(s->transform.to_source({0, 16, 64, 48}), {0, 0, 100, 50});
  expect_box(s->transform.to_source({32, 32, 48, 40}), {50, 25, 75, 37.5});
  // Boxes reaching into the border are clipped to the picture.
  expect_box(s->transform.to_source({-8, 0, 16, 24}), {0, 0, 25, 12.5});
}

TEST(InputTransform, OddBorderPutsTheExtraPixelBelowAndUsesTheRoundedScale) {
  // 81x64 into 64x64: 64/81 scales the height to 50.57 -> 51 pixels, so the border is 13 pixels:
  // 6 above, 7 below, and y maps back by 64/51, not by 81/64.
  auto s =
      preprocess(cv::Mat(64, 81, CV_8UC3, cv::Scalar::all(0)), sized(64, 64, Resize::kLetterbox));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->transform.pad_x, 0);
  EXPECT_EQ(s->transform.pad_y, 6);
  EXPECT_DOUBLE_EQ(s->transform.scale_y, 51.0 / 64);
  expect_box(s->transform.to_source({0, 6, 64, 57}), {0, 0, 81, 64});
}

TEST(InputTransform, UndoesStretchAndAddsTheRegionOrigin) {
  const cv::Mat picture(300, 400, CV_8UC3, cv::Scalar::all(0));
  // Region 200x100 at (150, 120) stretched to 64x64: x * 200/64, y * 100/64, then + origin.
  auto s = preprocess(picture, cv::Rect(150, 120, 200, 100), sized(64, 64, Resize::kStretch));
  ASSERT_TRUE(s.ok());
  expect_box(s->transform.to_source({0, 0, 64, 64}), {150, 120, 350, 220});
  expect_box(s->transform.to_source({16, 32, 32, 48}), {200, 170, 250, 195});
  // A region sticking out of the picture is clipped first: (350, 250) 100x100 -> 50x50.
  auto edge = preprocess(picture, cv::Rect(350, 250, 100, 100), sized(64, 64, Resize::kStretch));
  ASSERT_TRUE(edge.ok());
  expect_box(edge->transform.to_source({0, 0, 64, 64}), {350, 250, 400, 300});
  // And boxes never leave the source picture.
  expect_box(edge->transform.to_source({32, 32, 128, 128}), {375, 275, 400, 300});
}

TEST(Preprocess, RejectsEmptyPicturesAndRegions) {
  const ModelSpec spec = sized(64, 64, Resize::kStretch);
  EXPECT_FALSE(preprocess(cv::Mat(), spec).ok());
  auto outside = preprocess(cv::Mat(10, 10, CV_8UC3), cv::Rect(20, 20, 5, 5), spec);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("no pixels inside the 10x10 picture"),
            std::string::npos)
      << outside.status().message();
}

// Value of model channel c at model pixel (x, y), whatever the layout.
float at(const Tensor& t, Layout layout, int x, int y, int c) {
  if (layout == Layout::kNCHW) return t.data[(c * t.shape[2] + y) * t.shape[3] + x];
  return t.data[(y * t.shape[2] + x) * 3 + c];
}

// Runs `picture` through make_models.py's identity model (input 64x48) and checks every value it
// returns against an independent computation: the resized picture at its place, the border
// elsewhere, channels in the model's order, (pixel * scale - mean) / std.
void check_identity(const cv::Mat& picture, ModelSpec spec, const cv::Rect& placed) {
  spec.name = "identity";
  spec.path =
      test_model(spec.layout == Layout::kNCHW ? "identity_nchw.onnx" : "identity_nhwc.onnx");
  spec.input_width = 64;
  spec.input_height = 48;
  auto backend = make_backend("opencv");
  ASSERT_TRUE(backend.ok());
  auto loaded = (*backend)->load(spec);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto context = (*loaded)->new_context();
  ASSERT_TRUE(context.ok());
  auto sample = preprocess(picture, spec);
  ASSERT_TRUE(sample.ok()) << sample.status().message();
  auto out = (*context)->infer(sample->tensor);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->size(), 1u);
  const Tensor& t = (*out)[0];
  EXPECT_EQ(t.shape, sample->tensor.shape);
  ASSERT_EQ(t.data.size(), 64u * 48 * 3);

  cv::Mat resized;
  cv::resize(picture, resized, placed.size(), 0, 0, cv::INTER_LINEAR);
  for (int y = 0; y < 48; ++y) {
    for (int x = 0; x < 64; ++x) {
      for (int c = 0; c < 3; ++c) {
        const int bgr = spec.rgb ? 2 - c : c;
        const double pixel = placed.contains({x, y})
                                 ? resized.at<cv::Vec3b>(y - placed.y, x - placed.x)[bgr]
                                 : spec.pad_value;
        const double want = (pixel * spec.scale - spec.mean[c]) / spec.std[c];
        ASSERT_NEAR(at(t, spec.layout, x, y, c), want, 1e-5)
            << "x " << x << " y " << y << " channel " << c;
      }
    }
  }
}

TEST(Preprocess, IdentityModelSeesLetterboxedRgbNchw) {
  const cv::Mat fruits = cv::imread(kFruits);
  ASSERT_FALSE(fruits.empty()) << kFruits;
  ModelSpec spec;
  spec.layout = Layout::kNCHW;
  spec.rgb = true;
  spec.mean = {0.485, 0.456, 0.406};
  spec.std = {0.229, 0.224, 0.225};
  spec.resize = Resize::kLetterbox;
  // 512x480 into 64x48: scale 0.1 -> 51x48 (51.2 rounded), border 13: 6 left, 7 right.
  check_identity(fruits, spec, cv::Rect(6, 0, 51, 48));
}

TEST(Preprocess, IdentityModelSeesLetterboxedBgrNhwc) {
  const cv::Mat building = cv::imread(kBuilding);
  ASSERT_FALSE(building.empty()) << kBuilding;
  ModelSpec spec;
  spec.layout = Layout::kNHWC;
  spec.rgb = false;
  spec.scale = 1 / 127.5;
  spec.mean = {1, 1, 1};
  spec.pad_value = 0;
  spec.resize = Resize::kLetterbox;
  // 868x600 into 64x48: scale 64/868 -> 64x44 (44.2 rounded), border 4: 2 top, 2 bottom.
  check_identity(building, spec, cv::Rect(0, 2, 64, 44));
}

TEST(Preprocess, IdentityModelSeesStretchedPicture) {
  const cv::Mat fruits = cv::imread(kFruits);
  ASSERT_FALSE(fruits.empty()) << kFruits;
  ModelSpec spec;
  spec.layout = Layout::kNHWC;
  spec.resize = Resize::kStretch;
  check_identity(fruits, spec, cv::Rect(0, 0, 64, 48));
}

TEST(Preprocess, RegionIsTheSameAsTheCroppedPicture) {
  const cv::Mat fruits = cv::imread(kFruits);
  ASSERT_FALSE(fruits.empty()) << kFruits;
  const cv::Rect roi(100, 60, 200, 160);
  const ModelSpec spec = sized(64, 48, Resize::kLetterbox);
  auto region = preprocess(fruits, roi, spec);
  auto cropped = preprocess(fruits(roi).clone(), spec);
  ASSERT_TRUE(region.ok() && cropped.ok());
  EXPECT_EQ(region->tensor.data, cropped->tensor.data);
  EXPECT_EQ(region->transform.roi_x, 100);
  EXPECT_EQ(region->transform.roi_y, 60);
}

}  // namespace
}  // namespace iris::infer
