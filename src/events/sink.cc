#include "events/sink.h"

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
