// Pictures in HTTP bodies: JPEG/PNG uploads decoded with their size checked before any pixel is
// allocated (a small file can claim a huge picture), and frames encoded as JPEG for answers.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace iris::server {

// A BGR picture from JPEG or PNG bytes of at most `max_pixels` pixels. Errors say which limit or
// format was wrong; *unsupported is set when the bytes are not a JPEG or PNG at all (415).
Result<cv::Mat> decode_picture(std::string_view bytes, int64_t max_pixels,
                               bool* unsupported = nullptr);

// JPEG bytes of a BGR picture.
std::string encode_jpeg(const cv::Mat& bgr, int quality = 80);

}  // namespace iris::server
