// Bookkeeping shared by the SORT-family trackers (sort.cc, bytetrack.cc), internal to src/track:
// the live tracks in id order with their Kalman filters, prediction to a media time, applying a
// matched detection, starting tracks, and expiry with one-time reporting in TrackUpdate::removed.
// How detections are associated with tracks is left to each tracker.
#pragma once

#include <concepts>
#include <cstdint>
#include <vector>

#include "core/detection.h"
#include "track/kalman.h"
#include "track/tracker.h"

namespace iris::track {

// One live track and its motion model. A tracker that keeps more per track derives from it and
// inherits the constructor.
struct LiveTrack {
  // A track started at detection d at media time t, matched once.
  LiveTrack(int64_t id, const Detection& d, double t, int min_hits);

  // Predicts the filter to t; the track is unmatched until correct() says otherwise.
  void predict_to(double t);
  // Applies detection d matched at media time t.
  void correct(const Detection& d, double t, int min_hits);
  // The track as association reads it: box and label only, so matching does not copy every live
  // track's classes and embedding. A tracker matching on appearance adds its own.
  Track for_matching() const;

  Track track;
  KalmanBoxFilter filter;
  double time = 0;    // media time the filter's state refers to
  bool dead = false;  // condemned: reported and forgotten at the next collect_removed()
};

template <std::derived_from<LiveTrack> Entry>
class TrackBook {
 public:
  TrackBook(double max_age, int min_hits) : max_age_(max_age), min_hits_(min_hits) {}

  // Ordered by id; a tracker may mark entries dead or change its own fields.
  std::vector<Entry>& live() { return live_; }

  // Predicts every track to t; none is matched until match() says so.
  void advance_to(double t) {
    for (Entry& e : live_) e.predict_to(t);
  }

  void match(Entry& e, const Detection& d, double t) { e.correct(d, t, min_hits_); }

  // Starts a track at d; the reference is valid until live() changes size.
  Entry& start(const Detection& d, double t) {
    return live_.emplace_back(next_id_++, d, t, min_hits_);  // ids only grow: order kept
  }

  // Moves expired (and already condemned) tracks to `removed`; live() keeps its id order.
  void collect_removed(double t, std::vector<Track>* removed) {
    for (Entry& e : live_) {
      if (t - e.track.last_matched > max_age_) e.dead = true;
      if (e.dead) removed->push_back(e.track);
    }
    std::erase_if(live_, [](const Entry& e) { return e.dead; });
  }

  std::vector<Track> snapshot() const {
    std::vector<Track> tracks;
    tracks.reserve(live_.size());
    for (const Entry& e : live_) tracks.push_back(e.track);
    return tracks;
  }

  // Tracker::predict(): tracks move by their motion model and may expire.
  TrackUpdate predict(double t) {
    advance_to(t);
    TrackUpdate out;
    collect_removed(t, &out.removed);
    out.tracks = snapshot();
    return out;
  }

  // Forgets every track and returns them; ids keep increasing.
  std::vector<Track> clear() {
    std::vector<Track> gone = snapshot();
    live_.clear();
    return gone;
  }

 private:
  double max_age_;
  int min_hits_;
  std::vector<Entry> live_;
  int64_t next_id_ = 1;
};

}  // namespace iris::track
