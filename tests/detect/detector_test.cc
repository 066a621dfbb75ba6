#include "detect/detector.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "detect/detect_now.h"
#include "support/support.h"
#include "video/source.h"

namespace iris::detect {
namespace {

TEST(MotionDetector, FindsTheMovingObjectWhereItIs) {
  auto det = make_local(MotionSpec{.label = "thing"});
  const cv::Mat bg = testing::textured_background(640, 480);
  std::vector<Detection> last;
  for (int i = 0; i < 10; ++i) {
    cv::Mat img = bg.clone();
    // Frame 0 is the empty scene that seeds the background.
    if (i > 0) {
      cv::rectangle(img, cv::Rect(100 + 10 * i, 200, 40, 80), cv::Scalar(240, 240, 240),
                    cv::FILLED);
    }
    auto r = detect_now(*det, testing::frame_of(img, i));
    ASSERT_TRUE(r.ok());
    if (i == 0) {
      EXPECT_TRUE(r->empty());
    }
    last = *r;
  }
  // Frame 9: object at x 190..230; the region also covers where it just was (x 180..190).
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].label, "thing");
  EXPECT_GT(iou(last[0].box, Box{180, 200, 230, 280}), 0.7)
      << last[0].box.x1 << " " << last[0].box.x2;
}

TEST(MotionDetector, StaticSceneAndTinyChangesGiveNothing) {
  auto det = make_local(MotionSpec{.min_area = 0.01});
  const cv::Mat bg = testing::textured_background(320, 240);
  for (int i = 0; i < 5; ++i) {
    cv::Mat img = bg.clone();
    if (i > 0) cv::circle(img, {50 + i, 50}, 2, cv::Scalar(255, 255, 255), cv::FILLED);
    auto r = detect_now(*det, testing::frame_of(img, i));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty()) << "frame " << i;
  }
}

// Frame 150 of Debian's vtest.avi: boxes drawn by hand from the pixels (source coordinates).
TEST(HogDetector, FindsPedestriansInRealFootage) {
  auto src = video::Source::open({.url = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"});
  ASSERT_TRUE(src.ok()) << src.status().message();
  std::optional<Frame> f;
  for (int i = 0; i <= 150; ++i) {
    auto r = (*src)->read();
    ASSERT_TRUE(r.ok() && r->has_value());
    f = **r;
  }
  auto det = make_local(HogSpec{.upscale = 1.2, .min_confidence = 0.6});
  auto r = detect_now(*det, *f);
  ASSERT_TRUE(r.ok());
  const std::vector<Box> people = {{588, 228, 628, 316}, {388, 195, 418, 280}};
  int found = 0;
  for (const Box& p : people) {
    for (const Detection& d : *r) {
      if (iou(d.box, p) >= 0.4) {
        ++found;
        break;
      }
    }
  }
  EXPECT_GE(found, 1);
  for (const Detection& d : *r) {
    EXPECT_EQ(d.label, "person");
    EXPECT_GE(d.score, 0.6f);
  }
}

TEST(HogDetector, NoPeopleInRealPicturesWithoutPeople) {
  auto det = make_local(HogSpec{.upscale = 1.2, .min_confidence = 0.6});
  for (const char* name : {"fruits.jpg", "building.jpg", "baboon.jpg"}) {
    const cv::Mat img = cv::imread(std::string("/usr/share/doc/opencv-doc/examples/data/") + name);
    ASSERT_FALSE(img.empty()) << name;
    auto r = detect_now(*det, testing::frame_of(img, 0));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty()) << name;
  }
}

TEST(HogDetector, FramesSmallerThanTheWindowGiveNothing) {
  auto det = make_local(HogSpec{});
  auto r = detect_now(*det, testing::frame_of(testing::textured_background(96, 72), 0));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(Detectors, AnEmptyPictureFindsNothingAndNeverCrashes) {
  for (const DetectorSpec& spec : {DetectorSpec{HogSpec{}}, DetectorSpec{MotionSpec{}}}) {
    auto det = make_local(spec);
    auto r = detect_now(*det, testing::frame_of(cv::Mat(), 0));
    EXPECT_TRUE(!r.ok() || r->empty());
  }
}

}  // namespace
}  // namespace iris::detect
