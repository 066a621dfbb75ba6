#include "track/track_book.h"

#include <algorithm>

namespace iris::track {

LiveTrack::LiveTrack(int64_t id, const Detection& d, double t, int min_hits)
    : filter(d.box), time(t) {
  track.id = id;
  track.box = filter.box();
  track.label = d.label;
  track.score = d.score;
  track.classes = d.classes;
  track.embedding = d.embedding;
  track.hits = 1;
  track.confirmed = track.hits >= min_hits;
  track.matched = true;
  track.first_seen = t;
  track.last_matched = t;
}

void LiveTrack::predict_to(double t) {
  // Time may not go backwards; a stale t just leaves the state where it is.
  filter.predict(t - time);
  time = std::max(time, t);
  track.box = filter.box();
  track.matched = false;
}

void LiveTrack::correct(const Detection& d, double t, int min_hits) {
  filter.update(d.box);
  track.box = filter.box();
  track.score = d.score;
  track.classes = d.classes;
  track.embedding = d.embedding;
  ++track.hits;
  track.last_matched = t;
  track.matched = true;
  if (track.hits >= min_hits) track.confirmed = true;
}

Track LiveTrack::for_matching() const {
  Track key;
  key.box = track.box;
  key.label = track.label;
  return key;
}

}  // namespace iris::track
