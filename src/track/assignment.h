// Optimal assignment for trackers: a rectangular min-cost solver (Hungarian / Kuhn-Munkres) and
// the class-aware IoU matching of tracks to detections built on it.
#pragma once

#include <vector>

#include "core/detection.h"
#include "track/tracker.h"

namespace iris::track {

// Minimum-cost assignment of rows to columns; cost[r][c] must be finite and every row must have
// the same number of columns. Returns, per row, its column or -1. Exactly min(rows, cols) rows
// are assigned, each column at most once. O(min^2 * max) time.
std::vector<int> solve_assignment(const std::vector<std::vector<double>>& cost);

struct IouMatches {
  struct Pair {
    int track = 0;      // index into the tracks given
    int detection = 0;  // index into the detections given
  };
  std::vector<Pair> pairs;                // ordered by track index
  std::vector<int> unmatched_tracks;      // ascending
  std::vector<int> unmatched_detections;  // ascending
};

// Pairs tracks with detections maximising total IoU (cost 1 - IoU, solved optimally, not
// greedily), then drops pairs whose IoU is below iou_threshold. Only equal labels ever pair.
IouMatches match_by_iou(const std::vector<Track>& tracks, const std::vector<Detection>& detections,
                        double iou_threshold);

}  // namespace iris::track
