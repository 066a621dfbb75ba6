// Histogram: samples land in log-spaced buckets; quantiles are a bucket's upper edge, within 9%
// of the sample; a window is the difference of two readings.
#include "core/histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace iris {
namespace {

TEST(Histogram, QuantileIsTheUpperEdgeOfItsSamplesBucket) {
  Histogram h;
  for (int i = 0; i < 99; ++i) h.add(0.001);
  h.add(1.0);
  const Histogram::Buckets b = h.buckets();
  EXPECT_EQ(h.count(), 100u);
  EXPECT_NEAR(h.sum(), 99 * 0.001 + 1.0, 1e-9);
  for (double q : {0.0, 0.5, 0.99}) {
    const double v = Histogram::quantile(b, q);
    EXPECT_GE(v, 0.001) << q;
    EXPECT_LT(v, 0.001 * 1.09) << q;
  }
  EXPECT_GE(Histogram::quantile(b, 1.0), 1.0);
  EXPECT_LT(Histogram::quantile(b, 1.0), 1.09);
}

TEST(Histogram, EmptyIsZeroAndOddSamplesGoToTheEndBuckets) {
  Histogram h;
  EXPECT_EQ(Histogram::quantile(h.buckets(), 0.5), 0);
  h.add(-1);  // a clock step
  h.add(std::numeric_limits<double>::quiet_NaN());
  h.add(0);
  h.add(1e9);
  const Histogram::Buckets b = h.buckets();
  EXPECT_EQ(b[0], 3u);
  EXPECT_EQ(b[Histogram::kBuckets - 1], 1u);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.sum(), 1e9) << "negative samples add nothing";
  EXPECT_EQ(Histogram::quantile(b, 0.5), Histogram::upper_edge(0));
  EXPECT_EQ(Histogram::quantile(b, 1.0), Histogram::upper_edge(Histogram::kBuckets - 1));
}

TEST(Histogram, QuantileOfAWindowCountsOnlyTheSamplesInIt) {
  Histogram h;
  for (int i = 0; i < 10; ++i) h.add(2.0);
  const Histogram::Buckets before = h.buckets();
  for (int i = 0; i < 10; ++i) h.add(0.01);
  Histogram::Buckets window = h.buckets();
  for (int i = 0; i < Histogram::kBuckets; ++i) window[i] -= before[i];
  EXPECT_LT(Histogram::quantile(window, 0.99), 0.01 * 1.09);
  EXPECT_GE(Histogram::quantile(h.buckets(), 0.99), 2.0) << "the whole run still has them";
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(Histogram::quantile(h.buckets(), 0.5), 0);
}

TEST(Histogram, UpperEdgesDoubleEveryEightBuckets) {
  EXPECT_DOUBLE_EQ(Histogram::upper_edge(0), 1e-5);
  for (int i = 0; i + 8 < Histogram::kBuckets; i += 8) {
    EXPECT_NEAR(Histogram::upper_edge(i + 8) / Histogram::upper_edge(i), 2.0, 1e-9) << i;
  }
}

}  // namespace
}  // namespace iris
