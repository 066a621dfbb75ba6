// Camera: a Source that heals. A live camera that drops (server gone, network cut, no data for
// the timeout) is reconnected with exponential backoff and jitter, and its frames keep one clock:
// pts and index go on increasing across reconnects (and disconnects, for a pause), and the first
// frame after one is marked as a gap. Files are read once (or looped by their SourceOptions) and
// never reconnected. The link's state and counters can be read from any thread while another one
// blocks in read().
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "core/frame.h"
#include "core/status.h"
#include "video/source.h"

namespace iris::video {

enum class LinkState { kConnecting, kLive, kStalled, kReconnecting, kEnded, kFailed };
// "connecting", "live", "stalled", "reconnecting", "ended", "failed".
const char* link_state_name(LinkState s);

struct ReconnectPolicy {
  double initial_delay = 0.5;  // seconds before the first retry
  double max_delay = 30;       // cap of the exponential backoff
  double multiplier = 2;
  // Each delay is randomized by +-this fraction: cameras behind one switch must not retry in
  // lockstep.
  double jitter = 0.2;
  int max_attempts = 0;  // consecutive failed attempts before giving up (failed); 0 = never
};

struct CameraOptions {
  std::string name;      // what logs call it (a stream name); the URL when empty
  SourceOptions source;  // source.stop aborts every wait, including backoff sleeps
  ReconnectPolicy reconnect;
  // Seconds without a frame before a live camera reads `stalled` (it reconnects at
  // source.timeout).
  double stall_after = 2.0;
};

struct LinkStatus {
  LinkState state = LinkState::kConnecting;
  std::string reason;          // why it is not live (the last error), empty when live
  uint64_t reconnects = 0;     // successful reconnects after the first connect
  uint64_t attempts = 0;       // connect attempts, all
  uint64_t decode_errors = 0;  // summed over every Source it opened
  uint64_t dropped = 0;        // frames skipped by emulate_live (summed)
  int width = 0, height = 0;   // of the last frame
  double fps = 0;
};

// One reader thread calls read(); status(), info(), live() and url() may be called from any
// thread. Destroy a Camera only after its read() returned (set source.stop to make it return).
class Camera {
 public:
  // Files (no scheme) are opened here and an open error is returned (a config mistake). URLs are
  // not connected here: the first read() connects, so a camera that is down at start is retried
  // exactly like one that drops later, and creating 200 cameras never blocks.
  static Result<std::unique_ptr<Camera>> open(const CameraOptions& options);
  ~Camera();
  Camera(const Camera&) = delete;
  Camera& operator=(const Camera&) = delete;

  // Blocks for the next frame. Live: reconnects inside with backoff and jitter for as long as the
  // policy allows; files: no reconnect, the end is the end. Returns nullopt at the end or when
  // source.stop is set (within about 0.1 s); an error when it gives up (state failed, reason
  // set). Frames keep strictly increasing pts and index across reconnects (offset by the last
  // pts plus one frame step) and the first frame after a reconnect has gap = true.
  Result<std::optional<Frame>> read();
  // Reader thread, between reads (a pause): closes the connection, keeping the clock and the
  // counters. The next read() once source.stop is clear connects as the first one does (at once,
  // not counted as a reconnect) and goes on where the frames stopped, its first frame a gap.
  void disconnect();

  LinkStatus status() const;
  // The stream as last opened: a file's at once; a URL's once connected (zero size before, and
  // live), then the size of the last frame.
  StreamInfo info() const;
  // A URL that is a camera (known for sure once connected: an http file with a duration is not);
  // a file is live only with emulate_live.
  bool live() const;
  const std::string& url() const { return options_.source.url; }

 private:
  explicit Camera(CameraOptions options);
  bool stopping() const;
  // "camera 'NAME'" or "camera 'URL'", for logs and errors.
  std::string who() const;
  // One connect attempt, after the backoff delay a retry waits.
  Status connect();
  // The policy allows no more attempts.
  bool out_of_attempts() const;
  // Fails the camera for good: state failed, the error read() returns.
  Status give_up(const std::string& reason);
  // Closes the current Source, keeping its counters.
  void close_source();
  void set_state(LinkState state, const std::string& reason);
  Frame deliver(Frame f);

  const CameraOptions options_;
  std::mt19937 rng_;

  // Reader thread only.
  int failures_ = 0;  // consecutive attempts that brought no frame
  int retries_ = 0;   // delays waited since frames last flowed
  // Since open() or disconnect(): the next connect is a retry.
  bool connected_once_ = false;
  bool flowing_ = false;   // the current Source delivered a frame
  bool gap_ = false;       // the next frame follows a reconnect
  double pts_offset_ = 0;  // added to the current Source's timestamps
  int64_t index_offset_ = 0;
  double last_pts_ = -1;
  int64_t last_index_ = -1;
  double step_ = 0.04;  // seconds per frame of the last Source

  mutable std::mutex mu_;
  std::unique_ptr<Source> source_;  // replaced under mu_ by the reader; status() reads counters
  LinkStatus status_;               // counters of closed Sources, state, reason
  StreamInfo info_;            // written under mu_ by the reader, which alone may read it without
  int64_t last_frame_ns_ = 0;  // steady clock
  mutable bool stall_logged_ = false;
};

}  // namespace iris::video
