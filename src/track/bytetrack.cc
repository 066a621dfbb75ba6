// ByteTrack (Zhang et al. 2022, "ByteTrack: Multi-Object Tracking by Associating Every Detection
// Box"): SORT's Kalman filter and optimal IoU assignment, with low-score detections used to extend
// tracks in a second stage. The stages and thresholds are described at ByteTrackSpec.
#include <cmath>

#include "track/assignment.h"
#include "track/track_book.h"
#include "track/tracker.h"

namespace iris::track {
namespace {

// Share of a track's appearance kept at each matched detection: one odd crop (partly occluded,
// blurred) moves the average only a little.
constexpr float kAppearanceMomentum = 0.9f;

void normalize(std::vector<float>* v) {
  double norm = 0;
  for (float x : *v) norm += double{x} * x;
  if (norm <= 0) return;
  const float scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : *v) x *= scale;
}

class ByteTracker final : public Tracker {
 public:
  explicit ByteTracker(const ByteTrackSpec& spec)
      : spec_(spec), book_(spec.max_age, spec.min_hits) {}

  TrackUpdate update(const std::vector<Detection>& detections, double t) override {
    book_.advance_to(t);
    std::vector<Live>& live = book_.live();
    std::vector<int> high, low;
    for (int d = 0; d < static_cast<int>(detections.size()); ++d) {
      if (detections[d].score >= spec_.high_score) {
        high.push_back(d);
      } else if (detections[d].score >= spec_.low_score) {
        low.push_back(d);
      }
    }
    std::vector<int> confirmed, tentative;
    for (int i = 0; i < static_cast<int>(live.size()); ++i) {
      (live[i].track.confirmed ? confirmed : tentative).push_back(i);
    }

    const Leftovers first =
        associate(confirmed, high, detections, spec_.match_iou, spec_.appearance_weight, t);
    std::vector<int> still_tracked;
    for (int i : first.tracks) {
      if (!live[i].lost) still_tracked.push_back(i);
    }
    // Weak boxes are mostly occluded objects whose crops show the occluder: IoU alone.
    associate(still_tracked, low, detections, spec_.low_match_iou, 0, t);
    const Leftovers third = associate(tentative, first.detections, detections,
                                      spec_.unconfirmed_match_iou, spec_.appearance_weight, t);

    for (Live& l : live) {
      if (l.track.matched) continue;
      // A tentative track that misses is most likely a false positive; a confirmed one coasts.
      if (l.track.confirmed) {
        l.lost = true;
      } else {
        l.dead = true;
      }
    }
    TrackUpdate out;
    book_.collect_removed(t, &out.removed);
    for (int d : third.detections) {
      if (detections[d].score < spec_.new_track_score) continue;
      Live& l = book_.start(detections[d], t);
      if (spec_.appearance_weight > 0) blend_appearance(detections[d].embedding, &l.appearance);
    }
    out.tracks = book_.snapshot();
    return out;
  }

  TrackUpdate predict(double t) override { return book_.predict(t); }

  std::vector<Track> reset() override { return book_.clear(); }

 private:
  struct Live : LiveTrack {
    using LiveTrack::LiveTrack;
    std::vector<float> appearance;  // running average of matched embeddings, unit length
    bool lost = false;              // confirmed, and missed the last update()
  };

  // What one association stage left unpaired: indices into book_.live() and into the detections.
  struct Leftovers {
    std::vector<int> tracks;
    std::vector<int> detections;
  };

  // Matches book_.live()[track_ids] with detections[det_ids] and applies the pairs.
  Leftovers associate(const std::vector<int>& track_ids, const std::vector<int>& det_ids,
                      const std::vector<Detection>& detections, double min_iou,
                      double appearance_weight, double t) {
    std::vector<Track> tracks;
    tracks.reserve(track_ids.size());
    for (int i : track_ids) {
      const Live& l = book_.live()[i];
      tracks.push_back(l.for_matching());
      if (appearance_weight > 0) tracks.back().embedding = l.appearance;
    }
    std::vector<Detection> dets;
    dets.reserve(det_ids.size());
    for (int d : det_ids) dets.push_back(detections[d]);

    const IouMatches m = match_gated(tracks, dets, min_iou, appearance_weight);
    for (const IouMatches::Pair& p : m.pairs) {
      apply_match(book_.live()[track_ids[p.track]], dets[p.detection], t);
    }
    Leftovers left;
    for (int i : m.unmatched_tracks) left.tracks.push_back(track_ids[i]);
    for (int d : m.unmatched_detections) left.detections.push_back(det_ids[d]);
    return left;
  }

  void apply_match(Live& l, const Detection& d, double t) {
    book_.match(l, d, t);
    l.lost = false;
    if (spec_.appearance_weight > 0) blend_appearance(d.embedding, &l.appearance);
  }

  static void blend_appearance(const std::vector<float>& seen, std::vector<float>* average) {
    if (seen.empty()) return;
    // A first embedding, or one from another model, starts the average afresh.
    if (average->size() != seen.size()) {
      *average = seen;
    } else {
      for (size_t i = 0; i < seen.size(); ++i) {
        (*average)[i] = kAppearanceMomentum * (*average)[i] + (1 - kAppearanceMomentum) * seen[i];
      }
    }
    normalize(average);
  }

  ByteTrackSpec spec_;
  TrackBook<Live> book_;
};

}  // namespace

std::unique_ptr<Tracker> make_tracker(const ByteTrackSpec& spec) {
  return std::make_unique<ByteTracker>(spec);
}

}  // namespace iris::track
