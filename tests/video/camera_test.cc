#include "video/camera.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "support/support.h"

namespace iris::video {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// `frames` frames of w x h at `fps`, a white square moving right 4 px per frame. H.264 with a key
// frame every 2 s (VideoWriter's GOP is twice the rate).
Status write_moving(const std::string& path, int w, int h, double fps, int frames) {
  return testing::write_clip(path, testing::textured_background(w, h), fps, frames,
                             [w](cv::Mat& img, int i) {
                               cv::rectangle(img, cv::Rect((4 * i) % (w - 20), 20, 20, 20),
                                             cv::Scalar(255, 255, 255), cv::FILLED);
                             });
}

// Two H.264 MPEG-TS segments, 160x120 then 320x240, one after the other in one file: a camera
// that switches resolution mid-stream (new SPS). In the second, a white square fills
// (200..260, 150..210).
Status write_size_change(const testing::TempDir& dir, double fps, int frames_each) {
  if (Status s = write_moving(dir.file("small.ts"), 160, 120, fps, frames_each); !s) return s;
  if (Status s = testing::write_clip(
          dir.file("big.ts"), testing::textured_background(320, 240), fps, frames_each,
          [](cv::Mat& img, int) {
            cv::rectangle(img, cv::Rect(200, 150, 60, 60), cv::Scalar(255, 255, 255), cv::FILLED);
          });
      !s) {
    return s;
  }
  std::ofstream(dir.file("both.ts"), std::ios::binary)
      << testing::read_file(dir.file("small.ts")) << testing::read_file(dir.file("big.ts"));
  return {};
}

CameraOptions rtsp_options(const std::string& url) {
  CameraOptions o;
  o.source.url = url;
  o.source.timeout = 3;
  o.reconnect.initial_delay = 0.1;
  o.reconnect.max_delay = 0.4;
  return o;
}

// Up to n frames, fewer when the stream ends first; the first read error.
Result<std::vector<Frame>> read_frames(Camera& camera, size_t n = SIZE_MAX) {
  std::vector<Frame> frames;
  while (frames.size() < n) {
    auto f = camera.read();
    if (!f.ok()) return f.status();
    if (!f->has_value()) break;
    frames.push_back(std::move(**f));
  }
  return frames;
}

// Reads frames on a thread of its own until stopped, keeping them for the test to look at.
class Reader {
 public:
  explicit Reader(Camera* camera) : camera_(camera), thread_([this] { run(); }) {}
  ~Reader() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return frames_.size();
  }
  std::vector<Frame> frames() const {
    std::lock_guard lock(mu_);
    return frames_;
  }
  // Waits up to `timeout` s for at least n frames.
  bool wait_for(size_t n, double timeout) const {
    const auto t0 = Clock::now();
    while (count() < n && seconds_since(t0) < timeout) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return count() >= n;
  }
  const Status& end() const { return end_; }

 private:
  void run() {
    for (;;) {
      auto f = camera_->read();
      if (!f.ok()) {
        end_ = f.status();
        return;
      }
      if (!f->has_value()) return;
      std::lock_guard lock(mu_);
      frames_.push_back(std::move(**f));
    }
  }

  Camera* camera_;
  mutable std::mutex mu_;
  std::vector<Frame> frames_;
  Status end_;
  std::thread thread_;
};

// Waits up to `timeout` s for the camera to reach `state`.
bool wait_state(const Camera& camera, LinkState state, double timeout) {
  const auto t0 = Clock::now();
  while (camera.status().state != state && seconds_since(t0) < timeout) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return camera.status().state == state;
}

void expect_increasing(const std::vector<Frame>& frames) {
  for (size_t i = 1; i < frames.size(); ++i) {
    EXPECT_GT(frames[i].pts, frames[i - 1].pts) << i;
    EXPECT_GT(frames[i].index, frames[i - 1].index) << i;
  }
}

