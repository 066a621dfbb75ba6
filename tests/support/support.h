// Test support: synthetic clips, real loopback servers, temp dirs, child processes, frame counts
// and a substring check.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/frame.h"
#include "core/status.h"

namespace httplib {
class Server;
}

namespace iris::testing {

// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_port();

// Polls `done` every 20 ms until it holds or `seconds` pass; returns whether it held.
template <typename Done>
bool eventually(Done done, double seconds = 20) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Encodes `frames` frames drawn by `draw(canvas, index)` on a copy of `background` as H.264,
// in the container the file name asks for (.mp4, .mkv, .ts).
Status write_clip(const std::string& path, const cv::Mat& background, double fps, int frames,
                  const std::function<void(cv::Mat&, int)>& draw);

// A static gray background with fixed texture, like a real scene that does not move.
cv::Mat textured_background(int width, int height, unsigned seed = 7);

// A frame of `bgr` as a decoder gives it, numbered `index` at 10 fps (pts index / 10).
inline Frame frame_of(cv::Mat bgr, int64_t index) {
  Frame f;
  f.index = index;
  f.pts = index * 0.1;
  f.picture = std::make_shared<MatPicture>(std::move(bgr));
  return f;
}

// A cpp-httplib server on 127.0.0.1 and an ephemeral port, served by a thread of its own: set
// the routes on server(), then start(). The destructor stops and joins it.
class LoopbackHttp {
 public:
  LoopbackHttp();
  ~LoopbackHttp();
  httplib::Server& server() { return *server_; }
  // Starts serving the routes set so far; returns the port.
  int start();

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// Real HTTP file server (cpp-httplib, with Range support) on 127.0.0.1 and an ephemeral port.
class HttpFileServer {
 public:
  explicit HttpFileServer(const std::string& dir);
  ~HttpFileServer();
  int port() const { return port_; }
  std::string url(const std::string& file) const;

 private:
  std::unique_ptr<LoopbackHttp> http_;
  int port_ = 0;
};

// Real HTTP server on 127.0.0.1 that announces all of `data` at /clip but sends only its first
// `sent` bytes, then stalls until destroyed: a camera whose stream hangs mid-way.
class StallingHttpServer {
 public:
  StallingHttpServer(std::string data, size_t sent);
  ~StallingHttpServer();
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/clip"; }

 private:
  std::atomic<bool> stop_{false};  // declared before http_: the server stops while it is alive
  std::unique_ptr<LoopbackHttp> http_;
  int port_ = 0;
};

// A TCP listener on 127.0.0.1 that accepts connections and never answers: a dead camera.
class SilentServer {
 public:
  SilentServer();
  ~SilentServer();
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> clients_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

// The iris_rtsp_server program (gst-rtsp-server) on 127.0.0.1 and a free port: H.264 clips served
// as cameras are, looped at real time over TCP and UDP. kill() is an outage; restart() brings the
// same cameras back on the same port. The destructor kills the server, and so does the end of
// the thread that started it (no server outlives a crashed test).
class RtspServer {
 public:
  // Mount paths ("/cam") and the clips (.mp4, .mkv, .ts with H.264) they serve.
  using Mounts = std::vector<std::pair<std::string, std::string>>;
  explicit RtspServer(Mounts mounts);
  ~RtspServer();
  RtspServer(const RtspServer&) = delete;
  RtspServer& operator=(const RtspServer&) = delete;

  // Starts the server (on a port picked at the first start) and waits until it listens.
  Status start();
  // SIGKILL: every connection drops at once, and nothing listens on the port until restart().
  void kill();
  Status restart();
  // SIGSTOP / SIGCONT: connections stay open but no data flows, as through a hung camera.
  void pause();
  void resume();
  int port() const { return port_; }
  std::string url(const std::string& mount) const;

 private:
  Mounts mounts_;
  int port_ = 0;
  pid_t pid_ = -1;
  int out_fd_ = -1;  // the server's stdout, where it says "ready"
};

// Runs the iris binary with args in the background; stdout goes to `log_path`, and stderr too
// unless `err_path` names a file of its own (for output that must parse by itself).
pid_t spawn_iris(const std::vector<std::string>& args, const std::string& log_path,
                 const std::string& err_path = "");
// Waits up to `timeout_s` for the child; returns its exit code, or -1 on timeout (child killed),
// or 128+signal if a signal ended it.
int wait_child(pid_t pid, double timeout_s);

// A finished run of iris: its exit code (as wait_child's) and what it wrote to each stream.
struct IrisRun {
  int code = -1;
  std::string out;
  std::string err;
};
// Runs iris to the end (at most `timeout_s`) with stdout and stderr apart, so that --json output
// must parse by itself.
IrisRun run_iris(const std::vector<std::string>& args, double timeout_s);
// The stdout of a run that must have succeeded, as JSON: a test failure (with stdout and stderr)
// and null when it exited non-zero or printed something else.
nlohmann::json json_of(const IrisRun& run);

// The file's bytes, or "" when it cannot be read.
std::string read_file(const std::string& path);
// The file's non-empty lines.
std::vector<std::string> read_lines(const std::string& path);

// A video decoded to its end: its frames, and the bad packets the decoder skipped on the way.
struct FrameCount {
  int frames = 0;
  uint64_t decode_errors = 0;
};
// Errors (the video does not open, a read fails) say why.
Result<FrameCount> count_frames(const std::string& path);

// A substring check that prints both strings on failure (the tests link gtest, not gmock).
::testing::AssertionResult contains(const std::string& text, const std::string& part);
// `text` with every `from` replaced by `to` (a config template filled in for a test).
std::string replace_all(std::string text, std::string_view from, const std::string& to);

}  // namespace iris::testing
