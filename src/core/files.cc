#include "core/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace iris {

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

}  // namespace iris
