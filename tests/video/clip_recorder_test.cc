#include "video/clip_recorder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <opencv2/imgproc.hpp>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include "support/support.h"
#include "video/camera.h"
#include "video/source.h"

namespace iris::video {
namespace {

namespace fs = std::filesystem;

constexpr double kFps = 10;  // the writer puts a key frame every 2 s: frames 0, 20, 40, ...

// A clip whose every frame shows its index: a white bar `index` * 3 px long.
Status write_counting(const std::string& path, int frames) {
  return testing::write_clip(
      path, testing::textured_background(320, 96), kFps, frames, [](cv::Mat& img, int i) {
        cv::rectangle(img, cv::Rect(0, 30, 3 * i + 1, 36), cv::Scalar(255, 255, 255), cv::FILLED);
      });
}

// Which index a decoded frame shows: the length of the white bar.
int shown_index(const cv::Mat& bgr) {
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  int x = 0;
  while (x < gray.cols && gray.at<uint8_t>(48, x) > 200) ++x;
  return static_cast<int>(std::lround((x - 1) / 3.0));  // a bar of 3i+1 px, edges blurred
}

struct Decoded {
  std::vector<int> shown;
  std::vector<double> pts;
};

Decoded decode(const std::string& path) {
  Decoded d;
  auto src = Source::open({.url = path});
  EXPECT_TRUE(src.ok()) << src.status().message();
  if (!src.ok()) return d;
  for (;;) {
    auto f = (*src)->read();
    EXPECT_TRUE(f.ok()) << f.status().message();
    if (!f.ok() || !f->has_value()) break;
    d.shown.push_back(shown_index((*f)->bgr()));
    d.pts.push_back((*f)->pts);
  }
  return d;
}

// Reads `url` through a Source that feeds `rec`, marking every frame on the recorder as decoded
// and processed, and calls `at` with each frame's time after that. Reads at most `limit` frames.
void play(const std::string& url, const std::shared_ptr<ClipRecorder>& rec,
          const std::function<void(double)>& at, bool loop = false, int limit = 1 << 30) {
  SourceOptions o{.url = url, .loop = loop};
  o.recorder = rec;
  auto src = Source::open(o);
  ASSERT_TRUE(src.ok()) << src.status().message();
  for (int n = 0; n < limit; ++n) {
    auto f = (*src)->read();
    ASSERT_TRUE(f.ok()) << f.status().message();
    if (!f->has_value()) break;
    rec->mark((*f)->pts);
    rec->processed((*f)->pts);
    at((*f)->pts);
  }
}

class ClipRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(write_counting(video_, 100).ok()); }
  testing::TempDir dir_;
  const std::string video_ = dir_.file("in.mp4");
  const std::string clip_ = dir_.file("clip.mp4");
};

TEST_F(ClipRecorderTest, CutsFromTheKeyFrameBeforeTheStartToTheEnd) {
  auto rec = std::make_shared<ClipRecorder>(3.0);
  bool asked = false;
  play(video_, rec, [&](double t) {
    if (t >= 5.0 - 1e-6 && !asked) {
      asked = true;
      ASSERT_TRUE(rec->request(clip_, 4.5, 6.5));
      EXPECT_TRUE(fs::exists(clip_ + ".part"));  // recording: a placeholder says so
      EXPECT_FALSE(fs::exists(clip_));
    }
  });
  ASSERT_TRUE(fs::exists(clip_));
  EXPECT_FALSE(fs::exists(clip_ + ".part"));
  const Decoded d = decode(clip_);
  ASSERT_GE(d.shown.size(), 20u);
  // From key frame 40 (4.0 s, the last one before 4.5 s) to about 6.5 s: a packet takes the time
  // of the frame delivered after it was read, a few frames off where the decoder reorders.
  EXPECT_EQ(d.shown.front(), 40);
  EXPECT_GE(d.shown.back(), 62);
  EXPECT_LE(d.shown.back(), 68);
  for (size_t i = 1; i < d.shown.size(); ++i) {
    EXPECT_EQ(d.shown[i], d.shown[i - 1] + 1) << "frame " << i;
    EXPECT_NEAR(d.pts[i] - d.pts[i - 1], 1 / kFps, 1e-3);
  }
  EXPECT_NEAR(d.pts.front(), 0, 1e-3);
  EXPECT_EQ(rec->stats().written, 1);
  EXPECT_EQ(rec->stats().failed, 0);
}

TEST_F(ClipRecorderTest, KeepsThePreRollFromAKeyFrameAndNoMore) {
  auto rec = std::make_shared<ClipRecorder>(1.0);
  double most = 0;
  play(video_, rec, [&](double t) {
    if (t > 3) most = std::max(most, rec->stats().seconds);
  });
  // Back to the key frame before the last second: at most a 2 s GOP and the second, at least
  // the second.
  EXPECT_LE(most, 3.0 + 1e-6);
  const ClipStats s = rec->stats();
  EXPECT_GE(s.seconds, 1.0 - 1e-6);
  EXPECT_GT(s.bytes, 0u);
}

