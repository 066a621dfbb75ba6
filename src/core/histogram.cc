#include "core/histogram.h"

#include <cmath>

namespace iris {
namespace {
constexpr double kMin = 1e-5;  // upper edge of bucket 0
constexpr int kPerDoubling = 8;
}  // namespace

int Histogram::bucket(double seconds) {
  if (!(seconds >= kMin)) return 0;  // also NaN and negatives (clock steps)
  const int i = 1 + static_cast<int>(std::floor(std::log2(seconds / kMin) * kPerDoubling));
  return i < kBuckets ? i : kBuckets - 1;
}

double Histogram::upper_edge(int i) {
  return kMin * std::exp2(static_cast<double>(i) / kPerDoubling);
}

void Histogram::add(double seconds) {
  const int i = bucket(seconds);
  std::lock_guard lock(mu_);
  ++counts_[i];
  ++count_;
  if (seconds > 0) sum_ += seconds;
}

double Histogram::quantile(const Buckets& counts, double q) {
  uint64_t total = 0;
  for (uint64_t n : counts) total += n;
  if (total == 0) return 0;
  const double target = q * static_cast<double>(total);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts[i];
    if (static_cast<double>(seen) >= target && seen > 0) return upper_edge(i);
  }
  return upper_edge(kBuckets - 1);
}

uint64_t Histogram::count() const {
  std::lock_guard lock(mu_);
  return count_;
}

double Histogram::sum() const {
  std::lock_guard lock(mu_);
  return sum_;
}

void Histogram::reset() {
  std::lock_guard lock(mu_);
  counts_.fill(0);
  count_ = 0;
  sum_ = 0;
}

Histogram::Buckets Histogram::buckets() const {
  std::lock_guard lock(mu_);
  return counts_;
}

}  // namespace iris
