// Multi-object tracking: turns per-frame detections into tracks with stable ids.
// Trackers are pure and single-threaded (they run on their stream's strand): update() where a
// detector ran, predict() where none did. State is bounded: lost tracks expire after max_age
// seconds of media time and are reported once in TrackUpdate::removed, then forgotten.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/detection.h"
#include "core/geometry.h"
#include "core/status.h"

namespace iris::track {

struct Track {
  int64_t id = 0;           // unique within the tracker, never reused
  Box box;                  // current estimate (Kalman state), source pixels
  std::string label;        // class of the detections it follows
  float score = 0;          // score of the last matched detection
  int hits = 0;             // detections matched so far
  bool confirmed = false;   // hits reached min_hits (rules only act on confirmed tracks)
  bool matched = false;     // a detection was matched in the last update()
  double first_seen = 0;    // media time of the first detection, seconds
  double last_matched = 0;  // media time of the last matched detection, seconds
};

struct TrackUpdate {
  std::vector<Track> tracks;   // live tracks (confirmed and tentative), ordered by id
  std::vector<Track> removed;  // tracks that expired in this step, last state
};

class Tracker {
 public:
  virtual ~Tracker() = default;
  // A detector ran on the frame at media time t (seconds, non-decreasing between calls).
  virtual TrackUpdate update(const std::vector<Detection>& detections, double t) = 0;
  // No detector ran at media time t: tracks move by their motion model.
  virtual TrackUpdate predict(double t) = 0;
  // Forget every track (e.g. after a gap in a live stream); ids keep increasing.
  virtual void reset() = 0;
};

struct SortSpec {
  double max_age = 1.0;        // seconds without a match before a track is removed
  int min_hits = 3;            // matches before a track is confirmed
  double iou_threshold = 0.3;  // minimum IoU for a detection-track pair
};

std::unique_ptr<Tracker> make_sort(const SortSpec& spec);

}  // namespace iris::track