// A 2 s clip (160x120 at 20 fps) served as a camera at /cam.
class ServedCamera : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(write_moving(dir_.file("a.mp4"), 160, 120, 20, 40).ok());
    ASSERT_TRUE(server_.start().ok());
  }
  // rtsp_options for /cam, with stop_ as the stop flag.
  CameraOptions options() {
    CameraOptions o = rtsp_options(server_.url("/cam"));
    o.source.stop = &stop_;
    return o;
  }

  testing::TempDir dir_;
  testing::RtspServer server_{{{"/cam", dir_.file("a.mp4")}}};
  std::atomic<bool> stop_{false};
};

class RtspTransport : public ServedCamera, public ::testing::WithParamInterface<const char*> {};

TEST_P(RtspTransport, FramesArriveLiveAtTheStreamRate) {
  CameraOptions o = options();
  o.source.rtsp_transport = GetParam();
  auto camera = Camera::open(o);
  ASSERT_TRUE(camera.ok()) << camera.status().message();
  EXPECT_TRUE((*camera)->live());
  EXPECT_EQ((*camera)->status().state, LinkState::kConnecting);
  EXPECT_EQ((*camera)->status().attempts, 0u) << "a URL connects at the first read, not at open";

  const auto read = read_frames(**camera, 40);
  ASSERT_TRUE(read.ok()) << read.status().message();
  const std::vector<Frame>& frames = *read;
  ASSERT_EQ(frames.size(), 40u);
  expect_increasing(frames);
  // The server starts each session at the clip's first frame and sends one every 50 ms (FFmpeg
  // reads about a second of them to learn the rate before the first comes out).
  EXPECT_NEAR(frames[0].pts, 0, 1e-3);
  for (size_t i = 1; i < frames.size(); ++i) {
    EXPECT_NEAR(frames[i].pts - frames[i - 1].pts, 0.05, 2e-3) << i;
  }
  EXPECT_NEAR(frames[39].wall_time - frames[29].wall_time, 0.5, 0.2);
  EXPECT_EQ(frames[0].bgr().size(), cv::Size(160, 120));
  EXPECT_FALSE(frames[0].gap);
  // The clip's start: the square near x 0..24, y 20..40.
  EXPECT_GT(frames[0].gray(160).at<uint8_t>(30, 10), 200);

  const LinkStatus s = (*camera)->status();
  EXPECT_EQ(s.state, LinkState::kLive);
  EXPECT_EQ(s.reason, "");
  EXPECT_EQ(s.attempts, 1u);
  EXPECT_EQ(s.reconnects, 0u);
  EXPECT_EQ(s.decode_errors, 0u);
  EXPECT_EQ(s.width, 160);
  EXPECT_EQ(s.height, 120);
  EXPECT_EQ((*camera)->info().width, 160);
}

INSTANTIATE_TEST_SUITE_P(Camera, RtspTransport, ::testing::Values("tcp", "udp"));

TEST_F(ServedCamera, OutageReconnectsAndKeepsOneClock) {
  auto camera = Camera::open(options());
  ASSERT_TRUE(camera.ok());
  Reader reader(camera->get());
  ASSERT_TRUE(reader.wait_for(10, 5));

  server_.kill();
  const double killed_at = wall_seconds();
  ASSERT_TRUE(wait_state(**camera, LinkState::kReconnecting, 4));
  const LinkStatus down = (*camera)->status();
  EXPECT_NE(down.reason, "");
  // Nothing listens now: attempts fail (refused) until the server is back.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ((*camera)->status().state, LinkState::kReconnecting);
  EXPECT_GE((*camera)->status().attempts, 3u);
  const size_t before = reader.count();

  ASSERT_TRUE(server_.restart().ok());
  ASSERT_TRUE(reader.wait_for(before + 10, 6));
  const LinkStatus up = (*camera)->status();
  EXPECT_EQ(up.state, LinkState::kLive);
  EXPECT_EQ(up.reason, "");
  EXPECT_EQ(up.reconnects, 1u);
  stop_ = true;
  reader.join();
  EXPECT_TRUE(reader.end().ok());
  EXPECT_EQ((*camera)->status().state, LinkState::kEnded);

  const std::vector<Frame> frames = reader.frames();
  expect_increasing(frames);
  int gaps = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (!frames[i].gap) continue;
    ++gaps;
    // The first frame of the new session, after every frame of the old one.
    EXPECT_GT(frames[i].wall_time, killed_at);
    EXPECT_GE(i, 10u);
    for (size_t j = 0; j < i; ++j) EXPECT_LT(frames[j].wall_time, killed_at + 0.1);
  }
  EXPECT_EQ(gaps, 1);
}

