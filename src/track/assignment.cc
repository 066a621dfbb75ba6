#include "track/assignment.h"

#include "core/assignment.h"

namespace iris::track {
namespace {

// Cost of pairing a track with a detection of another class: higher than any real pair (at most
// 1), so the solver pairs across classes only where every row must be assigned anyway, and the
// gate then discards such pairs.
constexpr double kForbiddenCost = 1e6;

}  // namespace

IouMatches match_by_iou(const std::vector<Track>& tracks, const std::vector<Detection>& detections,
                        double iou_threshold) {
  const int num_tracks = static_cast<int>(tracks.size());
  const int num_dets = static_cast<int>(detections.size());
  std::vector<std::vector<double>> overlap(num_tracks, std::vector<double>(num_dets, 0.0));
  std::vector<std::vector<double>> cost(num_tracks, std::vector<double>(num_dets, kForbiddenCost));
  for (int t = 0; t < num_tracks; ++t) {
    for (int d = 0; d < num_dets; ++d) {
      if (tracks[t].label != detections[d].label) continue;
      overlap[t][d] = iou(tracks[t].box, detections[d].box);
      cost[t][d] = 1.0 - overlap[t][d];
    }
  }

  const std::vector<int> assigned = solve_assignment(cost);
  IouMatches out;
  std::vector<char> det_used(num_dets, 0);
  for (int t = 0; t < num_tracks; ++t) {
    const int d = assigned[t];
    if (d >= 0 && tracks[t].label == detections[d].label && overlap[t][d] >= iou_threshold) {
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

}  // namespace iris::track
