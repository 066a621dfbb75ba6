// Config of the replay detector (the file is read and checked when the config loads) and of the
// MOT track output.
#include <gtest/gtest.h>

#include <fstream>
#include <variant>

#include "pipeline/config.h"
#include "pipeline/config_test_support.h"
#include "support/support.h"

namespace iris::pipeline {
namespace {

class ConfigReplayTest : public ::testing::Test {
 protected:
  void SetUp() override { std::ofstream(dir_.file("clip.mp4")) << "a stand-in video"; }

  // A one-stream config around `detector` and `outputs` (YAML flow maps).
  std::string config(const std::string& detector, const std::string& outputs = "[]") const {
    return "streams:\n"
           "  - name: cam\n"
           "    url: " +
           dir_.file("clip.mp4") +
           "\n"
           "    detector: " +
           detector +
           "\n"
           "    outputs: " +
           outputs + "\n";
  }
  std::string error(const std::string& yaml) const {
    auto spec = parse_config(yaml, "cfg.yaml");
    EXPECT_FALSE(spec.ok());
    return spec.ok() ? "" : spec.status().message();
  }

  testing::TempDir dir_;
};

TEST_F(ConfigReplayTest, ReplayDetectorLoadsItsFile) {
  std::ofstream(dir_.file("dets.txt")) << "1,-1,10,20,30,40,0.9,1\n2,-1,1,2,3,4,0.5,2\n";
  auto spec = parse_config(
      config("{type: replay, path: " + dir_.file("dets.txt") + ", classes: [person, car]}"),
      "cfg.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  const auto* replay = std::get_if<detect::ReplaySpec>(&spec->streams[0].detector);
  ASSERT_NE(replay, nullptr);
  EXPECT_EQ(replay->path, dir_.file("dets.txt"));
  EXPECT_EQ(replay->classes, (std::vector<std::string>{"person", "car"}));
  ASSERT_NE(replay->frames, nullptr);
  ASSERT_EQ(replay->frames->size(), 2u);
  EXPECT_EQ(replay->frames->at(2).front().label, "car");
}

TEST_F(ConfigReplayTest, MissingReplayFileIsAConfigError) {
  const std::string msg = error(config("{type: replay, path: " + dir_.file("none.txt") + "}"));
  EXPECT_TRUE(contains(msg, "cfg.yaml:4:"));
  EXPECT_TRUE(contains(msg, "streams[0].detector.path: '" + dir_.file("none.txt") +
                                "' is not a file; give the detections file to replay"));
  EXPECT_TRUE(contains(error(config("{type: replay}")),
                       "missing required key 'path'; give the detections file to replay"));
}

TEST_F(ConfigReplayTest, MalformedReplayFileFailsTheConfigWithFileAndLine) {
  std::ofstream(dir_.file("dets.txt")) << "1,-1,10,20,30,40,0.9,1\n1,-1,10,20,-3,40,0.9,1\n";
  const std::string msg = error(config("{type: replay, path: " + dir_.file("dets.txt") + "}"));
  EXPECT_TRUE(contains(msg, "cfg.yaml:4:"));
  EXPECT_TRUE(contains(msg, dir_.file("dets.txt") + ":2: field 5 must be a width > 0"));
}

TEST_F(ConfigReplayTest, ReplayClassesMustNameEveryClassInTheFile) {
  std::ofstream(dir_.file("dets.txt")) << "1,-1,10,20,30,40,0.9,3\n";
  EXPECT_TRUE(contains(
      error(config("{type: replay, path: " + dir_.file("dets.txt") + ", classes: [person]}")),
      dir_.file("dets.txt") + ":1: class 3 has no name: classes lists 1 (person)"));
}

TEST_F(ConfigReplayTest, ReplayRefusesOtherDetectorsKeys) {
  std::ofstream(dir_.file("dets.txt")) << "";
  EXPECT_TRUE(
      contains(error(config("{type: replay, path: " + dir_.file("dets.txt") + ", label: person}")),
               "unknown key 'label'"));
}

TEST_F(ConfigReplayTest, MotOutputGivesItsPath) {
  auto spec = parse_config(
      config("{type: motion}", "[{type: mot, path: " + dir_.file("out/tracks.txt") + "}]"),
      "cfg.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  ASSERT_EQ(spec->streams[0].mot.size(), 1u);
  EXPECT_EQ(spec->streams[0].mot[0].path, dir_.file("out/tracks.txt"));
}

TEST_F(ConfigReplayTest, MotOutputMayNotShareAFile) {
  const std::string path = dir_.file("out/x.txt");
  const std::string msg = error(config(
      "{type: motion}", "[{type: jsonl, path: " + path + "}, {type: mot, path: " + path + "}]"));
  EXPECT_TRUE(contains(msg, "streams[0].outputs[1].path: '" + path + "' is also written by"));
  EXPECT_TRUE(
      contains(error(config("{type: motion}", "[{type: mot}]")), "missing required key 'path'"));
}

}  // namespace
}  // namespace iris::pipeline
