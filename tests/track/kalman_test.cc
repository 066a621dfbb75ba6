#include "track/kalman.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace iris::track {
namespace {

// A 40x80 box moving at (30, -20) px/s and growing 4 px/s in width.
Box truth_at(double t) {
  const double cx = 100 + 30 * t, cy = 300 - 20 * t, w = 40 + 4 * t, h = 80;
  return {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
}

TEST(KalmanBoxFilter, StartsAtTheBoxWithZeroVelocity) {
  const KalmanBoxFilter f(Box{10, 20, 50, 100});
  EXPECT_EQ(f.box(), (Box{10, 20, 50, 100}));
  for (int i = 4; i < 8; ++i) EXPECT_EQ(f.state()[i], 0);
}

TEST(KalmanBoxFilter, ConvergesToVelocityUnderIrregularSteps) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> step(0.02, 0.25);
  double t = 0;
  KalmanBoxFilter f(truth_at(t));
  for (int i = 0; i < 80; ++i) {
    const double dt = step(rng);
    t += dt;
    f.predict(dt);
    f.update(truth_at(t));
  }
  EXPECT_NEAR(f.state()[4], 30, 0.5);
  EXPECT_NEAR(f.state()[5], -20, 0.5);
  EXPECT_NEAR(f.state()[6], 4, 0.5);
  EXPECT_NEAR(f.state()[7], 0, 0.5);

  // One second ahead with no measurement: the box lands where the object is.
  f.predict(1.0);
  const Box want = truth_at(t + 1.0);
  const Box got = f.box();
  EXPECT_NEAR(got.x1, want.x1, 1.0);
  EXPECT_NEAR(got.y1, want.y1, 1.0);
  EXPECT_NEAR(got.x2, want.x2, 1.0);
  EXPECT_NEAR(got.y2, want.y2, 1.0);
}

TEST(KalmanBoxFilter, NoisyMeasurementsStillGiveTheVelocity) {
  // Corners jitter by 2 px at 10 fps. The filter is tuned to follow manoeuvres, so a single
  // estimate wanders by a few px/s; its average over the second half is accurate.
  std::mt19937 rng(11);
  std::normal_distribution<double> jitter(0.0, 2.0);
  const double dt = 0.1;
  KalmanBoxFilter f(truth_at(0));
  double mean_vx = 0, mean_vy = 0;
  for (int i = 1; i <= 100; ++i) {
    Box z = truth_at(i * dt);
    z.x1 += jitter(rng);
    z.y1 += jitter(rng);
    z.x2 += jitter(rng);
    z.y2 += jitter(rng);
    f.predict(dt);
    f.update(z);
    EXPECT_NEAR(f.state()[0], (z.x1 + z.x2) / 2, 3.0) << "step " << i;
    if (i > 50) {
      mean_vx += f.state()[4] / 50;
      mean_vy += f.state()[5] / 50;
    }
  }
  EXPECT_NEAR(mean_vx, 30, 1.5);
  EXPECT_NEAR(mean_vy, -20, 1.5);
}

TEST(KalmanBoxFilter, ZeroStepIsHarmless) {
  KalmanBoxFilter f(truth_at(0));
  f.predict(0.1);
  f.update(truth_at(0.1));
  const KalmanBoxFilter::State before = f.state();
  f.predict(0.0);
  f.predict(-0.5);  // time going backwards is treated as no time
  for (int i = 0; i < 8; ++i) EXPECT_EQ(f.state()[i], before[i]);

  // Repeated measurements at one instant (two detector runs on one pts) stay finite and exact.
  for (int i = 0; i < 5; ++i) {
    f.predict(0.0);
    f.update(truth_at(0.1));
  }
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(std::isfinite(f.state()[i]));
  const Box b = f.box();
  const Box want = truth_at(0.1);
  EXPECT_NEAR(b.x1, want.x1, 0.5);
  EXPECT_NEAR(b.y2, want.y2, 0.5);
}

TEST(KalmanBoxFilter, ShrinkingBoxNeverGoesNegative) {
  // Width falls 20 px/s from 40; predicted 10 s ahead it would be -160.
  KalmanBoxFilter f(Box{0, 0, 40, 40});
  for (int i = 1; i <= 10; ++i) {
    const double w = 40 - 20 * (i * 0.1);
    f.predict(0.1);
    f.update(Box{20 - w / 2, 20 - w / 2, 20 + w / 2, 20 + w / 2});
  }
  EXPECT_LT(f.state()[6], -10);  // it did learn the shrinking
  for (int i = 0; i < 100; ++i) {
    f.predict(0.1);
    // The state itself, not only box(), which clamps what it reports.
    ASSERT_GE(f.state()[2], 0) << "step " << i;
    ASSERT_GE(f.state()[3], 0) << "step " << i;
    const Box b = f.box();
    ASSERT_GE(b.width(), 0);
    ASSERT_GE(b.height(), 0);
  }
}

TEST(KalmanBoxFilter, DegenerateBoxStaysFinite) {
  KalmanBoxFilter f(Box{5, 5, 5, 5});
  f.predict(0.1);
  f.update(Box{6, 5, 6, 5});
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(std::isfinite(f.state()[i]));
  EXPECT_GE(f.box().width(), 0);
}

}  // namespace
}  // namespace iris::track
