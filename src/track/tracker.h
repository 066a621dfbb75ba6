// Multi-object tracking: turns per-frame detections into tracks with stable ids.
// Trackers are pure and single-threaded (they run on their stream's strand): update() where a
// detector ran, predict() where none did. State is bounded: lost tracks expire after max_age
// seconds of media time and are reported once in TrackUpdate::removed, then forgotten.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
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
  // What the secondary models said about the last matched detection; kept through misses.
  std::vector<Classification> classes;
  std::vector<float> embedding;  // appearance vector of the last matched detection, if any
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
  // Forgets every track (after a gap in a live stream, where motion from before says nothing about
  // after) and returns them, for the rules to see them go; ids keep increasing.
  virtual std::vector<Track> reset() = 0;
};

// SORT (Bewley et al. 2016): every detection, whatever its score, may match a track or start one.
struct SortSpec {
  double max_age = 1.0;        // seconds without a match before a track is removed
  int min_hits = 3;            // matches before a track is confirmed
  double iou_threshold = 0.3;  // minimum IoU for a detection-track pair
};

// ByteTrack (Zhang et al. 2022): SORT that also uses low-score detections, which are mostly
// occluded objects, to keep existing tracks alive, but never to start one. Defaults are the
// paper's. Each update() associates in three stages, every pair within one class and above its
// IoU gate, each stage solved optimally:
//   1. detections with score >= high_score  vs  confirmed tracks, matched or lost (missed the
//      last update), gated at match_iou;
//   2. detections with low_score <= score < high_score  vs  confirmed tracks matched in the last
//      update and left over by stage 1, gated at low_match_iou (a lost track has drifted too far
//      to trust a weak box); detections below low_score are ignored;
//   3. tentative tracks  vs  high detections left over, gated at unconfirmed_match_iou.
// A high detection left over starts a track if its score >= new_track_score. A tentative track
// that misses an update is dropped; a confirmed one coasts (lost) until max_age.
struct ByteTrackSpec {
  double high_score = 0.5;             // the paper's track_thresh
  double low_score = 0.1;              // weakest detection that may extend a track
  double new_track_score = 0.6;        // weakest detection that may start a track
  double match_iou = 0.2;              // stage 1 minimum IoU (the paper's cost gate 0.8)
  double low_match_iou = 0.5;          // stage 2 minimum IoU (cost gate 0.5)
  double unconfirmed_match_iou = 0.3;  // stage 3 minimum IoU (cost gate 0.7)
  double max_age = 1.0;                // seconds without a match before a track is removed
  // Matches before a track is confirmed. 2 is the paper's: a track is activated by its second
  // consecutive detection (the paper also activates tracks of the very first frame at once,
  // which iris does not: a stream's first frame is not more trustworthy than the others).
  int min_hits = 2;
  // Weight w of the appearance cue in stages 1 and 3; 0 turns it off. Where a detection and a
  // track both have embeddings, a pair costs (1 - w) * (1 - IoU) + w * cosine distance between
  // the detection's embedding and the track's running average; the IoU gate still applies, so
  // appearance never links boxes that do not overlap.
  double appearance_weight = 0;
};

using TrackerSpec = std::variant<SortSpec, ByteTrackSpec>;

// The tracker a spec describes; every call starts a tracker with no tracks and ids from 1.
std::unique_ptr<Tracker> make_tracker(const TrackerSpec& spec);
std::unique_ptr<Tracker> make_tracker(const SortSpec& spec);
std::unique_ptr<Tracker> make_tracker(const ByteTrackSpec& spec);

}  // namespace iris::track
