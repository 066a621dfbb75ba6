// Class-aware IoU matching of tracks to detections, solved optimally (core/assignment.h).
#pragma once

#include <vector>

#include "core/detection.h"
#include "track/tracker.h"

namespace iris::track {

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
