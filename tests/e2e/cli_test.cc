// The iris binary as a user runs it: help, validate, run, and a drain on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "e2e/scene.h"
#include "support/support.h"

namespace iris {
namespace {

namespace scene = testing::scene;

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(Cli, HelpListsTheCommands) {
  testing::TempDir dir;
  ASSERT_EQ(testing::wait_child(testing::spawn_iris({"--help"}, dir.file("log")), 10), 0);
  const std::string out = testing::read_file(dir.file("log"));
  EXPECT_NE(out.find("run"), std::string::npos);
  EXPECT_NE(out.find("validate"), std::string::npos);
  ASSERT_EQ(testing::wait_child(testing::spawn_iris({"help", "run"}, dir.file("log")), 10), 0);
  EXPECT_NE(testing::read_file(dir.file("log")).find("SIGTERM"), std::string::npos);
  EXPECT_EQ(testing::wait_child(testing::spawn_iris({"frobnicate"}, dir.file("log")), 10), 2);
  EXPECT_NE(testing::read_file(dir.file("log")).find("unknown command 'frobnicate'"),
            std::string::npos);
}

TEST(Cli, ValidateReportsFileLineAndKey) {
  testing::TempDir dir;
  write_text(dir.file("bad.yaml"),
             "streams:\n"
             "  - name: cam\n"
             "    url: /no/such/video.mp4\n"
             "    detector: {type: motion}\n");
  EXPECT_EQ(testing::wait_child(
                testing::spawn_iris({"validate", dir.file("bad.yaml")}, dir.file("log")), 10),
            1);
  const std::string out = testing::read_file(dir.file("log"));
  EXPECT_NE(out.find("bad.yaml:3:"), std::string::npos) << out;
  EXPECT_NE(out.find("/no/such/video.mp4"), std::string::npos) << out;
  // `run` validates first and runs nothing.
  EXPECT_EQ(
      testing::wait_child(testing::spawn_iris({"run", dir.file("bad.yaml")}, dir.file("log")), 10),
      1);
}

TEST(Cli, RunPrintsASummaryWithEventsByRule) {
  testing::TempDir dir;
  ASSERT_TRUE(scene::write(dir.file("scene.mp4")).ok());
  write_text(dir.file("c.yaml"), scene::config(dir.file("scene.mp4"), dir.file("out")));
  ASSERT_EQ(
      testing::wait_child(testing::spawn_iris({"run", dir.file("c.yaml")}, dir.file("log")), 120),
      0);
  const std::string out = testing::read_file(dir.file("log"));
  EXPECT_NE(out.find("140 frames"), std::string::npos) << out;
  EXPECT_NE(out.find("synth/door: line_cross 2"), std::string::npos) << out;
  EXPECT_NE(out.find("synth/yard: zone_enter 1, zone_exit 1"), std::string::npos) << out;
}

TEST(Cli, SigtermMidRunDrainsAndLeavesAPlayableMp4) {
  testing::TempDir dir;
  ASSERT_TRUE(scene::write(dir.file("scene.mp4")).ok());
  // Looping in real time: the run never ends by itself.
  std::string cfg = scene::config(dir.file("scene.mp4"), dir.file("out"));
  cfg.replace(cfg.find("    detector:"), 0, "    loop: true\n    realtime: true\n");
  write_text(dir.file("c.yaml"), cfg);
  const pid_t pid = testing::spawn_iris({"run", dir.file("c.yaml")}, dir.file("log"));
  sleep(3);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  ASSERT_EQ(testing::wait_child(pid, 30), 0) << testing::read_file(dir.file("log"));

  const auto annotated = testing::count_frames(dir.file("out/annotated.mp4"));
  ASSERT_TRUE(annotated.ok()) << annotated.status().message();
  EXPECT_GT(annotated->frames, 10);  // ~3 s at 10 fps
  EXPECT_EQ(annotated->decode_errors, 0u);
  EXPECT_NE(testing::read_file(dir.file("log")).find("iris run:"), std::string::npos);
}

}  // namespace
}  // namespace iris

namespace iris {
namespace {

// `iris eval --json` on the reference vectors (numbers from pycocotools and TrackEval).
nlohmann::json run_eval_json(const std::vector<std::string>& args) {
  testing::TempDir dir;
  EXPECT_EQ(testing::wait_child(testing::spawn_iris(args, dir.file("log")), 60), 0);
  return nlohmann::json::parse(testing::read_file(dir.file("log")));
}

const std::string kVectors = IRIS_SOURCE_DIR "/tests/eval/vectors";

TEST(Cli, EvalDetMatchesPycocotoolsOnEveryCase) {
  for (const char* c : {"case1", "case2", "case3"}) {
    SCOPED_TRACE(c);
    const std::string dir = kVectors + "/coco/" + c;
    const auto got = run_eval_json(
        {"eval", "det", "--gt", dir + "/gt.json", "--dt", dir + "/dt.json", "--json"});
    const auto want = nlohmann::json::parse(testing::read_file(dir + "/expected.json"));
    ASSERT_EQ(got["names"], want["names"]);
    ASSERT_EQ(got["stats"].size(), 12u);
    for (size_t i = 0; i < 12; ++i) {
      EXPECT_NEAR(got["stats"][i].get<double>(), want["stats"][i].get<double>(), 1e-4) << i;
    }
  }
}

TEST(Cli, EvalMotMatchesTrackEvalOnEveryCase) {
  for (const char* c : {"case1", "case2"}) {
    SCOPED_TRACE(c);
    const std::string dir = kVectors + "/mot/" + c;
    const auto got = run_eval_json(
        {"eval", "mot", "--gt", dir + "/gt.txt", "--tracker", dir + "/tracker.txt", "--json"});
    const auto want = nlohmann::json::parse(testing::read_file(dir + "/expected.json"));
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [key, value] : want.items()) {
      ASSERT_TRUE(got.contains(key)) << key;
      if (value.is_number_integer()) {
        EXPECT_EQ(got[key], value) << key;
      } else {
        EXPECT_NEAR(got[key].get<double>(), value.get<double>(), 1e-3) << key;
      }
    }
  }
}

TEST(Cli, EvalOnMalformedInputNamesTheFile) {
  testing::TempDir dir;
  std::ofstream(dir.file("dt.json")) << "[{\"image_id\": 1,";
  const std::string gt = kVectors + "/coco/case1/gt.json";
  EXPECT_EQ(testing::wait_child(
                testing::spawn_iris({"eval", "det", "--gt", gt, "--dt", dir.file("dt.json")},
                                    dir.file("log")),
                30),
            1);
  EXPECT_NE(testing::read_file(dir.file("log")).find("dt.json"), std::string::npos);
}

}  // namespace
}  // namespace iris