TEST_F(ServedCamera, DisconnectKeepsTheClockAndTheNextReadConnectsAgain) {
  auto camera = Camera::open(options());
  ASSERT_TRUE(camera.ok());
  const auto before = read_frames(**camera, 10);
  ASSERT_TRUE(before.ok()) << before.status().message();
  ASSERT_EQ(before->size(), 10u);

  stop_ = true;  // a pause cuts the read short
  const auto cut = (*camera)->read();
  ASSERT_TRUE(cut.ok());
  EXPECT_FALSE(cut->has_value());
  (*camera)->disconnect();
  EXPECT_EQ((*camera)->status().state, LinkState::kConnecting);
  stop_ = false;

  const auto after = read_frames(**camera, 10);
  ASSERT_TRUE(after.ok()) << after.status().message();
  ASSERT_EQ(after->size(), 10u);
  // The new session's clock goes on one frame after the old one's last.
  EXPECT_TRUE(after->front().gap);
  EXPECT_NEAR(after->front().pts - before->back().pts, 0.05, 2e-3);
  EXPECT_EQ(after->front().index, before->back().index + 1);
  std::vector<Frame> all = *before;
  all.insert(all.end(), after->begin(), after->end());
  expect_increasing(all);
  const LinkStatus s = (*camera)->status();
  EXPECT_EQ(s.state, LinkState::kLive);
  EXPECT_EQ(s.attempts, 2u);
  EXPECT_EQ(s.reconnects, 0u) << "a disconnect is no outage";
}

TEST_F(ServedCamera, FrozenServerStallsThenReconnectsAtTheTimeout) {
  CameraOptions o = options();
  o.source.timeout = 1;
  o.stall_after = 0.3;
  auto camera = Camera::open(o);
  ASSERT_TRUE(camera.ok());
  Reader reader(camera->get());
  ASSERT_TRUE(reader.wait_for(5, 5));

  server_.pause();  // the connection stays open, nothing comes through it
  ASSERT_TRUE(wait_state(**camera, LinkState::kStalled, 2));
  EXPECT_EQ((*camera)->status().reason, "no frame for 0.3 s");
  ASSERT_TRUE(wait_state(**camera, LinkState::kReconnecting, 3));
  EXPECT_TRUE(testing::contains((*camera)->status().reason, "no data within 1 s"));
  server_.resume();
  const size_t before = reader.count();
  ASSERT_TRUE(reader.wait_for(before + 5, 8));
  EXPECT_EQ((*camera)->status().state, LinkState::kLive);
  stop_ = true;
  reader.join();
}

TEST(Camera, SilentServerTimesOutRetriesAndStopEndsTheRead) {
  testing::SilentServer silent;
  std::atomic<bool> stop{false};
  CameraOptions o = rtsp_options("rtsp://127.0.0.1:" + std::to_string(silent.port()) + "/cam");
  o.source.timeout = 0.5;
  o.source.stop = &stop;
  auto camera = Camera::open(o);
  ASSERT_TRUE(camera.ok());
  Reader reader(camera->get());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const LinkStatus s = (*camera)->status();
  EXPECT_EQ(s.state, LinkState::kReconnecting);
  EXPECT_TRUE(testing::contains(s.reason, "no answer within 0.5 s"));
  // Each attempt gave up at its timeout and the next one followed.
  EXPECT_GE(s.attempts, 2u);
  EXPECT_EQ(reader.count(), 0u);

  const auto t0 = Clock::now();
  stop = true;
  reader.join();
  EXPECT_LT(seconds_since(t0), 0.5);
  EXPECT_TRUE(reader.end().ok()) << "a stop is an end, not an error";
  EXPECT_EQ((*camera)->status().state, LinkState::kEnded);
}

