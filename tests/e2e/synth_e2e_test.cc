// The evaluation loop as a user runs it: `iris synth` writes a scene with exact truth, `iris run`
// replays its detections through tracker and rules, `iris eval events` and `iris eval mot` score
// the run. Without detection noise, the rules must raise exactly the scripted events.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/support.h"

namespace iris {
namespace {

using nlohmann::json;

// Runs iris; returns its exit code, with stdout and stderr in *out.
int iris(const std::vector<std::string>& args, const testing::TempDir& dir, std::string* out,
         double timeout_s = 120) {
  const int rc = testing::wait_child(testing::spawn_iris(args, dir.file("log")), timeout_s);
  *out = testing::read_file(dir.file("log"));
  return rc;
}

// Synthesizes `scenario` without noise into dir/scene, runs its pipeline and scores the events.
json run_noiseless(const testing::TempDir& dir, const std::string& scenario, const char* seconds) {
  const std::string scene = dir.file("scene");
  std::string out;
  EXPECT_EQ(iris({"synth", "--out", scene, "--scenario", scenario, "--seed", "3", "--duration",
                  seconds, "--size", "320x240", "--miss-rate", "0", "--fp-rate", "0", "--jitter",
                  "0", "--score-noise", "0"},
                 dir, &out),
            0)
      << out;
  EXPECT_NE(out.find("iris synth: scenario " + scenario), std::string::npos) << out;
  EXPECT_EQ(iris({"run", scene + "/pipeline.yaml", "--quiet"}, dir, &out), 0) << out;
  EXPECT_EQ(iris({"eval", "events", "--truth", scene + "/truth.json", "--events",
                  scene + "/events.jsonl", "--tolerance", "0.5", "--json"},
                 dir, &out),
            0)
      << out;
  return json::parse(out);
}

void expect_exact(const json& report, const std::vector<std::string>& types) {
  SCOPED_TRACE(report.dump(1));
  EXPECT_EQ(report["precision"], 1.0);
  EXPECT_EQ(report["recall"], 1.0);
  EXPECT_EQ(report["false_alarms_per_hour"], 0.0);
  for (const std::string& type : types) {
    ASSERT_TRUE(report["by_type"].contains(type)) << type;
    EXPECT_GT(report["by_type"][type]["truth"], 0) << type;
    EXPECT_EQ(report["by_type"][type]["matched"], report["by_type"][type]["truth"]) << type;
  }
}

TEST(SynthEndToEnd, NoiselessZonesAndLinesGiveExactlyTheTruth) {
  testing::TempDir dir;
  const json report = run_noiseless(dir, "basic", "30");
  expect_exact(report, {"line_cross", "zone_enter", "zone_exit"});

  // The tracks the pipeline wrote score against the ground truth.
  std::string out;
  ASSERT_EQ(iris({"eval", "mot", "--gt", dir.file("scene/gt.txt"), "--tracker",
                  dir.file("scene/tracks.txt"), "--json"},
                 dir, &out),
            0)
      << out;
  const json mot = json::parse(out);
  EXPECT_GT(mot["HOTA"].get<double>(), 0.75) << out;
  EXPECT_GT(mot["IDF1"].get<double>(), 0.9) << out;
  EXPECT_EQ(mot["IDSW"], 0) << out;
}

TEST(SynthEndToEnd, NoiselessLoiteringAndCrowdsGiveExactlyTheTruth) {
  testing::TempDir dir;
  const json report = run_noiseless(dir, "gathering", "60");
  expect_exact(report, {"loiter_start", "loiter_end", "crowd_start", "crowd_end"});
}

TEST(SynthEndToEnd, NoisyDetectionsCostPrecision) {
  testing::TempDir dir;
  const std::string scene = dir.file("scene");
  std::string out;
  ASSERT_EQ(iris({"synth", "--out", scene, "--seed", "1", "--duration", "30", "--size", "320x240",
                  "--fp-rate", "0.2"},
                 dir, &out),
            0)
      << out;
  ASSERT_EQ(iris({"run", scene + "/pipeline.yaml", "--quiet"}, dir, &out), 0) << out;
  ASSERT_EQ(iris({"eval", "events", "--truth", scene + "/truth.json", "--events",
                  scene + "/events.jsonl", "--tolerance", "1"},
                 dir, &out),
            0)
      << out;
  EXPECT_NE(out.find("synth/yard/zone_enter"), std::string::npos) << out;
  EXPECT_NE(out.find("total"), std::string::npos) << out;
  ASSERT_EQ(iris({"eval", "events", "--truth", scene + "/truth.json", "--events",
                  scene + "/events.jsonl", "--tolerance", "1", "--json"},
                 dir, &out),
            0)
      << out;
  const json report = json::parse(out);
  // The cardboard figure in the yard and the flicker raise events nothing caused.
  EXPECT_GT(report["false_alarms"].get<int>(), 0) << out;
  EXPECT_LT(report["precision"].get<double>(), 1) << out;
}

TEST(SynthEndToEnd, EvalRejectsMalformedInputNamingFileAndRecord) {
  testing::TempDir dir;
  std::string out;
  // Events of another scene.
  std::ofstream(dir.file("truth.json"))
      << R"({"streams": [{"name": "synth", "duration": 60, "rules": [{"name": "gate"}]}],
            "events": []})";
  std::ofstream(dir.file("events.jsonl"))
      << R"({"stream": "synth", "rule": "gate", "type": "line_cross", "media_time": 1, "direction": "A->B"})"
      << "\n"
      << R"({"stream": "lobby", "rule": "gate", "type": "line_cross", "media_time": 2, "direction": "A->B"})"
      << "\n";
  EXPECT_EQ(iris({"eval", "events", "--truth", dir.file("truth.json"), "--events",
                  dir.file("events.jsonl"), "--tolerance", "1"},
                 dir, &out),
            1);
  EXPECT_NE(out.find(dir.file("events.jsonl") + ":2: stream 'lobby' is not in"), std::string::npos)
      << out;
  EXPECT_EQ(iris({"eval", "events", "--truth", dir.file("truth.json"), "--events",
                  dir.file("events.jsonl")},
                 dir, &out),
            2);
  EXPECT_NE(out.find("needs --truth, --events and --tolerance"), std::string::npos) << out;

