#include "track/assignment.h"

#include <cmath>
#include <optional>

#include "core/assignment.h"

namespace iris::track {
namespace {

// Cost of a pair that may not match (another class, or below the IoU gate): higher than any real
// pair (at most 2), so the solver takes such a pair only where every row must be assigned anyway,
// and collect() then discards it.
constexpr double kForbiddenCost = 1e6;

// 1 - cosine similarity, in [0, 2]; none when either vector is missing, zero, or of another
// length (from another embedding model).
std::optional<double> cosine_distance(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.empty() || a.size() != b.size()) return std::nullopt;
  double dot = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double{a[i]} * b[i];
    aa += double{a[i]} * a[i];
    bb += double{b[i]} * b[i];
  }
  if (aa <= 0 || bb <= 0) return std::nullopt;
  return 1.0 - dot / std::sqrt(aa * bb);
}

// Turns a per-track solver answer into matches; `allowed` says which pairs may stand.
IouMatches collect(const std::vector<int>& assigned, const std::vector<std::vector<char>>& allowed,
                   int num_dets) {
  IouMatches out;
  std::vector<char> det_used(num_dets, 0);
  for (int t = 0; t < static_cast<int>(assigned.size()); ++t) {
    const int d = assigned[t];
    if (d >= 0 && allowed[t][d]) {
      out.pairs.push_back({t, d});
      det_used[d] = 1;
    } else {
      out.unmatched_tracks.push_back(t);
    }
  }
  for (int d = 0; d < num_dets; ++d) {
    if (!det_used[d]) out.unmatched_detections.push_back(d);
  }
  return out;
}

// Pairs of another label, or with IoU below `gate`, are excluded before solving; pairs below `keep`
// compete in the solution and are dropped after it.
IouMatches match(const std::vector<Track>& tracks, const std::vector<Detection>& detections,
                 double gate, double keep, double appearance_weight) {
  const int num_tracks = static_cast<int>(tracks.size());
  const int num_dets = static_cast<int>(detections.size());
  std::vector<std::vector<double>> cost(num_tracks, std::vector<double>(num_dets, kForbiddenCost));
  std::vector<std::vector<char>> allowed(num_tracks, std::vector<char>(num_dets, 0));
  for (int t = 0; t < num_tracks; ++t) {
    for (int d = 0; d < num_dets; ++d) {
      if (tracks[t].label != detections[d].label) continue;
      const double overlap = iou(tracks[t].box, detections[d].box);
      if (overlap < gate) continue;
      allowed[t][d] = overlap >= keep;
      cost[t][d] = 1.0 - overlap;
      if (appearance_weight > 0) {
        const std::optional<double> apart =
            cosine_distance(tracks[t].embedding, detections[d].embedding);
        if (apart) {
          cost[t][d] = (1 - appearance_weight) * (1.0 - overlap) + appearance_weight * *apart;
        }
      }
    }
  }
  return collect(solve_assignment(cost), allowed, num_dets);
}

}  // namespace

IouMatches match_by_iou(const std::vector<Track>& tracks, const std::vector<Detection>& detections,
                        double iou_threshold) {
  return match(tracks, detections, /*gate=*/0, /*keep=*/iou_threshold, /*appearance_weight=*/0);
}

IouMatches match_gated(const std::vector<Track>& tracks, const std::vector<Detection>& detections,
                       double min_iou, double appearance_weight) {
  return match(tracks, detections, /*gate=*/min_iou, /*keep=*/min_iou, appearance_weight);
}

}  // namespace iris::track
