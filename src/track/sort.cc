// SORT (Bewley et al. 2016): Kalman-predicted boxes matched to detections by IoU with an optimal
// assignment, class-aware, with media-time expiry.
#include "track/assignment.h"
#include "track/track_book.h"
#include "track/tracker.h"

namespace iris::track {
namespace {

class SortTracker final : public Tracker {
 public:
  explicit SortTracker(const SortSpec& spec) : spec_(spec), book_(spec.max_age, spec.min_hits) {}

  TrackUpdate update(const std::vector<Detection>& detections, double t) override {
    book_.advance_to(t);
    std::vector<LiveTrack>& live = book_.live();
    std::vector<Track> tracks;
    tracks.reserve(live.size());
    for (const LiveTrack& l : live) tracks.push_back(l.for_matching());
    const IouMatches m = match_by_iou(tracks, detections, spec_.iou_threshold);
    for (const IouMatches::Pair& p : m.pairs) {
      book_.match(live[p.track], detections[p.detection], t);
    }

    TrackUpdate out;
    // A tentative track that misses a detector run is most likely a false positive: drop it now
    // rather than let flicker accumulate until max_age.
    for (int i : m.unmatched_tracks) {
      if (!live[i].track.confirmed) live[i].dead = true;
    }
    book_.collect_removed(t, &out.removed);

    for (int d : m.unmatched_detections) book_.start(detections[d], t);
    out.tracks = book_.snapshot();
    return out;
  }

  TrackUpdate predict(double t) override { return book_.predict(t); }

  std::vector<Track> reset() override { return book_.clear(); }

 private:
  SortSpec spec_;
  TrackBook<LiveTrack> book_;
};

}  // namespace

std::unique_ptr<Tracker> make_tracker(const SortSpec& spec) {
  return std::make_unique<SortTracker>(spec);
}

}  // namespace iris::track
