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
#include "video/clip_recorder.h"

struct AVFormatContext;
struct AVCodecContext;
struct AVPacket;
struct AVFrame;

namespace iris::video {

struct SourceOptions {
  std::string url;
  bool loop = false;                   // files: start again at the end (timestamps keep increasing)
  bool realtime = false;               // files: deliver frames at the stream's rate
  double timeout = 10.0;               // seconds any open or read may block
  int decode_threads = 1;              // decoder threads (the Engine shares the cores out)
  std::string rtsp_transport = "tcp";  // rtsp:// only: "tcp" (interleaved) or "udp"
  // Decode key frames only (the decoder skips the others): a cheap look at a camera, e.g. one
  // frame a second from a camera whose GOP is a second.
  bool keyframes_only = false;
  // Deliver at most this many frames per second of media time (by pts; the rest are decoded and
  // dropped); 0 delivers every frame.
  double max_fps = 0;
  // Files: play as a camera would (looped, paced against the wall clock at the file's rate,
  // info().live true). A reader more than a GOP (at least 1 s) behind the clock loses packets up
  // to the next key frame that is due, as a camera's server drops a slow client's backlog;
  // dropped() counts those frames. For benchmarks of many cameras from a few files.
  bool emulate_live = false;
  const std::atomic<bool>* stop = nullptr;  // when set, blocking calls return at once
  // When set, gets every packet of the video stream read (for event clips); begin() at open.
  std::shared_ptr<ClipRecorder> recorder;
};

struct StreamInfo {
  int width = 0;  // of the last frame read (of the stream's header before the first)
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
  // the stream broke (timeout, unreadable data); frames already returned remain valid. A frame
  // whose size differs from the previous one's (a camera switched resolution) has gap set.
  // Frame::index counts the frames decoded before this one, those max_fps drops included, so a
  // file's index stays its frame number (keyframes_only decodes key frames only).
  Result<std::optional<Frame>> read();

  const StreamInfo& info() const { return info_; }
  const std::string& url() const { return options_.url; }
  // Packets the decoder rejected as corrupt (skipped, the stream goes on).
  uint64_t decode_errors() const { return decode_errors_.load(); }
  // Frames emulate_live skipped because the reader fell behind the clock. Thread-safe.
  uint64_t dropped() const { return dropped_.load(); }

 private:
  explicit Source(SourceOptions options);
  Status open_input();
  // Arms the deadline for the next blocking call.
  void arm(double seconds);
  static int interrupt_cb(void* opaque);
  bool stopping() const { return options_.stop && options_.stop->load(); }
  enum class Decoded { kFrame, kSkipped, kNeedInput, kFlushed, kCorrupt };
  Decoded receive(std::optional<Frame>* out);
  Status restart();
  Status send_packet();
  void pace(double pts);
  // Media time of a packet's timestamp on the same clock as the frames; -1 when unknown.
  double packet_time(const AVPacket* p) const;
  // emulate_live: whether to drop this packet because the reader fell behind the clock.
  bool skip_late(const AVPacket* p);
  // max_fps: whether a frame at `pts` is due.
  bool take(double pts);

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
  bool key_drain_ = false;       // keyframes_only: the decoder is giving back one key frame
  int64_t index_ = 0;
  double pts_offset_ = 0;    // added after each loop so timestamps keep increasing
  double first_pts_ = -1;    // of the current pass, to start media time at 0
  int untimed_ = 0;          // frames of the pass before the first with a timestamp
  int untimed_dropped_ = 0;  // camera frames dropped for coming before any timestamp
  double last_pts_ = -1;
  double pace_start_pts_ = -1;
  int64_t pace_start_ns_ = 0;
  bool camera_ = false;  // a live network stream (not a file played as one)
  bool paced_ = false;   // frames wait for their time on the wall clock
  int last_width_ = 0;   // of the last decoded frame: a new size is a discontinuity
  int last_height_ = 0;
  bool gap_pending_ = false;      // the next frame delivered starts at a new size
  double next_due_ = -1;          // max_fps: the earliest pts of the next frame delivered
  double last_key_ = -1;          // emulate_live: media time of the last key packet
  double last_packet_time_ = -1;  // emulate_live: of the latest packet, skipped or not
  double gop_ = 0;                // emulate_live: longest key frame interval seen
  bool skipping_ = false;         // emulate_live: dropping packets up to a key frame that is due
  std::atomic<uint64_t> decode_errors_{0};  // read by other threads for stats
  std::atomic<uint64_t> dropped_{0};
  int consecutive_errors_ = 0;
};

// Options that cannot work whatever the stream (a config mistake), with the fix; ok otherwise.
Status check_options(const SourceOptions& options);

// Seconds from one frame to the next at a nominal rate of `fps`; 25 fps' when it is unknown (0).
inline double frame_step(double fps) { return fps > 0 ? 1.0 / fps : 0.04; }

// True for "scheme://..." (rtsp://, http://, ...; the scheme starts with a letter and has only
// letters, digits, '+', '-' and '.'), false for local paths.
bool is_url(const std::string& url);

}  // namespace iris::video
