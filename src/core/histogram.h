// Histogram: a thread-safe, fixed-size latency histogram with log-spaced buckets, for quantiles
// (p50, p99) in benchmarks and bucket counts in metrics. Memory stays constant however long it
// runs.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

namespace iris {

class Histogram {
 public:
  // Buckets: [0, 10 us) and then 8 per doubling up to about 10^4 s; values above the top go into
  // the last bucket. Relative error of a quantile is under 9%.
  static constexpr int kBuckets = 8 * 30 + 2;
  using Buckets = std::array<uint64_t, kBuckets>;

  void add(double seconds);
  // Value below which a fraction q of the samples counted in `counts` lie (upper edge of its
  // bucket); 0 when empty. `counts` may be the difference of two buckets() readings: a window.
  static double quantile(const Buckets& counts, double q);
  uint64_t count() const;
  double sum() const;
  void reset();
  // Upper edge of bucket i, seconds.
  static double upper_edge(int i);
  Buckets buckets() const;

 private:
  static int bucket(double seconds);
  mutable std::mutex mu_;
  Buckets counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace iris
