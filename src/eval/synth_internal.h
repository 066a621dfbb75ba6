// What the parts of the synthetic scene generator (synth_*.cc) share: the seeded random numbers,
// the street's layout, the looks of the classes and the far-to-near order of what a frame shows.
// Internal to src/eval; eval/synth.h is the interface.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <opencv2/core.hpp>
#include <vector>

#include "eval/synth.h"

namespace iris::eval::synth_internal {

// SplitMix64 with our own distributions: the same numbers on every platform and standard library
// (std's distributions are implementation-defined), so a seed names one scene everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return std::min(n - 1, static_cast<int>(uniform() * n)); }
  bool chance(double p) { return uniform() < p; }
  double normal() {  // Box-Muller
    const double u1 = 1.0 - uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  uint64_t state_;
};

// Independent streams of one seed: scene, detections, and sensor noise.
inline Rng stream(uint64_t seed, uint64_t which) { return Rng(seed * 0x100000001B3ull + which); }

// The street every scenario shares, in fractions of the frame: a wall at the top, a road, a kerb,
// and the plaza below it where people walk.
constexpr double kWallEnd = 0.18, kRoadTop = 0.26, kRoadEnd = 0.50, kKerbEnd = 0.52;

// Box sizes at perspective scale 1 in a 480-pixel-high frame.
struct ClassLook {
  double width, height;
  std::vector<cv::Scalar> colours;  // body
  std::vector<cv::Scalar> accents;
};
const ClassLook& look(ObjectClass c);

// One thing drawn on a frame: an object or an occluder.
struct Drawable {
  double base;  // y of the bottom edge: what is lower in the frame is nearer
  int order;    // ties: occluders first, then objects by id
  Box box;
  const SceneObject* object;  // null for an occluder
  const Occluder* occluder;
};

// What a frame shows, far to near: each drawable hides the parts of those before it that it covers.
std::vector<Drawable> drawables_at(const Scene& s, int64_t frame);

// v to the nearest multiple of step, as the text files write numbers.
inline double round_to(double v, double step) { return std::round(v / step) * step; }

// The scene's still background: street, standee and texture.
cv::Mat render_background(const Scene& s);
// One frame of the video: the background with the objects and occluders, lit, with sensor noise.
cv::Mat render_frame(const Scene& s, const cv::Mat& background, int64_t frame);

}  // namespace iris::eval::synth_internal
