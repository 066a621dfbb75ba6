#include "pipeline/mot_writer.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "events/sink.h"

namespace iris::pipeline {

Result<std::unique_ptr<MotWriter>> MotWriter::open(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (!dir.empty()) {
    if (Status s = events::make_dirs(dir); !s) return s;
  }
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    return Status::error("cannot write tracks to '" + path + "': " + std::strerror(errno) +
                         "; check the directory exists and is writable");
  }
  return std::unique_ptr<MotWriter>(new MotWriter(path, f));
}

MotWriter::~MotWriter() {
  if (f_) std::fclose(f_);
}

Status MotWriter::write(int64_t frame_index, const std::vector<track::Track>& tracks,
                        double since) {
  if (!f_) return Status::error("tracks file '" + path_ + "' is closed");
  for (const track::Track& t : tracks) {
    if (!t.confirmed || t.last_matched < since) continue;
    // A motion model can shrink a box to nothing; MOT files only hold real boxes.
    if (t.box.width() <= 0 || t.box.height() <= 0) continue;
    if (std::fprintf(f_, "%lld,%lld,%.2f,%.2f,%.2f,%.2f,%.3f,-1,-1,-1\n",
                     static_cast<long long>(frame_index + 1), static_cast<long long>(t.id),
                     t.box.x1, t.box.y1, t.box.width(), t.box.height(), t.score) < 0) {
      return Status::error("cannot write tracks to '" + path_ + "': " + std::strerror(errno));
    }
  }
  return Status();
}

Status MotWriter::close() {
  if (!f_) return Status();
  const bool ok = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok)
    return Status::error("cannot finish tracks file '" + path_ + "': " + std::strerror(errno));
  return Status();
}

}  // namespace iris::pipeline
