// SORT (Bewley et al. 2016): Kalman-predicted boxes matched to detections by IoU with an optimal
// assignment, class-aware, with media-time expiry.
#include <algorithm>
#include <utility>

#include "track/assignment.h"
#include "track/kalman.h"
#include "track/tracker.h"

namespace iris::track {
namespace {

class SortTracker final : public Tracker {
 public:
  explicit SortTracker(const SortSpec& spec) : spec_(spec) {}

  TrackUpdate update(const std::vector<Detection>& detections, double t) override {
    advance_to(t);
    std::vector<Track> current;
    current.reserve(live_.size());
    for (const Live& l : live_) current.push_back(l.track);
    const IouMatches m = match_by_iou(current, detections, spec_.iou_threshold);

    for (const IouMatches::Pair& p : m.pairs) {
      Live& l = live_[p.track];
      const Detection& d = detections[p.detection];
      l.filter.update(d.box);
      l.track.box = l.filter.box();
      l.track.score = d.score;
      ++l.track.hits;
      l.track.last_matched = t;
      l.track.matched = true;
      if (l.track.hits >= spec_.min_hits) l.track.confirmed = true;
    }

    TrackUpdate out;
    // A tentative track that misses a detector run is most likely a false positive: drop it now
    // rather than let flicker accumulate until max_age.
    for (int i : m.unmatched_tracks) {
      if (!live_[i].track.confirmed) live_[i].dead = true;
    }
    collect_removed(t, &out.removed);

    for (int d : m.unmatched_detections) start_track(detections[d], t);
    out.tracks = snapshot();
    return out;
  }

  TrackUpdate predict(double t) override {
    advance_to(t);
    TrackUpdate out;
    collect_removed(t, &out.removed);
    out.tracks = snapshot();
    return out;
  }

  void reset() override { live_.clear(); }

 private:
  struct Live {
    Track track;
    KalmanBoxFilter filter;
    double time = 0;  // media time the filter's state refers to
    bool dead = false;
  };

  // Predicts every track to t; none is matched until update() says so.
  void advance_to(double t) {
    for (Live& l : live_) {
      // Time may not go backwards; a stale t just leaves the state where it is.
      l.filter.predict(t - l.time);
      l.time = std::max(l.time, t);
      l.track.box = l.filter.box();
      l.track.matched = false;
    }
  }

  // Moves expired (and already condemned) tracks to `removed`; live_ keeps its id order.
  void collect_removed(double t, std::vector<Track>* removed) {
    for (Live& l : live_) {
      if (t - l.track.last_matched > spec_.max_age) l.dead = true;
      if (l.dead) removed->push_back(l.track);
    }
    std::erase_if(live_, [](const Live& l) { return l.dead; });
  }

  void start_track(const Detection& d, double t) {
    Live l{.track = {}, .filter = KalmanBoxFilter(d.box), .time = t};
    l.track.id = next_id_++;
    l.track.box = l.filter.box();
    l.track.label = d.label;
    l.track.score = d.score;
    l.track.hits = 1;
    l.track.confirmed = l.track.hits >= spec_.min_hits;
    l.track.matched = true;
    l.track.first_seen = t;
    l.track.last_matched = t;
    live_.push_back(std::move(l));  // ids only grow, so live_ stays ordered by id
  }

  std::vector<Track> snapshot() const {
    std::vector<Track> tracks;
    tracks.reserve(live_.size());
    for (const Live& l : live_) tracks.push_back(l.track);
    return tracks;
  }

  SortSpec spec_;
  std::vector<Live> live_;
  int64_t next_id_ = 1;
};

}  // namespace

std::unique_ptr<Tracker> make_sort(const SortSpec& spec) {
  return std::make_unique<SortTracker>(spec);
}

}  // namespace iris::track
