// The Engine as a multi-stream runtime: ordering per stream, the drop policy of live streams,
// streams added, removed, paused and resumed while others run, cameras that go away and come
// back, cameras that never answer, and a stream whose frame size changes.
#include "pipeline/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "e2e/scene.h"
#include "pipeline/config.h"
#include "support/support.h"

namespace iris {
namespace {

namespace scene = testing::scene;
using pipeline::Engine;
using pipeline::StreamSpec;
using pipeline::StreamState;
using std::chrono::milliseconds;
using testing::eventually;

// A figure that never leaves the frame: it circles the middle, so a track always exists.
Status write_circling(const std::string& path, int w, int h, double fps, int frames) {
  return testing::write_clip(path, testing::textured_background(w, h), fps, frames,
                             [w, h](cv::Mat& img, int i) {
                               const double a = i * 0.15;
                               const cv::Point c(static_cast<int>(w / 2 + w / 5 * std::cos(a)),
                                                 static_cast<int>(h / 2 + h / 5 * std::sin(a)));
                               const int hw = w / 16, hh = h / 6;
                               cv::rectangle(img, c - cv::Point(hw, hh), c + cv::Point(hw, hh),
                                             cv::Scalar(235, 235, 235), cv::FILLED);
                             });
}

StreamSpec motion_stream(const std::string& name, const std::string& url) {
  StreamSpec s;
  s.name = name;
  s.url = url;
  s.detector = detect::MotionSpec{.min_area = 0.002, .label = "person"};
  s.tracker = track::SortSpec{.max_age = 1.0, .min_hits = 2, .iou_threshold = 0.1};
  return s;
}

std::map<std::string, pipeline::StreamStats> by_name(const Engine& e) {
  std::map<std::string, pipeline::StreamStats> out;
  for (auto& s : e.stats()) out[s.name] = s;
  return out;
}

int64_t frames_of(const Engine& e, const std::string& name) {
  const auto all = by_name(e);
  const auto it = all.find(name);
  return it == all.end() ? -1 : it->second.counters.frames;
}

// Rows of a MOT file: (frame, track id).
std::vector<std::pair<int, int>> mot_rows(const std::string& path) {
  std::vector<std::pair<int, int>> rows;
  for (const std::string& line : testing::read_lines(path)) {
    std::istringstream in(line);
    int frame = 0, id = 0;
    char comma = 0;
    in >> frame >> comma >> id;
    rows.emplace_back(frame, id);
  }
  return rows;
}

TEST(Engine, EveryStreamProcessesAllItsFramesInOrder) {
  testing::TempDir dir;
  ASSERT_TRUE(scene::write(dir.file("scene.mp4")).ok());
  pipeline::PipelineSpec spec;
  constexpr int kStreams = 6;
  for (int i = 0; i < kStreams; ++i) {
    StreamSpec s = motion_stream("s" + std::to_string(i), dir.file("scene.mp4"));
    s.mot.push_back({dir.file("s" + std::to_string(i) + ".txt")});
    spec.streams.push_back(s);
  }
  auto engine = Engine::create(spec, {.threads = 2});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  (*engine)->start();
  ASSERT_TRUE((*engine)->wait_for(std::chrono::seconds(120)));
  for (const auto& st : (*engine)->stats()) {
    EXPECT_EQ(st.state, StreamState::kEnded) << st.name << ": " << st.reason;
    EXPECT_EQ(st.counters.frames, scene::kFrames) << st.name;
    EXPECT_EQ(st.dropped, 0u) << "a file never drops: " << st.name;
  }
  EXPECT_EQ((*engine)->frame_latency().count(), static_cast<uint64_t>(kStreams * scene::kFrames));
  engine->reset();
  // Each stream's tracks were written frame after frame, and match the first stream's exactly.
  const auto first = mot_rows(dir.file("s0.txt"));
  ASSERT_FALSE(first.empty());
  for (int i = 0; i < kStreams; ++i) {
    const auto rows = mot_rows(dir.file("s" + std::to_string(i) + ".txt"));
    for (size_t k = 1; k < rows.size(); ++k) ASSERT_LE(rows[k - 1].first, rows[k].first) << i;
    EXPECT_EQ(rows, first) << "stream " << i;
  }
}

// HOG at 3x on every frame is far slower than the clip's 10 fps.
StreamSpec slow_stream(const std::string& name, const std::string& url) {
  StreamSpec s = motion_stream(name, url);
  s.detector = detect::HogSpec{.upscale = 3.0};
  return s;
}

TEST(Engine, SlowLiveStreamDropsOldestAndSlowFileDropsNothing) {
  testing::TempDir dir;
  ASSERT_TRUE(scene::write(dir.file("scene.mp4")).ok());
  StreamSpec live = slow_stream("live", dir.file("scene.mp4"));
  live.emulate_live = true;
  StreamSpec file = slow_stream("file", dir.file("scene.mp4"));
  auto engine = Engine::create({.streams = {live, file}}, {.threads = 2, .live_frames = 2});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  (*engine)->start();
  ASSERT_TRUE(eventually([&] { return by_name(**engine)["live"].dropped >= 5; }))
      << "a live stream that falls behind drops frames";
  (*engine)->request_stop();
  ASSERT_TRUE((*engine)->wait_for(std::chrono::seconds(60)));
  auto st = by_name(**engine);
  EXPECT_TRUE(st["live"].live);
  EXPECT_FALSE(st["file"].live);
  EXPECT_EQ(st["file"].dropped, 0u);
  EXPECT_GT(st["live"].counters.frames, 0);
}

TEST(Engine, StreamsAreAddedRemovedPausedAndResumedWhileOthersRun) {
  testing::TempDir dir;
  ASSERT_TRUE(write_circling(dir.file("clip.mp4"), 320, 240, 20, 60).ok());
  const std::string clip = dir.file("clip.mp4");
  pipeline::PipelineSpec spec;
  for (const char* name : {"a", "b", "c"}) {
    StreamSpec s = motion_stream(name, clip);
    s.emulate_live = true;
    s.jsonl.push_back({dir.file(std::string(name) + ".jsonl")});
    s.mp4.push_back({dir.file(std::string(name) + ".mp4")});
    spec.streams.push_back(s);
  }
  auto created = Engine::create(spec);
  ASSERT_TRUE(created.ok()) << created.status().message();
  Engine& engine = **created;
  engine.start();
  ASSERT_TRUE(eventually([&] { return frames_of(engine, "c") >= 10; }));

  // Each change returns while "c" keeps going.
  auto advances = [&](const std::function<void()>& change) {
    const int64_t before = frames_of(engine, "c");
    change();
    return eventually([&] { return frames_of(engine, "c") >= before + 5; });
  };

  StreamSpec d = motion_stream("d", clip);
  d.emulate_live = true;
  EXPECT_TRUE(advances([&] { ASSERT_TRUE(engine.add_stream(d).ok()); }));
  EXPECT_TRUE(eventually([&] { return frames_of(engine, "d") >= 10; })) << "added and running";
  const Status twice = engine.add_stream(d);
  EXPECT_FALSE(twice.ok());
  EXPECT_TRUE(testing::contains(twice.message(), "stream 'd' already exists"));

  EXPECT_TRUE(advances([&] { ASSERT_TRUE(engine.remove_stream("a").ok()); }));
  EXPECT_EQ(frames_of(engine, "a"), -1) << "forgotten";
  // Its outputs were closed: the MP4 plays to the last frame written.
  auto written = testing::count_frames(dir.file("a.mp4"));
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_GT(written->frames, 10);
  EXPECT_TRUE(testing::contains(engine.remove_stream("a").message(), "no stream named 'a'"));

  EXPECT_TRUE(advances([&] { ASSERT_TRUE(engine.pause_stream("b").ok()); }));
  EXPECT_EQ(by_name(engine)["b"].state, StreamState::kPaused);
  std::this_thread::sleep_for(milliseconds(300));  // frames queued before the pause finish
  const int64_t paused_at = frames_of(engine, "b");
  const int64_t c_at = frames_of(engine, "c");
  std::this_thread::sleep_for(milliseconds(600));
  EXPECT_EQ(frames_of(engine, "b"), paused_at) << "a paused stream reads nothing";
  EXPECT_GE(frames_of(engine, "c"), c_at + 5);
  EXPECT_TRUE(advances([&] { ASSERT_TRUE(engine.resume_stream("b").ok()); }));
  EXPECT_TRUE(eventually([&] { return frames_of(engine, "b") >= paused_at + 5; }));
  EXPECT_FALSE(engine.resume_stream("b").ok()) << "not paused";

  engine.request_stop();
  ASSERT_TRUE(engine.wait_for(std::chrono::seconds(30)));
  for (const auto& st : engine.stats()) {
    EXPECT_EQ(st.state, StreamState::kEnded) << st.name << ": " << st.reason;
  }
}

TEST(Engine, CameraOutageReconnectsResetsTracksAndOtherStreamsRunOn) {
  testing::TempDir dir;
  ASSERT_TRUE(write_circling(dir.file("clip.mp4"), 320, 240, 20, 100).ok());
  testing::RtspServer server({{"/cam", dir.file("clip.mp4")}});
  ASSERT_TRUE(server.start().ok());
  StreamSpec cam = motion_stream("cam", server.url("/cam"));
  cam.timeout = 3.0;
  cam.reconnect = {.initial_delay = 0.1, .max_delay = 0.5};
  cam.mot.push_back({dir.file("cam.txt")});
  StreamSpec file = motion_stream("file", dir.file("clip.mp4"));
  file.emulate_live = true;
  auto created = Engine::create({.streams = {cam, file}});
  ASSERT_TRUE(created.ok()) << created.status().message();
  Engine& engine = **created;
  engine.start();
  ASSERT_TRUE(eventually([&] { return frames_of(engine, "cam") >= 30; }));
  EXPECT_EQ(by_name(engine)["cam"].state, StreamState::kLive);

  server.kill();
  ASSERT_TRUE(eventually([&] {
    const StreamState s = by_name(engine)["cam"].state;
    return s == StreamState::kReconnecting || s == StreamState::kStalled;
  }));
  EXPECT_FALSE(by_name(engine)["cam"].reason.empty());
  std::this_thread::sleep_for(milliseconds(200));  // frames queued before the outage finish
  const auto at_outage = by_name(engine)["cam"];
  const int64_t before = at_outage.counters.frames;
  // Frames are numbered as read, including those the live queue dropped.
  const int64_t last_before = before + static_cast<int64_t>(at_outage.dropped);
  const int64_t file_before = frames_of(engine, "file");
  std::this_thread::sleep_for(milliseconds(700));
  EXPECT_GE(frames_of(engine, "file"), file_before + 5) << "the other stream runs on";

  ASSERT_TRUE(server.restart().ok());
  ASSERT_TRUE(eventually([&] { return frames_of(engine, "cam") >= before + 30; }));
  const auto st = by_name(engine)["cam"];
  EXPECT_EQ(st.state, StreamState::kLive);
  EXPECT_EQ(st.reconnects, 1u);
  engine.request_stop();
  ASSERT_TRUE(engine.wait_for(std::chrono::seconds(30)));

  // The tracker started again after the gap: no track id spans it.
  std::set<int> ids_before, ids_after;
  int last_frame = 0;
  for (const auto& [frame, id] : mot_rows(dir.file("cam.txt"))) {
    EXPECT_GE(frame, last_frame);
    last_frame = frame;
    (frame <= last_before ? ids_before : ids_after).insert(id);
  }
  ASSERT_FALSE(ids_before.empty());
  ASSERT_FALSE(ids_after.empty());
  for (int id : ids_after) {
    EXPECT_EQ(ids_before.count(id), 0u)
        << "track " << id << " spans frame " << last_before << " (" << before << " processed, "
        << at_outage.dropped << " dropped)";
  }
}

TEST(Engine, CameraThatNeverAnswersRetriesAndIsRemovedPromptly) {
  testing::SilentServer silent;
  testing::TempDir dir;
  ASSERT_TRUE(scene::write(dir.file("scene.mp4")).ok());
  StreamSpec mute =
      motion_stream("mute", "rtsp://127.0.0.1:" + std::to_string(silent.port()) + "/cam");
  mute.timeout = 0.5;
  mute.reconnect = {.initial_delay = 0.1, .max_delay = 0.2};
  StreamSpec file = motion_stream("file", dir.file("scene.mp4"));
  file.emulate_live = true;
  auto created = Engine::create({.streams = {mute, file}});
  ASSERT_TRUE(created.ok()) << created.status().message();
  Engine& engine = **created;
  engine.start();
  ASSERT_TRUE(
      eventually([&] { return by_name(engine)["mute"].state == StreamState::kReconnecting; }));
  EXPECT_TRUE(testing::contains(by_name(engine)["mute"].reason, "no answer"));
  EXPECT_TRUE(eventually([&] { return frames_of(engine, "file") >= 10; }));
  EXPECT_EQ(frames_of(engine, "mute"), 0);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine.remove_stream("mute").ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2))
      << "a blocked connect is cut short";
}

