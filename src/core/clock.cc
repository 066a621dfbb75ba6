#include "core/clock.h"

#include <algorithm>
#include <thread>

namespace iris {

bool sleep_until(int64_t due_ns, const std::atomic<bool>* stop) {
  const auto stopped = [stop] { return stop && stop->load(); };
  // Short slices: a stop request must not wait out a long sleep (a 30 s backoff).
  for (int64_t left = due_ns - steady_ns(); left > 0 && !stopped(); left = due_ns - steady_ns()) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(left, 50'000'000)));
  }
  return !stopped();
}

}  // namespace iris
