#include "core/frame.h"

#include <algorithm>
#include <opencv2/imgproc.hpp>

namespace iris {

const cv::Mat& Picture::bgr() const {
  std::lock_guard lock(mu_);
  if (bgr_.empty()) bgr_ = make_bgr();
  return bgr_;
}

const cv::Mat& Picture::gray(int w) const {
  std::lock_guard lock(mu_);
  if (width() <= 0 || height() <= 0) return gray_;  // empty picture: an empty view
  w = std::max(1, std::min(w, width()));
  if (gray_.empty() || gray_.cols != w) {
    const int h = std::max(1, static_cast<int>(static_cast<int64_t>(height()) * w / width()));
    gray_ = make_gray(w, h);
  }
  return gray_;
}

cv::Mat MatPicture::make_gray(int w, int h) const {
  cv::Mat gray, small;
  cv::cvtColor(mat_, gray, cv::COLOR_BGR2GRAY);
  cv::resize(gray, small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
  return small;
}

}  // namespace iris
