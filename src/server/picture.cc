#include "server/picture.h"

#include <opencv2/imgcodecs.hpp>
#include <vector>

namespace iris::server {
namespace {

struct PictureSize {
  int width = 0;
  int height = 0;
};

uint32_t big_endian(std::string_view b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

bool is_png(std::string_view b) {
  return b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8);
}
bool is_jpeg(std::string_view b) { return b.size() >= 3 && b.substr(0, 3) == "\xff\xd8\xff"; }

// The first start-of-frame segment of a JPEG holds its size; markers before it are skipped by
// their lengths.
Result<PictureSize> jpeg_size(std::string_view b) {
  size_t at = 2;
  while (at + 4 <= b.size()) {
    if (static_cast<unsigned char>(b[at]) != 0xff) break;
    const unsigned char marker = static_cast<unsigned char>(b[at + 1]);
    if (marker == 0xff) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {  // no length
      at += 2;
      continue;
    }
    const uint32_t length = big_endian(b, at + 2, 2);
    const bool sof =
        marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (sof) {
      if (at + 9 > b.size()) break;
      return PictureSize{static_cast<int>(big_endian(b, at + 7, 2)),
                         static_cast<int>(big_endian(b, at + 5, 2))};
    }
    if (length < 2) break;
    at += 2 + length;
  }
  return Status::error("the JPEG is truncated or malformed: no frame header was found");
}

// Width and height from a JPEG's or PNG's header; an error when `b` is neither.
Result<PictureSize> picture_size(std::string_view b) {
  if (is_png(b)) {
    if (b.size() < 24 || b.substr(12, 4) != "IHDR") {
      return Status::error("the PNG is truncated or malformed: no IHDR header");
    }
    return PictureSize{static_cast<int>(big_endian(b, 16, 4) & 0x7fffffff),
                       static_cast<int>(big_endian(b, 20, 4) & 0x7fffffff)};
  }
  if (is_jpeg(b)) return jpeg_size(b);
  return Status::error(
      "the body is not a JPEG or PNG picture; send one (Content-Type image/jpeg or "
      "image/png)");
}

}  // namespace

Result<cv::Mat> decode_picture(std::string_view bytes, int64_t max_pixels, bool* unsupported) {
  if (unsupported) *unsupported = !is_png(bytes) && !is_jpeg(bytes);
  auto size = picture_size(bytes);
  if (!size.ok()) return size.status();
  const int64_t pixels = static_cast<int64_t>(size->width) * size->height;
  if (size->width <= 0 || size->height <= 0) {
    return Status::error("the picture claims a size of " + std::to_string(size->width) + "x" +
                         std::to_string(size->height));
  }
  if (pixels > max_pixels) {
    return Status::error("the picture is " + std::to_string(size->width) + "x" +
                         std::to_string(size->height) + ", over the limit of " +
                         std::to_string(max_pixels) + " pixels; send a smaller one");
  }
  cv::Mat bgr;
  try {
    const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    bgr = cv::imdecode(raw, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    return Status::error(std::string("the picture cannot be decoded: ") + e.what());
  }
  if (bgr.empty())
    return Status::error("the picture cannot be decoded; is it a whole JPEG or PNG?");
  return bgr;
}

std::string encode_jpeg(const cv::Mat& bgr, int quality) {
  std::vector<unsigned char> out;
  cv::imencode(".jpg", bgr, out, {cv::IMWRITE_JPEG_QUALITY, quality});
  return std::string(out.begin(), out.end());
}

}  // namespace iris::server
