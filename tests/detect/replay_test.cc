// The replay detector: a detections file read once, then handed out frame by frame.
#include <gtest/gtest.h>

#include <fstream>

#include "detect/detect_now.h"
#include "detect/detector.h"
#include "support/support.h"

namespace iris::detect {
namespace {

Frame frame_at(int64_t index) {
  return testing::frame_of(cv::Mat(48, 64, CV_8UC3, cv::Scalar(0, 0, 0)), index);
}

class ReplayTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    const std::string path = dir_.file("detections.txt");
    std::ofstream(path) << text;
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(ReplayTest, FrameIndexIGetsTheLinesOfFrameIPlusOne) {
  const std::string path = write(
      "1,-1,10,20,30,40,0.9,1\n"
      "1,-1,0.5,1.5,2,3,0.25,3\n"
      "\n"
      "3,7,5,6,7,8,1,2\n");
  const std::vector<std::string> classes = {"person", "bicycle", "car"};
  auto frames = load_replay(path, classes);
  ASSERT_TRUE(frames.ok()) << frames.status().message();
  auto det = make_local(ReplaySpec{path, classes, *frames});
  ASSERT_NE(det, nullptr);
  std::vector<std::vector<Detection>> r;
  for (int i = 0; i < 4; ++i) {
    auto found = detect_now(*det, frame_at(i));
    ASSERT_TRUE(found.ok()) << found.status().message();
    r.push_back(*found);
  }
  ASSERT_EQ(r[0].size(), 2u);
  EXPECT_EQ(r[0][0].box, (Box{10, 20, 40, 60}));
  EXPECT_EQ(r[0][0].label, "person");
  EXPECT_FLOAT_EQ(r[0][0].score, 0.9f);
  EXPECT_EQ(r[0][1].box, (Box{0.5, 1.5, 2.5, 4.5}));
  EXPECT_EQ(r[0][1].label, "car");
  EXPECT_TRUE(r[1].empty());
  ASSERT_EQ(r[2].size(), 1u);
  EXPECT_EQ(r[2][0].label, "bicycle");
  EXPECT_TRUE(r[3].empty());  // past the end of the file: nothing
}

TEST_F(ReplayTest, WithoutClassesTheLabelIsTheClassId) {
  const std::string path = write("2,-1,1,1,4,4,0.5,7\n");
  auto frames = load_replay(path, {});
  ASSERT_TRUE(frames.ok()) << frames.status().message();
  ASSERT_EQ((*frames)->count(2), 1u);
  EXPECT_EQ((*frames)->at(2).front().label, "7");
}

struct BadLine {
  const char* name;
  const char* text;
  int line;
  const char* message;
};

class ReplayMalformed : public ReplayTest, public ::testing::WithParamInterface<BadLine> {};

TEST_P(ReplayMalformed, NamesFileAndLine) {
  const BadLine& bad = GetParam();
  const std::string path = write(bad.text);
  auto frames = load_replay(path, {"person", "bicycle", "car"});
  ASSERT_FALSE(frames.ok());
  const std::string want = path + ":" + std::to_string(bad.line) + ": " + bad.message;
  EXPECT_NE(frames.status().message().find(want), std::string::npos)
      << "got: " << frames.status().message() << "\nwant: " << want;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, ReplayMalformed,
    ::testing::Values(
        BadLine{"FieldCount", "1,-1,0,0,10,10,0.5,1\n1,-1,0,0,10,10\n", 2,
                "expected 8 comma-separated fields (frame,id,x,y,w,h,score,class), got 6"},
        BadLine{"FrameZero", "0,-1,0,0,10,10,0.5,1\n", 1, "field 1 must be a frame number >= 1"},
        BadLine{"FrameNotInteger", "1.5,-1,0,0,10,10,0.5,1\n", 1, "field 1 must be a frame number"},
        BadLine{"NotANumber", "1,-1,0,abc,10,10,0.5,1\n", 1,
                "field 4 must be a finite number, got 'abc'"},
        BadLine{"ZeroWidth", "1,-1,0,0,0,10,0.5,1\n", 1, "field 5 must be a width > 0, got '0'"},
        BadLine{"NegativeHeight", "\n1,-1,0,0,10,-2,0.5,1\n", 2,
                "field 6 must be a height > 0, got '-2'"},
        BadLine{"ScoreAboveOne", "1,-1,0,0,10,10,1.5,1\n", 1,
                "field 7 must be a score in [0, 1], got '1.5'"},
        BadLine{"ClassZero", "1,-1,0,0,10,10,0.5,0\n", 1, "field 8 must be a class id >= 1"},
        BadLine{"ClassWithoutName", "1,-1,0,0,10,10,0.5,4\n", 1,
                "class 4 has no name: classes lists 3 (person, bicycle, car)"}),
    [](const ::testing::TestParamInfo<BadLine>& info) { return info.param.name; });

TEST(Replay, MissingFileIsNamed) {
  auto frames = load_replay("/nonexistent/iris/detections.txt", {});
  ASSERT_FALSE(frames.ok());
  EXPECT_NE(frames.status().message().find("'/nonexistent/iris/detections.txt'"), std::string::npos)
      << frames.status().message();
}

}  // namespace
}  // namespace iris::detect
