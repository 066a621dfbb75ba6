// Clock: the two times iris reads, and a sleep that a stop request cuts short. Steady time
// measures intervals (deadlines, pacing, stalls); wall time stamps frames and events, and is what
// latency from decode is measured in.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace iris {

// Nanoseconds on the steady clock (never jumps; an arbitrary origin).
inline int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Unix time in seconds.
inline double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Sleeps until `due_ns` on the steady clock, waking within 50 ms once *stop is set (stop may be
// null); false if it was.
bool sleep_until(int64_t due_ns, const std::atomic<bool>* stop);

}  // namespace iris