TEST_F(ClipRecorderTest, ThePreRollIsKeptBeforeTheFrameProcessedNotTheNewestRead) {
  // Rules run behind the decoder by the stream's queue: here 3 s.
  auto rec = std::make_shared<ClipRecorder>(1.0);
  SourceOptions o{.url = video_};
  o.recorder = rec;
  auto src = Source::open(o);
  ASSERT_TRUE(src.ok());
  for (;;) {
    auto f = (*src)->read();
    ASSERT_TRUE(f.ok() && f->has_value());
    rec->mark((*f)->pts);
    const double behind = (*f)->pts - 3.0;
    if (behind < 0) continue;
    rec->processed(behind);
    if (behind >= 3.0 - 1e-6) {
      ASSERT_TRUE(rec->request(clip_, behind - 1.0, behind));
      break;
    }
  }
  rec->close();
  const Decoded d = decode(clip_);
  ASSERT_FALSE(d.shown.empty());
  EXPECT_EQ(d.shown.front(), 20);  // the key frame before 2.0 s, although 6 s were read
}

TEST_F(ClipRecorderTest, AClipBeingRecordedHoldsItsPacketsPastThePreRoll) {
  auto rec = std::make_shared<ClipRecorder>(0.5);
  bool asked = false;
  play(video_, rec, [&](double t) {
    if (t >= 2.5 - 1e-6 && !asked) {
      asked = true;
      ASSERT_TRUE(rec->request(clip_, 2.2, 7.0));
    }
  });
  const Decoded d = decode(clip_);
  ASSERT_FALSE(d.shown.empty());
  EXPECT_EQ(d.shown.front(), 20);  // kept although 0.5 s of pre-roll had long passed
  EXPECT_GE(d.shown.back(), 70);
}

TEST_F(ClipRecorderTest, ALoopedFileGivesOneIncreasingTimeline) {
  const std::string short_video = dir_.file("short.mp4");
  ASSERT_TRUE(write_counting(short_video, 30).ok());
  auto rec = std::make_shared<ClipRecorder>(2.0);
  bool asked = false;
  play(
      short_video, rec,
      [&](double t) {
        if (t >= 3.5 && !asked) {
          asked = true;
          ASSERT_TRUE(rec->request(clip_, 2.1, 4.5));  // across the end of the first pass (3 s)
        }
      },
      /*loop=*/true, /*limit=*/60);
  const Decoded d = decode(clip_);
  ASSERT_GE(d.shown.size(), 20u);
  EXPECT_EQ(d.shown.front(), 20);
  // 20..29, then the file again from 0.
  const auto again = std::find(d.shown.begin(), d.shown.end(), 0);
  ASSERT_NE(again, d.shown.end());
  EXPECT_EQ(again - d.shown.begin(), 10);
  for (size_t i = 1; i < d.pts.size(); ++i) EXPECT_GT(d.pts[i], d.pts[i - 1]) << "frame " << i;
}

TEST_F(ClipRecorderTest, CloseAndANewInputWriteWhatThereIs) {
  auto rec = std::make_shared<ClipRecorder>(2.0);
  const std::string second = dir_.file("second.mp4");
  bool asked = false;
  play(
      video_, rec,
      [&](double t) {
        if (t >= 3.0 && !asked) {
          asked = true;
          ASSERT_TRUE(rec->request(clip_, 2.5, 60));
        }
      },
      false, 50);
  // A reconnect (a new Source) ends the clip at what the old connection gave.
  play(video_, rec, [&](double t) {
    if (t >= 1.0 && !fs::exists(second + ".part") && !fs::exists(second)) {
      ASSERT_TRUE(rec->request(second, 0.5, 60));
    }
  });
  ASSERT_TRUE(fs::exists(clip_));
  Decoded d = decode(clip_);
  ASSERT_FALSE(d.shown.empty());
  EXPECT_EQ(d.shown.front(), 20);
  EXPECT_LE(d.shown.back(), 52);     // the 50 frames read, and what the decoder read ahead
  EXPECT_FALSE(fs::exists(second));  // still waiting for 60 s
  rec->close();
  d = decode(second);
  ASSERT_FALSE(d.shown.empty());
  EXPECT_EQ(d.shown.front(), 0);
  EXPECT_GE(d.shown.back(), 90);
  EXPECT_EQ(rec->stats().written, 2);
}

