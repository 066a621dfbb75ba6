// VideoWriter: encodes BGR frames to H.264 through FFmpeg (libx264), in the container the file
// name asks for (.mp4 for annotated output; .mkv and .ts are streamable, which tests use).
// close() flushes the encoder and writes the index, so the file plays; the destructor closes.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <string>

#include "core/status.h"

struct AVFormatContext;
struct AVCodecContext;
struct AVFrame;
struct AVPacket;
struct SwsContext;

namespace iris::video {

struct WriterOptions {
  int width = 0;
  int height = 0;
  double fps = 25;  // nominal rate written into the file
  int crf = 23;     // x264 quality (lower is better, 18-28 sensible)
  std::string preset = "veryfast";
  int threads = 1;  // encoder threads (the Engine shares the cores out)
};

class VideoWriter {
 public:
  static Result<std::unique_ptr<VideoWriter>> open(const std::string& path,
                                                   const WriterOptions& opt);
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  // Frames of another size are scaled to the file's size. `pts` in seconds, increasing.
  Status write(const cv::Mat& bgr, double pts);
  Status close();
  int64_t frames_written() const { return frames_; }

 private:
  VideoWriter() = default;
  Status encode(AVFrame* frame);

  std::string path_;
  AVFormatContext* fmt_ = nullptr;
  AVCodecContext* enc_ = nullptr;
  AVFrame* yuv_ = nullptr;
  AVPacket* pkt_ = nullptr;
  SwsContext* sws_ = nullptr;
  int64_t last_pts_ = -1;
  int64_t frames_ = 0;
  bool open_ = false;
};

}  // namespace iris::video
