#include "video/source.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <opencv2/imgproc.hpp>

#include "support/support.h"
#include "video/video_writer.h"

namespace iris::video {
namespace {

// 30 frames at 10 fps, 160x120, a bright square moving right 4 px per frame.
Status write_small(const std::string& path) {
  return testing::write_clip(
      path, testing::textured_background(160, 120), 10, 30, [](cv::Mat& img, int i) {
        cv::rectangle(img, cv::Rect(4 * i, 40, 20, 20), cv::Scalar(255, 255, 255), cv::FILLED);
      });
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(Source, DecodesEveryFrameWithStreamTimestamps) {
  testing::TempDir dir;
  ASSERT_TRUE(write_small(dir.file("a.mp4")).ok());
  auto src = Source::open({.url = dir.file("a.mp4")});
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ((*src)->info().width, 160);
  EXPECT_EQ((*src)->info().height, 120);
  EXPECT_NEAR((*src)->info().fps, 10, 1e-6);
  EXPECT_FALSE((*src)->info().live);
  int n = 0;
  for (;;) {
    auto f = (*src)->read();
    ASSERT_TRUE(f.ok());
    if (!f->has_value()) break;
    EXPECT_EQ((*f)->index, n);
    EXPECT_NEAR((*f)->pts, n * 0.1, 1e-3);
    ++n;
  }
  EXPECT_EQ(n, 30);
}

TEST(Source, ConvertsLazilyAndTheGrayThumbnailMatchesTheBgrFrame) {
  testing::TempDir dir;
  ASSERT_TRUE(write_small(dir.file("a.mp4")).ok());
  auto src = Source::open({.url = dir.file("a.mp4")});
  ASSERT_TRUE(src.ok());
  auto f = (*src)->read();
  ASSERT_TRUE(f.ok() && f->has_value());
  const cv::Mat& gray = (*f)->gray(80);
  EXPECT_EQ(gray.cols, 80);
  EXPECT_EQ(gray.rows, 60);
  cv::Mat from_bgr, small;
  cv::cvtColor((*f)->bgr(), from_bgr, cv::COLOR_BGR2GRAY);
  cv::resize(from_bgr, small, cv::Size(80, 60), 0, 0, cv::INTER_AREA);
  // The same picture: the thumbnail is the video's luma (limited range), not BGR2GRAY's scale.
  cv::Mat score;
  cv::matchTemplate(gray, small, score, cv::TM_CCOEFF_NORMED);
  EXPECT_GT(score.at<float>(0, 0), 0.98f);
  // The square is at x 0..20, y 40..60: bright in the thumbnail at (5, 25).
  EXPECT_GT(gray.at<uint8_t>(25, 5), 200);
}

TEST(Source, LoopKeepsTimestampsIncreasing) {
  testing::TempDir dir;
  ASSERT_TRUE(write_small(dir.file("a.mp4")).ok());
  auto src = Source::open({.url = dir.file("a.mp4"), .loop = true});
  ASSERT_TRUE(src.ok());
  double last = -1;
  for (int i = 0; i < 75; ++i) {
    auto f = (*src)->read();
    ASSERT_TRUE(f.ok() && f->has_value()) << i;
    EXPECT_GT((*f)->pts, last);
    EXPECT_NEAR((*f)->pts, i * 0.1, 1e-3);
    last = (*f)->pts;
  }
}

TEST(Source, RealtimePacesAtTheFrameRateAndStopInterruptsIt) {
  testing::TempDir dir;
  ASSERT_TRUE(write_small(dir.file("a.mp4")).ok());
  std::atomic<bool> stop{false};
  auto src = Source::open({.url = dir.file("a.mp4"), .realtime = true, .stop = &stop});
  ASSERT_TRUE(src.ok());
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE((*src)->read().ok());
  // Frame 5 is due 0.5 s after frame 0: it cannot arrive much earlier.
  EXPECT_GE(seconds_since(t0), 0.45);
  stop = true;
  auto f = (*src)->read();
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->has_value());
}

TEST(Source, MissingFileNamesThePath) {
  auto src = Source::open({.url = "/no/such/clip.mp4"});
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.status().message().find("/no/such/clip.mp4"), std::string::npos);
}

TEST(Source, NotAVideoIsAClearError) {
  testing::TempDir dir;
  std::ofstream(dir.file("notes.mp4")) << "these are not the frames you are looking for\n";
  auto src = Source::open({.url = dir.file("notes.mp4")});
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.status().message().find("notes.mp4"), std::string::npos);
}