// A camera's H.264 over RTP comes as Annex B, its parameter sets from the SDP: the clip must
// still be an MP4 that plays.
TEST_F(ClipRecorderTest, ACameraOverRtspGivesAPlayableClip) {
  testing::RtspServer server({{"/cam", video_}});
  ASSERT_TRUE(server.start().ok());
  auto rec = std::make_shared<ClipRecorder>(2.0);
  CameraOptions o;
  o.source.url = server.url("/cam");
  o.source.recorder = rec;
  auto camera = Camera::open(o);
  ASSERT_TRUE(camera.ok()) << camera.status().message();
  bool asked = false;
  for (;;) {
    auto f = (*camera)->read();
    ASSERT_TRUE(f.ok() && f->has_value()) << f.status().message();
    rec->mark((*f)->pts);
    rec->processed((*f)->pts);
    if ((*f)->pts >= 1.5 && !asked) {
      asked = true;
      ASSERT_TRUE(rec->request(clip_, 1.0, 2.5));
    }
    if ((*f)->pts >= 3.0) break;
  }
  ASSERT_TRUE(fs::exists(clip_));
  const Decoded d = decode(clip_);
  ASSERT_GE(d.shown.size(), 20u);
  EXPECT_EQ(d.shown.front() % 20, 0);  // a key frame
  for (size_t i = 1; i < d.shown.size(); ++i) {
    EXPECT_EQ(d.shown[i], d.shown[i - 1] + 1) << "frame " << i;
  }
}

TEST_F(ClipRecorderTest, ACodecMp4CannotHoldGetsNoClips) {
  // Debian's pedestrian footage is DivX 3 in AVI.
  auto rec = std::make_shared<ClipRecorder>(2.0);
  play(
      "/usr/share/doc/opencv-doc/examples/data/vtest.avi", rec, [](double) {}, false, 20);
  EXPECT_FALSE(rec->request(clip_, 0, 1));
  EXPECT_FALSE(fs::exists(clip_ + ".part"));
  EXPECT_EQ(rec->stats().failed, 1);
  EXPECT_EQ(rec->stats().bytes, 0u);  // nothing is kept for clips that cannot be made
}

TEST_F(ClipRecorderTest, MemoryStaysUnderItsLimitWhenKeyFramesAreRare) {
  AVFormatContext* fmt = avformat_alloc_context();
  AVStream* st = avformat_new_stream(fmt, nullptr);
  st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
  st->codecpar->codec_id = AV_CODEC_ID_H264;
  st->time_base = {1, 90000};
  ClipRecorder rec(5.0, 1 << 20);
  rec.begin(st, 25);
  AVPacket* p = av_packet_alloc();
  size_t most = 0;
  // One key frame, then 20 MB without another (a camera refreshing intra slices instead).
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(av_new_packet(p, 100'000), 0);
    p->pts = p->dts = i * 3600;
    p->flags = i % 100 == 0 && i < 100 ? AV_PKT_FLAG_KEY : 0;
    rec.push(p);
    av_packet_unref(p);
    rec.mark(i * 0.04);
    most = std::max(most, rec.stats().bytes);
  }
  EXPECT_LE(most, size_t{1} << 20);
  EXPECT_GT(most, size_t{1} << 19) << "packets are kept up to the limit";
  av_packet_free(&p);
  avformat_free_context(fmt);
}

TEST_F(ClipRecorderTest, NoVideoReadMeansNoClipAndNoPlaceholderLeft) {
  ClipRecorder rec(2.0);
  ASSERT_TRUE(rec.request(clip_, 0, 1));
  rec.close();
  EXPECT_FALSE(fs::exists(clip_));
  EXPECT_FALSE(fs::exists(clip_ + ".part"));
  EXPECT_EQ(rec.stats().failed, 1);
}

TEST_F(ClipRecorderTest, RefusesMoreClipsInFlightThanItsLimit) {
  ClipRecorder rec(2.0);
  for (size_t i = 0; i < ClipRecorder::kMaxPending; ++i) {
    ASSERT_TRUE(rec.request(dir_.file("c" + std::to_string(i) + ".mp4"), 0, 100));
  }
  EXPECT_FALSE(rec.request(dir_.file("one-more.mp4"), 0, 100));
  EXPECT_FALSE(fs::exists(dir_.file("one-more.mp4.part")));
  EXPECT_EQ(rec.stats().refused, 1);
  EXPECT_EQ(rec.stats().pending, ClipRecorder::kMaxPending);
}

TEST_F(ClipRecorderTest, AnUnwritableDirectoryIsRefusedAtOnce) {
  ClipRecorder rec(2.0);
  EXPECT_FALSE(rec.request(dir_.file("missing/dir/clip.mp4"), 0, 1));
  EXPECT_EQ(rec.stats().pending, 0u);
}

}  // namespace
}  // namespace iris::video
