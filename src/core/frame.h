// Frame: one decoded picture of one stream with its timestamps. Copying a Frame never copies
// pixels: it shares the decoder's ref-counted picture. Converted views (BGR for detectors and the
// OSD, a gray thumbnail for motion) are made on first use and cached on the shared picture.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <opencv2/core.hpp>

namespace iris {

// A decoded picture in whatever format the decoder produced. The video module implements it over
// FFmpeg frames; tests implement it over a cv::Mat. Thread-safe: views are built under a lock.
class Picture {
 public:
  virtual ~Picture() = default;
  virtual int width() const = 0;
  virtual int height() const = 0;

  // 8-bit BGR, full size. The returned Mat is shared and must not be written to.
  const cv::Mat& bgr() const;
  // 8-bit gray at `width` pixels wide (aspect kept); cached for the last width asked.
  const cv::Mat& gray(int width) const;

 protected:
  virtual cv::Mat make_bgr() const = 0;
  virtual cv::Mat make_gray(int width, int height) const = 0;

 private:
  mutable std::mutex mu_;
  mutable cv::Mat bgr_;
  mutable cv::Mat gray_;
};

// Picture over a BGR cv::Mat (tests, still images).
class MatPicture : public Picture {
 public:
  explicit MatPicture(cv::Mat bgr) : mat_(std::move(bgr)) {}
  int width() const override { return mat_.cols; }
  int height() const override { return mat_.rows; }

 protected:
  cv::Mat make_bgr() const override { return mat_; }
  cv::Mat make_gray(int width, int height) const override;

 private:
  cv::Mat mat_;
};

struct Frame {
  int stream = 0;        // index of the stream in the engine
  int64_t index = 0;     // frame number in the stream, from 0
  double pts = 0;        // media time, seconds (from the stream's timestamps)
  double wall_time = 0;  // Unix seconds when the frame was decoded
  // First frame after a discontinuity (a reconnect, a new frame size): state built from earlier
  // frames (tracks, background models) no longer applies.
  bool gap = false;
  std::shared_ptr<const Picture> picture;

  int width() const { return picture->width(); }
  int height() const { return picture->height(); }
  const cv::Mat& bgr() const { return picture->bgr(); }
  const cv::Mat& gray(int width) const { return picture->gray(width); }
};

}  // namespace iris
