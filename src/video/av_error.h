// FFmpeg helpers shared by the video module: error codes as text, and FFmpeg's own logging
// silenced: iris reports failures itself and counts corrupt packets per stream, where FFmpeg
// would print a line per damaged packet of every camera.
#pragma once

#include <mutex>
#include <string>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

namespace iris::video {

inline std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

inline void quiet_ffmpeg_logs() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_FATAL); });
}

}  // namespace iris::video
