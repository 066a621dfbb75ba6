// Whole pipelines on a generated clip: decode -> motion -> SORT -> rules -> JSONL + MP4.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "e2e/scene.h"
#include "pipeline/config.h"
#include "pipeline/engine.h"
#include "support/support.h"

namespace iris {
namespace {

using nlohmann::json;
namespace scene = testing::scene;

struct RunResult {
  std::vector<json> events;
  std::vector<pipeline::StreamStats> stats;
};

RunResult run_pipeline(const std::string& url, const std::string& out_dir) {
  auto spec = pipeline::parse_config(scene::config(url, out_dir), "e2e.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status().message();
  auto engine = pipeline::Engine::create(*spec);
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  (*engine)->start();
  EXPECT_TRUE((*engine)->wait_for(std::chrono::seconds(120)));
  RunResult r;
  r.stats = (*engine)->stats();
  engine->reset();
  for (const auto& line : testing::read_lines(out_dir + "/events.jsonl")) {
    r.events.push_back(json::parse(line));
  }
  return r;
}

// Events with the fields the scene fixes, in order.
struct Expected {
  std::string rule, type, direction;
  int frame;
};

std::vector<Expected> expected_events() {
  // Side changes once the feet are 4 px past x=100; the zone spans x 200..280.
  const int a_cross = scene::first_frame(0, 65, [](int i) { return scene::a_x(i) >= 104; });
  const int a_enter = scene::first_frame(0, 65, [](int i) { return scene::a_x(i) >= 200; });
  const int a_exit = scene::first_frame(0, 65, [](int i) { return scene::a_x(i) > 280; });
  const int b_cross = scene::first_frame(70, 140, [](int i) { return scene::b_x(i) <= 96; });
  return {{"door", "line_cross", "A->B", a_cross},
          {"yard", "zone_enter", "", a_enter},
          {"yard", "zone_exit", "", a_exit},
          {"door", "line_cross", "B->A", b_cross}};
}

void expect_scene_events(const std::vector<json>& events) {
  const auto want = expected_events();
  ASSERT_EQ(events.size(), want.size()) << json(events).dump(1);
  for (size_t i = 0; i < want.size(); ++i) {
    const json& e = events[i];
    SCOPED_TRACE("event " + std::to_string(i) + ": " + e.dump());
    EXPECT_EQ(e["rule"], want[i].rule);
    EXPECT_EQ(e["type"], want[i].type);
    if (!want[i].direction.empty()) {
      EXPECT_EQ(e["direction"], want[i].direction);
    }
    EXPECT_NEAR(e["frame"].get<int>(), want[i].frame, 1);
    EXPECT_EQ(e["schema"], "iris.event.v1");
    EXPECT_EQ(e["stream"], "synth");
    EXPECT_EQ(e["class"], "person");
    EXPECT_EQ(e["id"].get<std::string>().size(), 26u);
    EXPECT_TRUE(std::filesystem::exists(e["snapshot"].get<std::string>()));
    // The clip: from the key frame before the second ahead of the event to a second after it
    // (or the end of the stream), finished when the run is.
    const std::string clip = e["clip"].get<std::string>();
    EXPECT_FALSE(std::filesystem::exists(clip + ".part"));
    const auto clip_frames = testing::count_frames(clip);
    ASSERT_TRUE(clip_frames.ok()) << clip_frames.status().message();
    EXPECT_EQ(clip_frames->decode_errors, 0u);
    const int frame = e["frame"].get<int>(), second = static_cast<int>(scene::kFps);
    const int before = std::min(second, frame),
              after = std::min(second, scene::kFrames - 1 - frame);
    EXPECT_GE(clip_frames->frames, before + after - 2);
    EXPECT_LE(clip_frames->frames, 2 * second + before + after + 4);  // a GOP (2 s) more at most
  }
  // The exit carries the visit's duration: from entering to leaving the zone.
  const double visit = (want[2].frame - want[1].frame) / scene::kFps;
  EXPECT_NEAR(events[2]["duration"].get<double>(), visit, 0.21);
  EXPECT_EQ(events[2]["reason"], "left");
  EXPECT_EQ(events[0]["count"], 1);
  EXPECT_EQ(events[3]["count"], 1);
  EXPECT_NE(events[0]["track_id"], events[3]["track_id"]);
}

TEST(EndToEnd, FileGivesTheScriptedEventsAndAFullAnnotatedVideo) {
  testing::TempDir dir;
  ASSERT_TRUE(scene::write(dir.file("scene.mp4")).ok());
  const RunResult r = run_pipeline(dir.file("scene.mp4"), dir.file("out"));
  expect_scene_events(r.events);
  ASSERT_EQ(r.stats.size(), 1u);
  EXPECT_EQ(r.stats[0].state, pipeline::StreamState::kEnded);
  EXPECT_EQ(r.stats[0].counters.frames, scene::kFrames);
  const auto annotated = testing::count_frames(dir.file("out/annotated.mp4"));
  ASSERT_TRUE(annotated.ok()) << annotated.status().message();
  EXPECT_EQ(annotated->frames, scene::kFrames);
}

TEST(EndToEnd, HttpGivesTheSameEventsAsTheFile) {
  testing::TempDir dir;
  ASSERT_TRUE(scene::write(dir.file("scene.mp4")).ok());
  testing::HttpFileServer server(dir.path());
  const RunResult r = run_pipeline(server.url("scene.mp4"), dir.file("out"));
  expect_scene_events(r.events);
  EXPECT_EQ(r.stats[0].counters.frames, scene::kFrames);
  EXPECT_EQ(r.stats[0].dropped, 0u);
}

TEST(EndToEnd, StreamThatBreaksMidwayEndsCleanlyWithEventsSoFar) {
  testing::TempDir dir;
  ASSERT_TRUE(scene::write(dir.file("scene.mkv")).ok());
  const std::string data = testing::read_file(dir.file("scene.mkv"));
  {
    std::ofstream cut(dir.file("cut.mkv"), std::ios::binary);
    cut.write(data.data(), static_cast<std::streamsize>(data.size() / 2));
  }
  const RunResult r = run_pipeline(dir.file("cut.mkv"), dir.file("out"));
  ASSERT_EQ(r.stats.size(), 1u);
  EXPECT_GT(r.stats[0].counters.frames, 20);
  EXPECT_LT(r.stats[0].counters.frames, scene::kFrames);
  // The first crossing happens early in the clip; it made it to disk.
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events[0]["type"], "line_cross");
  const auto annotated = testing::count_frames(dir.file("out/annotated.mp4"));
  ASSERT_TRUE(annotated.ok()) << annotated.status().message();
  EXPECT_EQ(annotated->frames, r.stats[0].counters.frames);
}

TEST(EndToEnd, CorruptBytesInTheMiddleAreSkipped) {
  testing::TempDir dir;
  ASSERT_TRUE(scene::write(dir.file("scene.mp4")).ok());
  std::string data = testing::read_file(dir.file("scene.mp4"));
  // Overwrite a stretch in the middle of the media data with garbage.
  for (size_t i = data.size() * 2 / 5; i < data.size() * 2 / 5 + 3000; ++i) {
    data[i] = static_cast<char>((i * 7919) & 0xff);
  }
  {
    std::ofstream out(dir.file("bad.mp4"), std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  const RunResult r = run_pipeline(dir.file("bad.mp4"), dir.file("out"));
  ASSERT_EQ(r.stats.size(), 1u);
  EXPECT_EQ(r.stats[0].state, pipeline::StreamState::kEnded) << r.stats[0].reason;
  EXPECT_GT(r.stats[0].counters.frames, scene::kFrames / 2);
  EXPECT_FALSE(r.events.empty());
}

TEST(EndToEnd, TruncatedMp4WithoutIndexIsAClearErrorBeforeRunning) {
  testing::TempDir dir;
  ASSERT_TRUE(scene::write(dir.file("scene.mp4")).ok());
  const std::string data = testing::read_file(dir.file("scene.mp4"));
  {
    std::ofstream cut(dir.file("cut.mp4"), std::ios::binary);
    cut.write(data.data(), static_cast<std::streamsize>(data.size() / 2));
  }
  auto spec = pipeline::parse_config(scene::config(dir.file("cut.mp4"), dir.file("out")), "e.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  auto engine = pipeline::Engine::create(*spec);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("stream 'synth'"), std::string::npos);
  EXPECT_NE(engine.status().message().find("cut.mp4"), std::string::npos);
}

}  // namespace
}  // namespace iris

namespace iris {
namespace {

TEST(EndToEnd, UnwritableVideoOutputFailsBeforeRunning) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::scene::write(dir.file("scene.mp4")).ok());
  std::string cfg = testing::scene::config(dir.file("scene.mp4"), dir.file("out"));
  const std::string mp4 = dir.file("out") + "/annotated.mp4";
  cfg.replace(cfg.find(mp4), mp4.size(), "/proc/iris-no/annotated.mp4");
  auto spec = pipeline::parse_config(cfg, "e.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  auto engine = pipeline::Engine::create(*spec);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("/proc/iris-no/annotated.mp4"), std::string::npos)
      << engine.status().message();
}

}  // namespace
}  // namespace iris
