// Class-aware matching of tracks to detections by IoU (and optionally appearance), solved
// optimally (core/assignment.h).
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

// Pairs tracks with detections minimising total cost among pairs of equal label with IoU >=
// min_iou; other pairs are excluded before solving, so they can never displace an allowed one. A
// pair costs 1 - IoU; with appearance_weight w > 0, where the track and the detection both have
// embeddings of one length, (1 - w) * (1 - IoU) + w * cosine distance. The track's appearance is
// whatever the caller keeps in Track::embedding.
IouMatches match_gated(const std::vector<Track>& tracks, const std::vector<Detection>& detections,
                       double min_iou, double appearance_weight);

}  // namespace iris::track