TEST(Engine, StreamWhoseFrameSizeChangesKeepsNormalizedZonesWorking) {
  testing::TempDir dir;
  // The same scene at 320x240 and then at 160x120, in one MPEG-TS stream.
  auto part = [&](const std::string& name, int w, int h) {
    return testing::write_clip(
        dir.file(name), testing::textured_background(w, h), 10, 30, [w, h](cv::Mat& img, int i) {
          // Walks left to right through the middle band.
          const double x = (i + 1) * w / 31.0;
          cv::rectangle(img, cv::Point2d(x - w / 32.0, h * 0.4), cv::Point2d(x + w / 32.0, h * 0.6),
                        cv::Scalar(235, 235, 235), cv::FILLED);
        });
  };
  ASSERT_TRUE(part("big.ts", 320, 240).ok());
  ASSERT_TRUE(part("small.ts", 160, 120).ok());
  {
    std::ofstream both(dir.file("both.ts"), std::ios::binary);
    both << std::ifstream(dir.file("big.ts"), std::ios::binary).rdbuf()
         << std::ifstream(dir.file("small.ts"), std::ios::binary).rdbuf();
  }
  StreamSpec s = motion_stream("resize", dir.file("both.ts"));
  rules::ZoneSpec zone;
  zone.common.name = "middle";
  zone.common.normalized = true;
  zone.polygon = {{0.4, 0.2}, {0.6, 0.2}, {0.6, 0.8}, {0.4, 0.8}};
  s.rules.push_back(zone);
  s.jsonl.push_back({dir.file("events.jsonl")});
  s.mp4.push_back({dir.file("out.mp4")});
  auto engine = Engine::create({.streams = {s}});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  (*engine)->start();
  ASSERT_TRUE((*engine)->wait_for(std::chrono::seconds(60)));
  const auto st = (*engine)->stats().at(0);
  EXPECT_EQ(st.state, StreamState::kEnded) << st.reason;
  EXPECT_EQ(st.counters.frames, 60);
  EXPECT_EQ(st.width, 160);
  engine->reset();
  // One entry per pass, each in the frame of its own size.
  std::vector<int> enters;
  for (const std::string& line : testing::read_lines(dir.file("events.jsonl"))) {
    const auto e = nlohmann::json::parse(line);
    if (e["type"] == "zone_enter") enters.push_back(e["frame"].get<int>());
    if (e["frame"].get<int>() >= 30) {
      EXPECT_LE(e["box"][2].get<double>(), 160.0) << line;
    }
  }
  ASSERT_EQ(enters.size(), 2u);
  EXPECT_LT(enters[0], 30);
  EXPECT_GE(enters[1], 30);
  auto written = testing::count_frames(dir.file("out.mp4"));
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(written->frames, 60) << "frames of the new size are scaled into the video";
}

}  // namespace
}  // namespace iris