TEST(Source, UrlThatNeverAnswersTimesOut) {
  testing::SilentServer silent;
  const auto t0 = std::chrono::steady_clock::now();
  auto src = Source::open(
      {.url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/cam", .timeout = 1.0});
  ASSERT_FALSE(src.ok());
  EXPECT_LT(seconds_since(t0), 10.0);
  EXPECT_NE(src.status().message().find("127.0.0.1"), std::string::npos);
}

TEST(Source, StopAbortsABlockedOpen) {
  testing::SilentServer silent;
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto src = Source::open({.url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/cam",
                           .timeout = 30.0,
                           .stop = &stop});
  stopper.join();
  EXPECT_FALSE(src.ok());
  EXPECT_LT(seconds_since(t0), 5.0);
}

TEST(Source, StreamThatStallsMidwayIsAnErrorNotAnEnd) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::write_clip(
                  dir.file("a.mkv"), testing::textured_background(160, 120), 10, 200,
                  [](cv::Mat& img, int i) {
                    cv::circle(img, {i % 160, 60}, 8, cv::Scalar(255, 255, 255), cv::FILLED);
                  })
                  .ok());
  const std::string data = testing::read_file(dir.file("a.mkv"));
  testing::StallingHttpServer server(data, data.size() / 2);
  auto src = Source::open({.url = server.url(), .timeout = 1.0});
  ASSERT_TRUE(src.ok()) << src.status().message();
  int frames = 0;
  Status error;
  for (;;) {
    auto f = (*src)->read();
    if (!f.ok()) {
      error = f.status();
      break;
    }
    ASSERT_TRUE(f->has_value()) << "the stalled stream was taken for a clean end";
    ++frames;
  }
  EXPECT_GT(frames, 20);
  EXPECT_LT(frames, 200);
  EXPECT_NE(error.message().find("stalled"), std::string::npos) << error.message();
}

TEST(Source, RefusedConnectionIsAClearError) {
  int port;
  {
    testing::SilentServer s;
    port = s.port();
  }  // closed again: nothing listens there now
  auto src =
      Source::open({.url = "http://127.0.0.1:" + std::to_string(port) + "/cam", .timeout = 2.0});
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.status().message().find("check that the camera or server is up"),
            std::string::npos);
}

TEST(Source, BadOptionsAreClearErrors) {
  testing::TempDir dir;
  ASSERT_TRUE(write_small(dir.file("a.mp4")).ok());
  auto transport = Source::open({.url = "rtsp://127.0.0.1:1/cam", .rtsp_transport = "http"});
  ASSERT_FALSE(transport.ok());
  EXPECT_TRUE(testing::contains(transport.status().message(), "rtsp_transport 'http'"));
  auto rate = Source::open({.url = dir.file("a.mp4"), .max_fps = -1});
  ASSERT_FALSE(rate.ok());
  EXPECT_TRUE(testing::contains(rate.status().message(), "max_fps"));
  auto live = Source::open({.url = "rtsp://127.0.0.1:1/cam", .emulate_live = true});
  ASSERT_FALSE(live.ok());
  EXPECT_TRUE(testing::contains(live.status().message(), "remove emulate_live"));
}

TEST(VideoWriter, OddSizesAndSizeChangesStillWriteEveryFrame) {
  testing::TempDir dir;
  auto w = VideoWriter::open(dir.file("o.mp4"), {.width = 101, .height = 75, .fps = 5});
  ASSERT_TRUE(w.ok()) << w.status().message();
  for (int i = 0; i < 10; ++i) {
    cv::Mat img(i < 5 ? 75 : 150, i < 5 ? 101 : 202, CV_8UC3, cv::Scalar(i * 20, 0, 0));
    ASSERT_TRUE((*w)->write(img, i * 0.2).ok());
  }
  ASSERT_TRUE((*w)->close().ok());
  auto src = Source::open({.url = dir.file("o.mp4")});
  ASSERT_TRUE(src.ok());
  int n = 0;
  while (true) {
    auto f = (*src)->read();
    ASSERT_TRUE(f.ok());
    if (!f->has_value()) break;
    ++n;
  }
  EXPECT_EQ(n, 10);
}

TEST(VideoWriter, UnwritablePathIsAClearError) {
  auto w = VideoWriter::open("/proc/iris/out.mp4", {.width = 64, .height = 64});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("/proc/iris/out.mp4"), std::string::npos);
}

}  // namespace
}  // namespace iris::video
