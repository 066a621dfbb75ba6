#include "track/kalman.h"

#include <algorithm>

namespace iris::track {
namespace {

// Standard deviations as fractions of the box side, in the manner of SORT/DeepSORT/ByteTrack.
// Detector jitter in a measured box.
constexpr double kMeasurementStd = 1.0 / 20;
// White-noise acceleration density (per s^1.5): velocity may drift by about one box side per
// second, which at 30 fps is ByteTrack's per-frame velocity noise of 1/160 of the box.
constexpr double kAccelerationStd = 1.0;
// Sizes change far more slowly than positions (an approaching person grows ~10% a second);
// with position-like noise, detector jitter in box size turns into growth that explodes a
// predicted box within a few missed frames.
constexpr double kSizeAccelerationStd = 0.1;
// Velocity uncertainty of a new track: anything up to a couple of box sides per second.
constexpr double kInitialVelocityStd = 2.0;
constexpr double kInitialSizeVelocityStd = 0.2;
constexpr double kInitialPositionStd = 2 * kMeasurementStd;
// Floor on any standard deviation, in pixels: keeps covariances invertible for tiny boxes.
constexpr double kMinStdPixels = 1.0;

using Mat8 = cv::Matx<double, 8, 8>;
using Mat4 = cv::Matx<double, 4, 4>;
using Mat48 = cv::Matx<double, 4, 8>;

double std_for(double side, double fraction) {
  return std::max(fraction * std::max(side, 0.0), kMinStdPixels);
}

// The side whose scale sets the noise of state component i (x-axis by width, y-axis by height).
double side_of(const KalmanBoxFilter::State& x, int i) { return i % 2 == 0 ? x[2] : x[3]; }

cv::Vec4d measurement_of(const Box& b) {
  const Point c = b.center();
  return {c.x, c.y, std::max(b.width(), 0.0), std::max(b.height(), 0.0)};
}

Mat48 observation() {
  Mat48 h;
  for (int i = 0; i < 4; ++i) h(i, i) = 1;
  return h;
}

}  // namespace

KalmanBoxFilter::KalmanBoxFilter(const Box& box) {
  const cv::Vec4d z = measurement_of(box);
  for (int i = 0; i < 4; ++i) x_[i] = z[i];
  for (int i = 0; i < 4; ++i) {
    const double pos = std_for(side_of(x_, i), kInitialPositionStd);
    const double vel =
        std_for(side_of(x_, i), i < 2 ? kInitialVelocityStd : kInitialSizeVelocityStd);
    p_(i, i) = pos * pos;
    p_(i + 4, i + 4) = vel * vel;
  }
}

void KalmanBoxFilter::predict(double dt) {
  if (!(dt > 0)) return;
  // A shrinking box stops shrinking instead of turning inside out.
  for (int i = 2; i < 4; ++i) {
    if (x_[i] + x_[i + 4] * dt < 0) x_[i + 4] = 0;
  }
  Mat8 f = Mat8::eye();
  for (int i = 0; i < 4; ++i) f(i, i + 4) = dt;
  // Continuous white-noise acceleration, integrated over dt, per axis.
  Mat8 q;
  for (int i = 0; i < 4; ++i) {
    const double a = std_for(side_of(x_, i), i < 2 ? kAccelerationStd : kSizeAccelerationStd);
    const double qa = a * a;
    q(i, i) = qa * dt * dt * dt / 3;
    q(i, i + 4) = q(i + 4, i) = qa * dt * dt / 2;
    q(i + 4, i + 4) = qa * dt;
  }
  x_ = f * x_;
  p_ = f * p_ * f.t() + q;
}

void KalmanBoxFilter::update(const Box& measured) {
  const cv::Vec4d z = measurement_of(measured);
  const Mat48 h = observation();
  Mat4 r;
  for (int i = 0; i < 4; ++i) {
    const double s = std_for(side_of(x_, i), kMeasurementStd);
    r(i, i) = s * s;
  }
  const Mat4 s = h * p_ * h.t() + r;
  const cv::Matx<double, 8, 4> k = p_ * h.t() * s.inv(cv::DECOMP_CHOLESKY);
  x_ += k * (z - h * x_);
  // Joseph form: stays symmetric positive definite under rounding.
  const Mat8 a = Mat8::eye() - k * h;
  p_ = a * p_ * a.t() + k * r * k.t();
}

Box KalmanBoxFilter::box() const {
  const double w = std::max(x_[2], 0.0);
  const double h = std::max(x_[3], 0.0);
  return {x_[0] - w / 2, x_[1] - h / 2, x_[0] + w / 2, x_[1] + h / 2};
}

}  // namespace iris::track
