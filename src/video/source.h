// Source: decodes one camera or file through FFmpeg (libavformat + libavcodec). Local files,
// http(s):// and rtsp:// go through the same code path. Every blocking FFmpeg call runs under a
// deadline enforced by an interrupt callback (FFmpeg's own network timeout defaults to none), and
// a stop flag aborts any of them at once. Frames keep the decoder's pixel format; conversion to
// BGR or gray happens later, only where something needs it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/frame.h"
#include "core/status.h"

struct AVFormatContext;
struct AVCodecContext;
struct AVPacket;
struct AVFrame;

namespace iris::video {

struct SourceOptions {
  std::string url;
  bool loop = false;       // files: start again at the end (timestamps keep increasing)
  bool realtime = false;   // files: deliver frames at the stream's rate
  double timeout = 10.0;   // seconds any open or read may block
  int decode_threads = 1;  // decoder threads (the Engine shares the cores out)
  const std::atomic<bool>* stop = nullptr;  // when set, blocking calls return at once
};

struct StreamInfo {
  int width = 0;
  int height = 0;
  double fps = 0;  // nominal frame rate, 0 if unknown
  std::string codec;
  bool live = false;  // a camera (rtsp, or http without a known duration), not a file
};

class Source {
 public:
  static Result<std::unique_ptr<Source>> open(const SourceOptions& options);
  ~Source();
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  // The next frame; std::nullopt at the end of the stream (or when stop is set). An error means
  // the stream broke (timeout, unreadable data); frames already returned remain valid.
  Result<std::optional<Frame>> read();

  const StreamInfo& info() const { return info_; }
  const std::string& url() const { return options_.url; }
  // Packets the decoder rejected as corrupt (skipped, the stream goes on).
  uint64_t decode_errors() const { return decode_errors_.load(); }

 private:
  explicit Source(SourceOptions options);
  Status open_input();
  // Arms the deadline for the next blocking call.
  void arm(double seconds);
  static int interrupt_cb(void* opaque);
  bool stopping() const { return options_.stop && options_.stop->load(); }
  // Seconds from one frame to the next: the nominal rate's, or 25 fps' when it is unknown.
  double frame_step() const { return info_.fps > 0 ? 1.0 / info_.fps : 0.04; }
  enum class Decoded { kFrame, kNeedInput, kFlushed, kCorrupt };
  Decoded receive(std::optional<Frame>* out);
  Status restart();
  Status send_packet();
  void pace(double pts);

  SourceOptions options_;
  StreamInfo info_;
  AVFormatContext* fmt_ = nullptr;
  AVCodecContext* dec_ = nullptr;
  AVPacket* pkt_ = nullptr;
  AVFrame* frame_ = nullptr;
  int stream_index_ = -1;
  std::atomic<int64_t> deadline_ns_{0};
  bool packet_pending_ = false;  // pkt_ still to be sent (the decoder was full)
  bool draining_ = false;        // end of input reached, decoder being flushed
  int64_t index_ = 0;
  double pts_offset_ = 0;  // added after each loop so timestamps keep increasing
  double first_pts_ = -1;  // of the current pass, to start media time at 0
  double last_pts_ = -1;
  double pace_start_pts_ = -1;
  int64_t pace_start_ns_ = 0;
  std::atomic<uint64_t> decode_errors_{0};  // read by other threads for stats
  int consecutive_errors_ = 0;
};

// True for "scheme://..." (rtsp://, http://, ...; the scheme starts with a letter and has only
// letters, digits, '+', '-' and '.'), false for local paths.
bool is_url(const std::string& url);

}  // namespace iris::video
