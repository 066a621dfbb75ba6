#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace iris::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
std::mutex g_mu;
bool isatty_stderr() {
  static const bool tty = isatty(STDERR_FILENO) == 1;
  return tty;
}
}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }

void write(Level lvl, const std::string& message) {
  if (lvl < g_level) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char stamp[16];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  std::lock_guard lock(g_mu);
  // \r\033[K clears a progress line the CLI may have left on a terminal.
  std::fprintf(stderr, "%s[%s] %s: %s\n", isatty_stderr() ? "\r\033[K" : "", stamp,
               kNames[static_cast<int>(lvl)], message.c_str());
}

}  // namespace iris::log
