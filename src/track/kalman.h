// Constant-velocity Kalman filter over one box, the motion model of the SORT-family trackers.
// State [cx, cy, w, h, vcx, vcy, vw, vh] in source pixels and pixels per second; time steps are
// media seconds, irregular steps (and dt = 0) allowed. Noise scales with the box size, so one
// tuning fits near and far objects.
#pragma once

#include <opencv2/core.hpp>

#include "core/geometry.h"

namespace iris::track {

class KalmanBoxFilter {
 public:
  using State = cv::Vec<double, 8>;

  // Starts at the box with zero velocity (unknown, hence a wide velocity covariance).
  explicit KalmanBoxFilter(const Box& box);

  // Moves the state dt seconds ahead; dt <= 0 leaves it unchanged.
  void predict(double dt);
  // Corrects the state with a measured box at the current time.
  void update(const Box& measured);

  // Current estimate; width and height are never negative.
  Box box() const;
  const State& state() const { return x_; }

 private:
  State x_;
  cv::Matx<double, 8, 8> p_;  // state covariance
};

}  // namespace iris::track
