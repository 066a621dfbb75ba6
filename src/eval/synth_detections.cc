// Noisy detections: what a detector would report on the scene, with jitter, missed runs and false
// positives.
#include <algorithm>
#include <map>

#include "eval/synth_internal.h"

namespace iris::eval {
namespace {

using synth_internal::kRoadTop;
using synth_internal::look;
using synth_internal::Rng;
using synth_internal::round_to;
using synth_internal::stream;

}  // namespace

std::vector<std::vector<SynthDetection>> noisy_detections(
    const Scene& scene, const SynthOptions& options, const std::vector<std::vector<GtBox>>& truth) {
  Rng rng = stream(options.seed, 2);
  std::vector<std::vector<SynthDetection>> out(truth.size());
  const double w = scene.width, h = scene.height;
  auto jitter = [&](const Box& b) {
    Box j{b.x1 + rng.normal() * options.jitter, b.y1 + rng.normal() * options.jitter,
          b.x2 + rng.normal() * options.jitter, b.y2 + rng.normal() * options.jitter};
    j = clip(j, w, h);
    // Noise never turns a box inside out nor out of the frame.
    j.x1 = std::min(j.x1, w - 2);
    j.y1 = std::min(j.y1, h - 2);
    j.x2 = std::max(j.x2, j.x1 + 2);
    j.y2 = std::max(j.y2, j.y1 + 2);
    return j;
  };
  auto score = [&](double base) {
    return static_cast<float>(
        std::clamp(round_to(base + rng.normal() * options.score_noise, 0.001), 0.01, 0.99));
  };

  // Misses come in runs, as when a detector loses an object for a few frames: a two-state chain
  // whose share of time in the miss state is miss_rate.
  const double r = options.miss_rate;
  const double end_run = r > 0 ? std::min(0.5, (1 - r) / r) : 1.0;
  const double start_run = r > 0 ? std::min(1.0, r * end_run / (1 - r)) : 0.0;
  std::map<int, bool> missing;
  int64_t detectable = 0;
  for (size_t f = 0; f < truth.size(); ++f) {
    for (const GtBox& g : truth[f]) {
      if (g.visibility < kDetectableVisibility) continue;
      ++detectable;
      const auto [it, first] = missing.try_emplace(g.object_id, false);
      bool& miss = it->second;
      if (first) {
        miss = rng.chance(r);
      } else if (miss) {
        miss = !rng.chance(end_run);
      } else {
        miss = rng.chance(start_run);
      }
      if (miss) continue;
      out[f].push_back(
          {jitter(g.box), score(0.5 + 0.3 * g.visibility), g.cls, DetectionKind::kTrue});
    }
  }

  // False positives: fp_rate per detectable object. Half go to the standee, seen on consecutive
  // frames like a real static false alarm; the rest are flicker, blips of 1-3 frames anywhere.
  const auto frames = static_cast<int64_t>(truth.size());
  int64_t budget = std::llround(options.fp_rate * static_cast<double>(detectable));
  const int64_t standee = std::min(frames, budget / 2);
  const int64_t first = rng.below(static_cast<int>(frames - standee + 1));
  for (int64_t f = first; f < first + standee; ++f) {
    out[f].push_back(
        {jitter(scene.standee), score(0.75), ObjectClass::kPerson, DetectionKind::kStandee});
  }
  budget -= standee;
  while (budget > 0) {
    const int64_t len = std::min<int64_t>(budget, 1 + rng.below(3));
    const int64_t start = rng.below(static_cast<int>(std::max<int64_t>(1, frames - len + 1)));
    const ObjectClass cls = kObjectClasses[rng.below(3)];
    const Point feet{rng.uniform(0.05, 0.95) * w, rng.uniform(kRoadTop + 0.05, 1.0) * h};
    const double s = scene.scale_at(feet.y) * h / 480.0;
    const Box box{feet.x - look(cls).width * s / 2, feet.y - look(cls).height * s,
                  feet.x + look(cls).width * s / 2, feet.y};
    const double base = rng.uniform(0.3, 0.6);
    for (int64_t f = start; f < std::min(frames, start + len); ++f) {
      out[f].push_back({jitter(box), score(base), cls, DetectionKind::kFlicker});
    }
    budget -= len;
  }
  return out;
}

}  // namespace iris::eval