  // A detection with a negative width, and one on an image the ground truth does not have.
  std::ofstream(dir.file("gt.json"))
      << R"({"images": [{"id": 1}], "categories": [{"id": 1, "name": "person"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10],
                             "area": 100, "iscrowd": 0}]})";
  for (const auto& [dt, error] :
       {std::pair{R"([{"image_id": 1, "category_id": 1, "bbox": [0, 0, -10, 10], "score": 0.9}])",
                  ": detection #0: bbox has negative width"},
        std::pair{R"([{"image_id": 7, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}])",
                  ": detection #0: image_id 7 is not among the images"}}) {
    std::ofstream(dir.file("dt.json")) << dt;
    EXPECT_EQ(
        iris({"eval", "det", "--gt", dir.file("gt.json"), "--dt", dir.file("dt.json")}, dir, &out),
        1);
    EXPECT_NE(out.find(dir.file("dt.json") + error), std::string::npos) << out;
  }

  // A track with a negative height.
  std::ofstream(dir.file("gt.txt")) << "1,1,0,0,10,10,1,1,1\n";
  std::ofstream(dir.file("tracks.txt")) << "1,1,0,0,10,10,1,-1,-1,-1\n2,1,0,0,10,-4,1,-1,-1,-1\n";
  EXPECT_EQ(iris({"eval", "mot", "--gt", dir.file("gt.txt"), "--tracker", dir.file("tracks.txt")},
                 dir, &out),
            1);
  EXPECT_NE(out.find(dir.file("tracks.txt") + ":2: box width and height must be >= 0"),
            std::string::npos)
      << out;
}

TEST(SynthEndToEnd, SynthRefusesBadOptions) {
  testing::TempDir dir;
  std::string out;
  EXPECT_EQ(iris({"synth", "--out", dir.file("s"), "--fp-rate", "-1"}, dir, &out), 1);
  EXPECT_NE(out.find("--fp-rate must be in [0, 10]"), std::string::npos) << out;
  EXPECT_EQ(iris({"synth", "--out", dir.file("s"), "--size", "big"}, dir, &out), 2);
  EXPECT_NE(out.find("--size needs a size WxH"), std::string::npos) << out;
  EXPECT_EQ(iris({"synth", "--seed", "1"}, dir, &out), 2);
  EXPECT_NE(out.find("needs --out DIR"), std::string::npos) << out;
}

}  // namespace
}  // namespace iris
