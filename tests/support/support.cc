#include "support/support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/imgproc.hpp>
#include <random>

#include "core/text.h"
#include "video/source.h"
#include "video/video_writer.h"

namespace iris::testing {

namespace {

// A TCP socket bound to 127.0.0.1 on a port the kernel picks; *port says which.
int bind_loopback(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

int free_port() {
  int port = 0;
  close(bind_loopback(&port));
  return port;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "iris-test-XXXXXX").string();
  path_ = mkdtemp(tmpl.data()) ? tmpl : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

Status write_clip(const std::string& path, const cv::Mat& background, double fps, int frames,
                  const std::function<void(cv::Mat&, int)>& draw) {
  video::WriterOptions opt;
  opt.width = background.cols;
  opt.height = background.rows;
  opt.fps = fps;
  opt.crf = 18;
  auto w = video::VideoWriter::open(path, opt);
  if (!w.ok()) return w.status();
  for (int i = 0; i < frames; ++i) {
    cv::Mat canvas = background.clone();
    draw(canvas, i);
    if (Status s = (*w)->write(canvas, i / fps); !s) return s;
  }
  return (*w)->close();
}

cv::Mat textured_background(int width, int height, unsigned seed) {
  cv::Mat bg(height, width, CV_8UC3, cv::Scalar(90, 100, 95));
  std::mt19937 rng(seed);
  for (int i = 0; i < width * height / 200; ++i) {
    const cv::Point p(rng() % width, rng() % height);
    const int v = 70 + rng() % 60;
    cv::circle(bg, p, 1 + rng() % 3, cv::Scalar(v, v + 10, v), cv::FILLED);
  }
  cv::GaussianBlur(bg, bg, cv::Size(3, 3), 0);
  return bg;
}

LoopbackHttp::LoopbackHttp() : server_(std::make_unique<httplib::Server>()) {}

int LoopbackHttp::start() {
  const int port = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port;
}

LoopbackHttp::~LoopbackHttp() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

HttpFileServer::HttpFileServer(const std::string& dir) : http_(std::make_unique<LoopbackHttp>()) {
  http_->server().set_mount_point("/", dir);
  port_ = http_->start();
}

HttpFileServer::~HttpFileServer() = default;

std::string HttpFileServer::url(const std::string& file) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + file;
}

StallingHttpServer::StallingHttpServer(std::string data, size_t sent)
    : http_(std::make_unique<LoopbackHttp>()) {
  http_->server().Get("/clip", [this, data = std::move(data), sent](const httplib::Request&,
                                                                    httplib::Response& res) {
    res.set_content_provider(
        data.size(), "application/octet-stream",
        [this, &data, sent](size_t offset, size_t length, httplib::DataSink& sink) {
          if (offset < sent)
            return sink.write(data.data() + offset, std::min(length, sent - offset));
          while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
          return false;
        });
  });
  port_ = http_->start();
}

// Releases the stalled response before the server is stopped and joined.
StallingHttpServer::~StallingHttpServer() { stop_ = true; }

SilentServer::SilentServer() {
  fd_ = bind_loopback(&port_);
  listen(fd_, 8);
  thread_ = std::thread([this] {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) > 0) {
        const int c = accept(fd_, nullptr, nullptr);
        if (c >= 0) clients_.push_back(c);  // held open, never answered
      }
    }
  });
}

SilentServer::~SilentServer() {
  stop_ = true;
  thread_.join();
  for (int c : clients_) close(c);
  close(fd_);
}

RtspServer::RtspServer(Mounts mounts) : mounts_(std::move(mounts)) {}

RtspServer::~RtspServer() { kill(); }

std::string RtspServer::url(const std::string& mount) const {
  return "rtsp://127.0.0.1:" + std::to_string(port_) + mount;
}

Status RtspServer::start() {
  kill();
  if (port_ == 0) {  // picked once: a restart comes back on the same port
    port_ = free_port();
    if (port_ == 0) return Status::error("RtspServer: no free loopback port");
  }
  std::vector<std::string> args = {IRIS_RTSP_SERVER_BINARY, "--port", std::to_string(port_)};
  for (const auto& [mount, clip] : mounts_) {
    args.push_back("--mount");
    args.push_back(mount + "=" + clip);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::error("RtspServer: pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  const int rc =
      posix_spawn(&pid_, IRIS_RTSP_SERVER_BINARY, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  out_fd_ = fds[0];
  if (rc != 0) {
    pid_ = -1;
    return Status::error(std::string("RtspServer: cannot run " IRIS_RTSP_SERVER_BINARY ": ") +
                         std::strerror(rc));
  }
  // Loading the clips (and, the first time, GStreamer's plugin registry) takes a moment.
  std::string said;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (said.find("ready\n") == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{out_fd_, POLLIN, 0};
    char buf[64];
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      kill();
      return Status::error("RtspServer: iris_rtsp_server did not get ready within 30 s");
    }
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) {
      kill();
      return Status::error(
          "RtspServer: iris_rtsp_server exited before it was ready (its stderr "
          "says why)");
    }
    said.append(buf, n);
  }
  return {};
}

void RtspServer::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (out_fd_ >= 0) close(out_fd_);
  out_fd_ = -1;
}

Status RtspServer::restart() { return start(); }  // start() kills a running server first

void RtspServer::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RtspServer::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

pid_t spawn_iris(const std::vector<std::string>& args, const std::string& log_path,
                 const std::string& err_path) {
  const pid_t pid = fork();
  if (pid == 0) {
    const auto create = [](const std::string& path) {
      return open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    };
    const int fd = create(log_path);
    dup2(fd, STDOUT_FILENO);
    dup2(err_path.empty() ? fd : create(err_path), STDERR_FILENO);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(IRIS_BINARY));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(IRIS_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

int wait_child(pid_t pid, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    usleep(20000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

IrisRun run_iris(const std::vector<std::string>& args, double timeout_s) {
  TempDir dir;
  const std::string out = dir.file("out"), err = dir.file("err");
  IrisRun r;
  r.code = wait_child(spawn_iris(args, out, err), timeout_s);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

nlohmann::json json_of(const IrisRun& run) {
  EXPECT_EQ(run.code, 0) << run.err;
  try {
    return nlohmann::json::parse(run.out);
  } catch (const nlohmann::json::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\n" << run.out << "\n" << run.err;
    return {};
  }
}

std::string read_file(const std::string& path) {
  Result<std::string> text = iris::read_file(path);
  return text.ok() ? std::move(text).value() : std::string();
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

Result<FrameCount> count_frames(const std::string& path) {
  auto source = video::Source::open({.url = path});
  if (!source.ok()) return source.status();
  FrameCount count;
  for (;;) {
    auto frame = (*source)->read();
    if (!frame.ok()) return frame.status();
    if (!frame->has_value()) break;
    ++count.frames;
  }
  count.decode_errors = (*source)->decode_errors();
  return count;
}

std::string replace_all(std::string text, std::string_view from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected to find\n  " << part << "\nin\n" << text;
}

}  // namespace iris::testing