TEST(Camera, BacksOffExponentiallyAndGivesUpAfterMaxAttempts) {
  int port;
  {
    testing::SilentServer s;
    port = s.port();
  }  // closed again: connections are refused
  CameraOptions o;
  o.source.url = "rtsp://127.0.0.1:" + std::to_string(port) + "/cam";
  o.source.timeout = 1;
  o.reconnect = {
      .initial_delay = 0.1, .max_delay = 10, .multiplier = 2, .jitter = 0.2, .max_attempts = 3};
  auto camera = Camera::open(o);
  ASSERT_TRUE(camera.ok());

  // The moments each attempt starts, seen from another thread.
  std::vector<double> at;
  std::atomic<bool> done{false};
  const auto t0 = Clock::now();
  std::thread watch([&] {
    for (uint64_t seen = 0;;) {
      const bool last = done;
      const uint64_t n = (*camera)->status().attempts;
      for (; seen < n; ++seen) at.push_back(seconds_since(t0));
      if (last) break;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });
  auto f = (*camera)->read();
  done = true;
  watch.join();
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(testing::contains(f.status().message(), "gave up after 3 failed attempts"));
  EXPECT_TRUE(testing::contains(f.status().message(), o.source.url));
  const LinkStatus s = (*camera)->status();
  EXPECT_EQ(s.state, LinkState::kFailed);
  EXPECT_EQ(s.attempts, 3u);
  EXPECT_NE(s.reason, "");
  ASSERT_EQ(at.size(), 3u);
  // Delays 0.1 and 0.2 s, each +-20 %; a loaded machine may only add to them.
  const double first = at[1] - at[0], second = at[2] - at[1];
  EXPECT_GE(first, 0.08 - 0.002);
  EXPECT_LE(first, 0.12 + 0.08);
  EXPECT_GE(second, 0.16 - 0.002);
  EXPECT_LE(second, 0.24 + 0.08);
  EXPECT_GT(second, first);
  // A failed camera stays failed.
  EXPECT_FALSE((*camera)->read().ok());
}

TEST(Camera, FileThatChangesSizeConvertsAtTheNewSizeWithAGap) {
  testing::TempDir dir;
  ASSERT_TRUE(write_size_change(dir, 10, 10).ok());
  auto camera = Camera::open({.source = {.url = dir.file("both.ts")}});
  ASSERT_TRUE(camera.ok()) << camera.status().message();
  EXPECT_FALSE((*camera)->live());
  EXPECT_EQ((*camera)->info().width, 160);
  const auto read = read_frames(**camera);
  ASSERT_TRUE(read.ok()) << read.status().message();
  const std::vector<Frame>& frames = *read;
  ASSERT_EQ(frames.size(), 20u);
  expect_increasing(frames);
  for (size_t i = 0; i < frames.size(); ++i) {
    const cv::Size want = i < 10 ? cv::Size(160, 120) : cv::Size(320, 240);
    EXPECT_EQ(frames[i].bgr().size(), want) << i;
    EXPECT_EQ(frames[i].gap, i == 10) << i;
  }
  // Converted at the new size, not through a scaler made for the old one.
  const cv::Vec3b inside = frames[15].bgr().at<cv::Vec3b>(180, 230);
  const cv::Vec3b outside = frames[15].bgr().at<cv::Vec3b>(60, 60);
  EXPECT_GT(inside[0] + inside[1] + inside[2], 3 * 220);
  EXPECT_LT(outside[0] + outside[1] + outside[2], 3 * 160);
  EXPECT_GT(frames[15].gray(160).at<uint8_t>(90, 115), 200);
  EXPECT_EQ((*camera)->status().state, LinkState::kEnded);
  EXPECT_EQ((*camera)->status().width, 320);
  EXPECT_EQ((*camera)->info().width, 320);
  EXPECT_FALSE((*camera)->read()->has_value()) << "the end stays the end";
}

TEST(Camera, RtspStreamThatChangesSizeMarksEachChange) {
  testing::TempDir dir;
  ASSERT_TRUE(write_size_change(dir, 20, 10).ok());
  testing::RtspServer server({{"/cam", dir.file("both.ts")}});
  ASSERT_TRUE(server.start().ok());
  auto camera = Camera::open(rtsp_options(server.url("/cam")));
  ASSERT_TRUE(camera.ok());
  const auto read = read_frames(**camera, 25);  // small, big, small again (the server loops)
  ASSERT_TRUE(read.ok()) << read.status().message();
  const std::vector<Frame>& frames = *read;
  ASSERT_EQ(frames.size(), 25u);
  expect_increasing(frames);
  for (size_t i = 1; i < frames.size(); ++i) {
    EXPECT_NEAR(frames[i].pts - frames[i - 1].pts, 0.05, 2e-3) << i;
  }
  // The first frame may be dropped (RTSP gives it no timestamp), so find the changes: exactly the
  // ten big frames lie between them, and each change, only a change, is a gap.
  std::vector<size_t> changes;
  EXPECT_FALSE(frames[0].gap);
  for (size_t i = 1; i < frames.size(); ++i) {
    const bool changed = frames[i].bgr().size() != frames[i - 1].bgr().size();
    if (changed) changes.push_back(i);
    EXPECT_EQ(frames[i].gap, changed) << i;
  }
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1] - changes[0], 10u);
  for (size_t i = 0; i < frames.size(); ++i) {
    const bool big = i >= changes[0] && i < changes[1];
    EXPECT_EQ(frames[i].bgr().size(), big ? cv::Size(320, 240) : cv::Size(160, 120)) << i;
    EXPECT_EQ(frames[i].width(), big ? 320 : 160) << i;
  }
  EXPECT_EQ((*camera)->status().decode_errors, 0u);
  EXPECT_EQ((*camera)->status().reconnects, 0u);
}

