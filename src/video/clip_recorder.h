// ClipRecorder: short MP4 clips around moments of a stream (an event and the seconds before it),
// cut from the camera's own compressed packets. The Source hands it every packet of its video
// stream as read; it keeps the last few seconds (from the key frame before them, where a clip can
// start decoding) and, once a requested clip's end has been read, remuxes its packets into an
// MP4 without decoding or encoding anything. Keeping packets costs a reference each and the
// stream's bitrate times the seconds kept, so every camera of a large site can afford it.
//
// Packets carry the camera's own timestamps, frames the stream's clock (which continues across
// loops, reconnects and pauses); mark() ties the two: each packet takes the time of the first
// frame delivered after it was read, a few frames off where the decoder delays or reorders
// frames, which does not matter for clips measured in seconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct AVPacket;
struct AVStream;
struct AVCodecParameters;

namespace iris::video {

// A clip being recorded is stood for by an empty file of its name plus this suffix.
inline constexpr std::string_view kPlaceholderSuffix = ".part";
inline std::string clip_placeholder(const std::string& clip) {
  return clip + std::string(kPlaceholderSuffix);
}

struct ClipStats {
  double seconds = 0;   // of stream time held, first kept packet to the last one marked
  size_t bytes = 0;     // of packet data held
  size_t pending = 0;   // clips waiting for their end to be read
  int64_t written = 0;  // clips written
  int64_t failed = 0;   // clips that could not be written (logged)
  int64_t refused = 0;  // requests beyond kMaxPending (logged)
};

class ClipRecorder {
 public:
  // Clips in flight at once; more are refused (and logged) rather than holding packets unbounded.
  static constexpr size_t kMaxPending = 64;

  // Keeps `pre_roll` seconds before the frame processed (from the key frame before them), but never
  // more than `max_bytes`: a stream whose key frames are too far apart for that loses its oldest
  // packets (its clips then start later than asked, at the first key frame kept), or all of them
  // when a single key frame and what follows it are over the limit.
  explicit ClipRecorder(double pre_roll, size_t max_bytes = size_t{64} << 20);
  ~ClipRecorder();
  ClipRecorder(const ClipRecorder&) = delete;
  ClipRecorder& operator=(const ClipRecorder&) = delete;

  // Source side, on the decoding thread. begin(): a new input (a reconnect may change the codec
  // or size): the clips pending are written with what was read so far, then the packets go.
  void begin(const AVStream* stream, double fps);
  // A packet of the video stream, as read (the recorder takes its own reference).
  void push(const AVPacket* packet);
  // A frame delivered at `time` on the stream's clock; writes the clips whose end it passed.
  void mark(double time);
  // The consumer (which requests clips) is at the frame of `time`, behind mark() by its queue:
  // pre_roll is kept before this time. Until it is first called, only max_bytes bounds what is
  // kept.
  void processed(double time);

  // Any thread: a clip of [start, end] on the stream's clock, written to `path` once a frame past
  // `end` was marked (or at close() or the next begin(), with what there is). While it is being
  // recorded, its clip_placeholder() exists; the clip is renamed into place when complete. It
  // starts at the last key frame at or before `start`. False when it cannot be taken (too many
  // pending, the placeholder cannot be made, or the codec cannot go into MP4); the reason is
  // logged.
  bool request(const std::string& path, double start, double end);
  // Writes every pending clip with what there is (the stream ended).
  void close();

  ClipStats stats() const;

 private:
  struct Entry {
    AVPacket* packet;
    double time;  // on the stream's clock; NaN until the next frame is marked
    uint64_t seq;
  };
  struct Request {
    std::string path;
    double start, end;
  };
  struct Cut {  // a clip's packets, copied out under the lock and written outside it
    std::string path;
    AVCodecParameters* par = nullptr;
    int tb_num = 0, tb_den = 0;
    std::vector<AVPacket*> packets;
  };
  void clear();  // under mu_
  void trim();   // under mu_
  // Under mu_. Not `now`: nullopt while packets its last frames need are yet to be read.
  std::optional<Cut> cut(const Request& r, bool now) const;
  void drop_front();          // under mu_
  void drop_to_second_key();  // under mu_: the oldest GOP goes
  void write(Cut& c);         // not under mu_: muxing and disk writes take a while
  // Writes the clip to `part` as MP4; the error, or empty.
  static std::string mux(Cut& c, const std::string& part);

  const double pre_roll_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  AVCodecParameters* par_ = nullptr;  // of the current input
  bool storable_ = true;              // its codec can go into MP4 as it is
  int tb_num_ = 1, tb_den_ = 1;       // its time base
  int64_t frame_ticks_ = 1;           // one frame in time-base ticks, for packets without a dts
  std::deque<Entry> entries_;
  std::deque<uint64_t> keys_;  // seq of every key packet in entries_
  uint64_t next_seq_ = 0;
  size_t bytes_ = 0;
  int64_t last_dts_ = INT64_MIN;  // as rewritten: strictly increasing across loops
  int64_t shift_ = 0;             // added to the input's timestamps (a looped file starts again)
  double processed_ = -1;
  std::vector<Request> pending_;
  int64_t written_ = 0, failed_ = 0, refused_ = 0;
  bool trimmed_warned_ = false;
};

}  // namespace iris::video
