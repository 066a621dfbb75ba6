// Mp4Writer: encodes BGR frames to an H.264 MP4 file through FFmpeg (libx264). close() flushes
// the encoder and writes the index, so the file plays; a writer destroyed without close() closes.
#pragma once

#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "core/status.h"

struct AVFormatContext;
struct AVCodecContext;
struct AVFrame;
struct AVPacket;
struct SwsContext;

namespace iris::video {

struct Mp4Options {
  int width = 0;
  int height = 0;
  double fps = 25;       // nominal rate written into the file
  int crf = 23;          // x264 quality (lower is better, 18-28 sensible)
  std::string preset = "veryfast";
  int threads = 1;       // encoder threads (the Engine shares the cores out)
};

class Mp4Writer {
 public:
  static Result<std::unique_ptr<Mp4Writer>> open(const std::string& path, const Mp4Options& opt);
  ~Mp4Writer();
  Mp4Writer(const Mp4Writer&) = delete;
  Mp4Writer& operator=(const Mp4Writer&) = delete;

  // Frames of another size are scaled to the file's size. `pts` in seconds, increasing.
  Status write(const cv::Mat& bgr, double pts);
  Status close();
  int64_t frames_written() const { return frames_; }

 private:
  Mp4Writer() = default;
  Status encode(AVFrame* frame);

  std::string path_;
  AVFormatContext* fmt_ = nullptr;
  AVCodecContext* enc_ = nullptr;
  AVFrame* yuv_ = nullptr;
  AVPacket* pkt_ = nullptr;
  SwsContext* sws_ = nullptr;
  int src_w_ = 0, src_h_ = 0;
  int64_t last_pts_ = -1;
  int64_t frames_ = 0;
  bool open_ = false;
};

}  // namespace iris::video
