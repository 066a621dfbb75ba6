#include "events/sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace iris::events {

Status make_dirs(const std::string& dir) {
  if (dir.empty()) return {};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::error("cannot create directory '" + dir + "': " + ec.message() +
                         "; choose a writable location");
  }
  return {};
}

Status sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::error("opening directory '" + dir + "': " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const std::string why = std::strerror(errno);
  ::close(fd);
  if (rc != 0) return Status::error("syncing directory '" + dir + "': " + why);
  return {};
}

Status replace_file(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp";
  const auto failed = [&](const std::string& step) {
    const Status s = Status::error(step + " " + tmp + ": " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return s;
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return failed("creating");
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return failed("writing");
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
  // Durable before it replaces the old file.
  if (::fdatasync(fd) != 0) {
    ::close(fd);
    return failed("syncing");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("renaming");
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return sync_dir(dir.empty() ? "." : dir);
}

Result<std::unique_ptr<JsonlSink>> JsonlSink::open(const std::string& path) {
  if (Status s = make_dirs(std::filesystem::path(path).parent_path().string()); !s) return s;
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (!f) {
    return Status::error("cannot open events file '" + path +
                         "' for writing: " + std::strerror(errno) + "; choose a writable path");
  }
  return std::unique_ptr<JsonlSink>(new JsonlSink(path, f));
}

JsonlSink::~JsonlSink() { (void)close(); }

Status JsonlSink::deliver(const std::string& json) {
  if (!f_) return Status::error("events file '" + path_ + "' is closed");
  const std::string line = json + "\n";
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0) {
    return Status::error("writing events file '" + path_ + "': " + std::strerror(errno));
  }
  return {};
}

Status JsonlSink::close() {
  if (!f_) return {};
  const bool ok = std::fflush(f_) == 0 && fsync(fileno(f_)) == 0;
  std::fclose(f_);
  f_ = nullptr;
  if (!ok) return Status::error("closing events file '" + path_ + "': " + std::strerror(errno));
  return {};
}

Result<std::string> write_snapshot(const cv::Mat& bgr, const Event& e, const std::string& dir) {
  if (Status s = make_dirs(dir); !s) return s;
  cv::Mat img = bgr.clone();
  cv::rectangle(img, cv::Point2d(e.box.x1, e.box.y1), cv::Point2d(e.box.x2, e.box.y2),
                cv::Scalar(0, 0, 255), 2);
  const std::string path = (std::filesystem::path(dir) / (e.id + ".jpg")).string();
  try {
    if (!cv::imwrite(path, img, {cv::IMWRITE_JPEG_QUALITY, 85})) {
      return Status::error("cannot write snapshot '" + path + "'");
    }
  } catch (const cv::Exception& ex) {
    return Status::error("cannot write snapshot '" + path + "': " + ex.what());
  }
  return path;
}

}  // namespace iris::events