TEST(Camera, EmulatedLiveFileDropsForASlowReaderOnly) {
  testing::TempDir dir;
  // 1 s at 10 fps, looped: a key frame every second.
  ASSERT_TRUE(write_moving(dir.file("a.mp4"), 160, 120, 10, 10).ok());
  CameraOptions o{.source = {.url = dir.file("a.mp4"), .emulate_live = true}};

  {  // keeps up: every frame, on time
    auto camera = Camera::open(o);
    ASSERT_TRUE(camera.ok());
    EXPECT_TRUE((*camera)->live());
    const auto t0 = Clock::now();
    for (int i = 0; i < 12; ++i) {  // across a loop
      auto f = (*camera)->read();
      ASSERT_TRUE(f.ok() && f->has_value());
      EXPECT_NEAR((**f).pts, i * 0.1, 1e-3);
      EXPECT_EQ((**f).index, i);
    }
    EXPECT_GT(seconds_since(t0), 1.0) << "paced at the file's rate";
    EXPECT_EQ((*camera)->status().dropped, 0u);
  }
  {  // takes 0.3 s per frame of 0.1 s: falls behind, loses whole GOPs, keeps up with the clock
    auto camera = Camera::open(o);
    ASSERT_TRUE(camera.ok());
    const auto t0 = Clock::now();
    double last = -1;
    for (int i = 0; i < 15; ++i) {
      auto f = (*camera)->read();
      ASSERT_TRUE(f.ok() && f->has_value());
      EXPECT_GT((**f).pts, last);
      last = (**f).pts;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    // Reading every frame would leave it 15 * 0.2 = 3 s behind the clock at the end; it is at
    // most the 1 s it may lag, plus the frames the decoder held back (B-frames) and one read.
    const double behind = seconds_since(t0) - 0.3 - last;
    EXPECT_LT(behind, 2.4);
    EXPECT_GT((*camera)->status().dropped, 10u);
  }
}

TEST(Camera, KeyframesOnlyAndMaxFpsThinTheStream) {
  testing::TempDir dir;
  // 6 s at 10 fps; key frames at 0, 2 and 4 s.
  ASSERT_TRUE(write_moving(dir.file("a.mp4"), 160, 120, 10, 60).ok());
  const auto read_all = [&](SourceOptions so) {
    so.url = dir.file("a.mp4");
    auto camera = Camera::open({.source = so});
    EXPECT_TRUE(camera.ok());
    if (!camera.ok()) return std::vector<Frame>();
    auto frames = read_frames(**camera);
    EXPECT_TRUE(frames.ok()) << frames.status().message();
    return frames.ok() ? std::move(frames).value() : std::vector<Frame>();
  };

  const std::vector<Frame> keys = read_all({.keyframes_only = true});
  ASSERT_EQ(keys.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(keys[i].pts, 2.0 * i, 1e-3);
  EXPECT_GT(keys[1].gray(160).at<uint8_t>(30, 90), 200) << "frame 20: the square at x 80..100";

  const std::vector<Frame> five = read_all({.max_fps = 5});
  ASSERT_EQ(five.size(), 30u);
  for (int i = 0; i < 30; ++i) {
    EXPECT_NEAR(five[i].pts, 0.2 * i, 1e-3);
    EXPECT_EQ(five[i].index, 2 * i) << "index stays the file's frame number";
  }

  // 4 of every 10 frames, never two closer than a frame apart, 4 in every second.
  const std::vector<Frame> four = read_all({.max_fps = 4});
  ASSERT_EQ(four.size(), 24u);
  for (size_t i = 1; i < four.size(); ++i) {
    EXPECT_GE(four[i].pts - four[i - 1].pts, 0.2 - 1e-3);
    EXPECT_LE(four[i].pts - four[i - 1].pts, 0.3 + 1e-3);
  }
  EXPECT_EQ(read_all({.max_fps = 30}).size(), 60u);
}

TEST(Camera, MissingFileIsAnErrorAtOpen) {
  auto camera = Camera::open({.source = {.url = "/no/such/clip.mp4"}});
  ASSERT_FALSE(camera.ok());
  EXPECT_TRUE(testing::contains(camera.status().message(), "/no/such/clip.mp4"));
}

TEST(Camera, ConfigMistakesAreErrorsAtOpenEvenForCameras) {
  CameraOptions o{.source = {.url = "rtsp://127.0.0.1:1/cam", .rtsp_transport = "quic"}};
  auto camera = Camera::open(o);
  ASSERT_FALSE(camera.ok());
  EXPECT_TRUE(testing::contains(camera.status().message(), "rtsp_transport 'quic'"));
  o.source.rtsp_transport = "tcp";
  o.reconnect.multiplier = 0.5;
  camera = Camera::open(o);
  ASSERT_FALSE(camera.ok());
  EXPECT_TRUE(testing::contains(camera.status().message(), "multiplier >= 1"));
}

TEST(Camera, LinkStateNames) {
  EXPECT_STREQ(link_state_name(LinkState::kConnecting), "connecting");
  EXPECT_STREQ(link_state_name(LinkState::kLive), "live");
  EXPECT_STREQ(link_state_name(LinkState::kStalled), "stalled");
  EXPECT_STREQ(link_state_name(LinkState::kReconnecting), "reconnecting");
  EXPECT_STREQ(link_state_name(LinkState::kEnded), "ended");
  EXPECT_STREQ(link_state_name(LinkState::kFailed), "failed");
}

}  // namespace
}  // namespace iris::video
