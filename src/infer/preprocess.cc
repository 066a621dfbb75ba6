#include "infer/preprocess.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace iris::infer {

Box InputTransform::to_source(const Box& b) const {
  const Box source{(b.x1 - pad_x) / scale_x + roi_x, (b.y1 - pad_y) / scale_y + roi_y,
                   (b.x2 - pad_x) / scale_x + roi_x, (b.y2 - pad_y) / scale_y + roi_y};
  return clip(source, source_width, source_height);
}

Result<Sample> preprocess(const cv::Mat& bgr, const cv::Rect& region, const ModelSpec& spec) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    return Status::error("preprocess for model '" + spec.name +
                         "': the picture is empty or not 8-bit BGR");
  }
  const cv::Rect roi = region & cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (roi.empty()) {
    return Status::error("preprocess for model '" + spec.name + "': region [" +
                         std::to_string(region.x) + ", " + std::to_string(region.y) + ", " +
                         std::to_string(region.width) + "x" + std::to_string(region.height) +
                         "] has no pixels inside the " + std::to_string(bgr.cols) + "x" +
                         std::to_string(bgr.rows) + " picture");
  }
  const int w = spec.input_width;
  const int h = spec.input_height;
  if (w <= 0 || h <= 0) {
    return Status::error("preprocess for model '" + spec.name + "': input size " +
                         std::to_string(w) + "x" + std::to_string(h) + " is not resolved");
  }

  // Size of the resized region inside the model input, and where it sits.
  int rw = w, rh = h, px = 0, py = 0;
  if (spec.resize == Resize::kLetterbox) {
    const double s =
        std::min(static_cast<double>(w) / roi.width, static_cast<double>(h) / roi.height);
    rw = std::clamp(static_cast<int>(std::lround(roi.width * s)), 1, w);
    rh = std::clamp(static_cast<int>(std::lround(roi.height * s)), 1, h);
    px = (w - rw) / 2;  // an odd border puts its extra pixel right and bottom
    py = (h - rh) / 2;
  }
  const double pad = std::clamp(spec.pad_value, 0.0, 255.0);
  cv::Mat canvas(h, w, CV_8UC3, cv::Scalar::all(pad));
  cv::Mat placed = canvas(cv::Rect(px, py, rw, rh));
  if (roi.width == rw && roi.height == rh) {
    bgr(roi).copyTo(placed);
  } else {
    cv::resize(bgr(roi), placed, placed.size(), 0, 0, cv::INTER_LINEAR);
  }

  Sample sample;
  // Per model channel c: value = pixel * a[c] + b[c], read from BGR channel src[c].
  float a[3], b[3];
  int src[3];
  for (int c = 0; c < 3; ++c) {
    a[c] = static_cast<float>(spec.scale / spec.std[c]);
    b[c] = static_cast<float>(-spec.mean[c] / spec.std[c]);
    src[c] = spec.rgb ? 2 - c : c;
  }
  const bool nchw = spec.layout == Layout::kNCHW;
  Tensor& t = sample.tensor;
  t.shape = nchw ? std::vector<int64_t>{1, 3, h, w} : std::vector<int64_t>{1, h, w, 3};
  t.data.resize(static_cast<size_t>(3) * w * h);
  float* out = t.data.data();
  const size_t plane = static_cast<size_t>(w) * h;
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = canvas.ptr<uint8_t>(y);
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = row + 3 * x;
      const size_t i = static_cast<size_t>(y) * w + x;
      for (int c = 0; c < 3; ++c) {
        const float v = p[src[c]] * a[c] + b[c];
        if (nchw) {
          out[c * plane + i] = v;
        } else {
          out[3 * i + c] = v;
        }
      }
    }
  }

  InputTransform& tr = sample.transform;
  tr.scale_x = static_cast<double>(rw) / roi.width;
  tr.scale_y = static_cast<double>(rh) / roi.height;
  tr.pad_x = px;
  tr.pad_y = py;
  tr.roi_x = roi.x;
  tr.roi_y = roi.y;
  tr.source_width = bgr.cols;
  tr.source_height = bgr.rows;
  return sample;
}

}  // namespace iris::infer
