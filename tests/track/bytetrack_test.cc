#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "track/tracker.h"
#include "tracks.h"

namespace iris::track {
namespace {

using testing::centered;
using testing::find_id;

Detection det(const Box& box, float score = 0.9f, const std::string& label = "person") {
  Detection d;
  d.box = box;
  d.label = label;
  d.score = score;
  return d;
}

// The track whose box overlaps `box` most, or null when none overlaps it.
const Track* find_at(const std::vector<Track>& tracks, const Box& box) {
  const Track* best = nullptr;
  double best_iou = 0;
  for (const Track& t : tracks) {
    if (iou(t.box, box) > best_iou) {
      best_iou = iou(t.box, box);
      best = &t;
    }
  }
  return best;
}

TEST(ByteTrack, SecondStrongDetectionConfirmsByDefault) {
  auto tracker = make_tracker(ByteTrackSpec{});
  const Box b = centered(200, 200, 50, 100);
  const TrackUpdate first = tracker->update({det(b)}, 0.0);
  ASSERT_EQ(first.tracks.size(), 1u);
  EXPECT_EQ(first.tracks[0].id, 1);
  EXPECT_FALSE(first.tracks[0].confirmed);
  EXPECT_TRUE(first.tracks[0].matched);
  const TrackUpdate second = tracker->update({det(b)}, 0.1);
  ASSERT_EQ(second.tracks.size(), 1u);
  EXPECT_TRUE(second.tracks[0].confirmed);
  EXPECT_EQ(second.tracks[0].hits, 2);
}

TEST(ByteTrack, WeakDetectionsCarryATrackThroughOcclusionWhereSortCannot) {
  // 40x80 object at 100 px/s, 10 fps. From 1.0 s to 2.4 s (longer than max_age) it is partly
  // occluded and the detector scores it 0.3. A shadow elsewhere scores 0.2 on every frame.
  const double max_age = 1.0;
  auto truth = [](int frame) { return centered(100 + 10.0 * frame, 300, 40, 80); };
  const Box shadow = centered(800, 500, 60, 60);
  auto detections = [&](int frame) {
    const bool occluded = frame >= 10 && frame < 25;
    return std::vector{det(truth(frame), occluded ? 0.3f : 0.9f), det(shadow, 0.2f)};
  };
  auto strong_only = [](std::vector<Detection> dets) {
    std::erase_if(dets, [](const Detection& d) { return d.score < 0.5f; });
    return dets;
  };

  auto bytetrack = make_tracker(ByteTrackSpec{.max_age = max_age});
  // SORT has no notion of score: fed everything it tracks the shadow; fed only strong boxes (as
  // it is deployed) it loses the occluded object.
  auto sort_all = make_tracker(SortSpec{.max_age = max_age, .min_hits = 2});
  auto sort_strong = make_tracker(SortSpec{.max_age = max_age, .min_hits = 2});
  std::set<int64_t> sort_strong_ids;
  bool sort_strong_removed = false, sort_all_tracked_shadow = false;
  for (int frame = 0; frame < 35; ++frame) {
    const double t = frame * 0.1;
    const TrackUpdate u = bytetrack->update(detections(frame), t);
    ASSERT_EQ(u.tracks.size(), 1u) << "frame " << frame;
    EXPECT_EQ(u.tracks[0].id, 1) << "frame " << frame;
    EXPECT_TRUE(u.tracks[0].matched) << "frame " << frame;
    EXPECT_EQ(u.tracks[0].confirmed, frame >= 1) << "frame " << frame;
    EXPECT_GT(iou(u.tracks[0].box, truth(frame)), 0.8) << "frame " << frame;
    EXPECT_TRUE(u.removed.empty()) << "frame " << frame;

    const TrackUpdate all = sort_all->update(detections(frame), t);
    const Track* ghost = find_at(all.tracks, shadow);
    if (ghost != nullptr && ghost->confirmed) sort_all_tracked_shadow = true;

    const TrackUpdate strong = sort_strong->update(strong_only(detections(frame)), t);
    if (!strong.removed.empty()) sort_strong_removed = true;
    for (const Track& tr : strong.tracks) sort_strong_ids.insert(tr.id);
  }
  EXPECT_TRUE(sort_all_tracked_shadow);
  EXPECT_TRUE(sort_strong_removed);
  EXPECT_EQ(sort_strong_ids, (std::set<int64_t>{1, 2}));
}

TEST(ByteTrack, WeakDetectionsNeverStartTracks) {
  auto tracker = make_tracker(ByteTrackSpec{});
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> x(0, 1000);
  std::uniform_real_distribution<float> weak(0.0f, 0.4999f);
  const Box steady = centered(500, 500, 50, 100);
  for (int frame = 0; frame < 200; ++frame) {
    std::vector<Detection> dets = {det(steady, weak(rng))};
    for (int i = 0; i < 5; ++i) dets.push_back(det(centered(x(rng), x(rng), 40, 40), weak(rng)));
    const TrackUpdate u = tracker->update(dets, frame * 0.04);
    ASSERT_TRUE(u.tracks.empty()) << "frame " << frame;
  }
}

TEST(ByteTrack, BirthNeedsNewTrackScoreButMatchingOnlyHighScore) {
  auto tracker = make_tracker(ByteTrackSpec{.high_score = 0.5, .new_track_score = 0.6});
  const Box b = centered(100, 100, 40, 80);
  // Strong (>= high_score) but below new_track_score: matches nothing, starts nothing.
  EXPECT_TRUE(tracker->update({det(b, 0.59f)}, 0.0).tracks.empty());
  EXPECT_TRUE(tracker->update({det(b, 0.5f)}, 0.1).tracks.empty());
  const TrackUpdate born = tracker->update({det(b, 0.6f)}, 0.2);
  ASSERT_EQ(born.tracks.size(), 1u);
  EXPECT_EQ(born.tracks[0].id, 1);
  // The same 0.55 detection that could not start a track extends and confirms one.
  const TrackUpdate extended = tracker->update({det(b, 0.55f)}, 0.3);
  ASSERT_EQ(extended.tracks.size(), 1u);
  EXPECT_TRUE(extended.tracks[0].matched);
  EXPECT_TRUE(extended.tracks[0].confirmed);
  EXPECT_FLOAT_EQ(extended.tracks[0].score, 0.55f);
}

TEST(ByteTrack, TentativeTrackNeedsAStrongDetection) {
  // A weak box does not extend an unconfirmed track: the track is dropped as a likely false
  // positive.
  auto tracker = make_tracker(ByteTrackSpec{});
  const Box b = centered(100, 100, 40, 80);
  tracker->update({det(b)}, 0.0);
  const TrackUpdate u = tracker->update({det(b, 0.3f)}, 0.1);
  EXPECT_TRUE(u.tracks.empty());
  ASSERT_EQ(u.removed.size(), 1u);
  EXPECT_EQ(u.removed[0].id, 1);
  EXPECT_FALSE(u.removed[0].confirmed);
}

TEST(ByteTrack, LostTrackIsRecoveredOnlyByAStrongDetection) {
  auto tracker = make_tracker(ByteTrackSpec{});
  const Box b = centered(100, 100, 40, 80);
  tracker->update({det(b)}, 0.0);
  tracker->update({det(b)}, 0.1);
  EXPECT_FALSE(tracker->update({}, 0.2).tracks.at(0).matched);  // now lost
  const TrackUpdate weak = tracker->update({det(b, 0.3f)}, 0.3);
  ASSERT_EQ(weak.tracks.size(), 1u);
  EXPECT_FALSE(weak.tracks[0].matched);
  EXPECT_EQ(weak.tracks[0].hits, 2);
  const TrackUpdate strong = tracker->update({det(b, 0.8f)}, 0.4);
  ASSERT_EQ(strong.tracks.size(), 1u);
  EXPECT_EQ(strong.tracks[0].id, 1);
  EXPECT_TRUE(strong.tracks[0].matched);
  EXPECT_EQ(strong.tracks[0].hits, 3);
  // Tracked again, so weak boxes extend it once more.
  EXPECT_TRUE(tracker->update({det(b, 0.3f)}, 0.5).tracks.at(0).matched);
}

TEST(ByteTrack, IdentityKeptThroughAGapShorterThanMaxAge) {
  // Steps of 1/8 s are exact in binary, so gap lengths are exact too.
  auto tracker = make_tracker(ByteTrackSpec{.max_age = 1.0});
  auto truth = [](int step) { return centered(100 + 10.0 * step, 300, 40, 80); };
  for (int step = 0; step < 40; ++step) {
    // No detections for 7 steps: the last miss comes 0.875 s after the last match.
    const bool gap = step >= 10 && step < 17;
    const TrackUpdate u =
        tracker->update(gap ? std::vector<Detection>{} : std::vector{det(truth(step))}, step / 8.0);
    ASSERT_EQ(u.tracks.size(), 1u) << "step " << step;
    EXPECT_EQ(u.tracks[0].id, 1) << "step " << step;
    EXPECT_EQ(u.tracks[0].matched, !gap) << "step " << step;
    EXPECT_TRUE(u.removed.empty()) << "step " << step;
  }
}

TEST(ByteTrack, NewIdAfterAGapLongerThanMaxAge) {
  auto tracker = make_tracker(ByteTrackSpec{.max_age = 1.0});
  const Box b = centered(300, 300, 60, 120);
  tracker->update({det(b)}, 0.0);
  tracker->update({det(b)}, 0.125);
  int reports = 0;
  for (int step = 2; step <= 12; ++step) {
    const TrackUpdate u = tracker->update({}, step / 8.0);
    for (const Track& r : u.removed) {
      EXPECT_EQ(r.id, 1);
      EXPECT_EQ(step, 10) << "removed too early or too late";
      ++reports;
    }
  }
  EXPECT_EQ(reports, 1);
  const TrackUpdate again = tracker->update({det(b)}, 13 / 8.0);
  ASSERT_EQ(again.tracks.size(), 1u);
  EXPECT_EQ(again.tracks[0].id, 2);
  EXPECT_TRUE(again.removed.empty());
}

TEST(ByteTrack, ExpiryIsReportedExactlyOnceAndAppliesInPredict) {
  auto tracker = make_tracker(ByteTrackSpec{.max_age = 0.5, .min_hits = 1});
  tracker->update({det(centered(10, 10, 10, 10))}, 1.0);
  const TrackUpdate coasting = tracker->predict(1.5);
  ASSERT_EQ(coasting.tracks.size(), 1u);
  EXPECT_TRUE(coasting.removed.empty());
  const TrackUpdate gone = tracker->predict(1.75);
  EXPECT_TRUE(gone.tracks.empty());
  ASSERT_EQ(gone.removed.size(), 1u);
  EXPECT_EQ(gone.removed[0].id, 1);
  EXPECT_DOUBLE_EQ(gone.removed[0].last_matched, 1.0);
  EXPECT_TRUE(tracker->predict(3.0).removed.empty());
  EXPECT_TRUE(tracker->update({}, 3.5).removed.empty());
}

TEST(ByteTrack, PredictMovesTracksWithoutCountingAMiss) {
  auto tracker = make_tracker(ByteTrackSpec{.min_hits = 3});
  auto truth = [](int frame) { return centered(100 + 10.0 * frame, 300, 40, 80); };
  tracker->update({det(truth(0))}, 0.0);
  tracker->update({det(truth(1))}, 0.1);
  // Tentative, yet predict() is not a miss: no detector ran.
  const TrackUpdate p = tracker->predict(0.2);
  ASSERT_EQ(p.tracks.size(), 1u);
  EXPECT_FALSE(p.tracks[0].matched);
  EXPECT_GT(p.tracks[0].box.center().x, truth(1).center().x);
  const TrackUpdate u = tracker->update({det(truth(3))}, 0.3);
  ASSERT_EQ(u.tracks.size(), 1u);
  EXPECT_EQ(u.tracks[0].id, 1);
  EXPECT_TRUE(u.tracks[0].confirmed);
}

TEST(ByteTrack, ResetForgetsTracksButNeverReusesIds) {
  auto tracker = make_tracker(ByteTrackSpec{});
  tracker->update({det(centered(100, 100, 50, 50)), det(centered(300, 100, 50, 50))}, 0.0);
  const std::vector<Track> gone = tracker->reset();
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_EQ(gone[0].id, 1);
  EXPECT_EQ(gone[1].id, 2);
  const TrackUpdate after = tracker->predict(0.1);
  EXPECT_TRUE(after.tracks.empty());
  EXPECT_TRUE(after.removed.empty());
  const TrackUpdate u = tracker->update({det(centered(100, 100, 50, 50))}, 0.2);
  ASSERT_EQ(u.tracks.size(), 1u);
  EXPECT_EQ(u.tracks[0].id, 3);
}

TEST(ByteTrack, DifferentLabelsNeverMatchInEitherStage) {
  auto tracker = make_tracker(ByteTrackSpec{});
  const Box b = centered(100, 100, 50, 50);
  tracker->update({det(b, 0.9f, "person")}, 0.0);
  tracker->update({det(b, 0.9f, "person")}, 0.1);
  // Stage 1: a strong car box on the person does not extend it but starts a car track.
  const TrackUpdate car = tracker->update({det(b, 0.9f, "car")}, 0.2);
  ASSERT_EQ(car.tracks.size(), 2u);
  EXPECT_EQ(car.tracks[0].label, "person");
  EXPECT_FALSE(car.tracks[0].matched);
  EXPECT_EQ(car.tracks[1].id, 2);
  EXPECT_EQ(car.tracks[1].label, "car");
  // Stage 2: a weak car box does not extend the person (tracked again) and starts nothing; the
  // tentative car track died at its first miss.
  tracker->update({det(b, 0.9f, "person")}, 0.3);
  const TrackUpdate weak = tracker->update({det(b, 0.3f, "car")}, 0.4);
  ASSERT_EQ(weak.tracks.size(), 1u);
  EXPECT_EQ(weak.tracks[0].label, "person");
  EXPECT_FALSE(weak.tracks[0].matched);
  // Both present: each follows its own class, the weak person box included.
  const TrackUpdate both = tracker->update({det(b, 0.9f, "car"), det(b, 0.3f, "person")}, 0.5);
  ASSERT_EQ(both.tracks.size(), 2u);
  EXPECT_EQ(both.tracks[0].label, "person");
  EXPECT_FALSE(both.tracks[0].matched);  // lost after the miss at 0.4: weak boxes cannot recover it
  EXPECT_EQ(both.tracks[1].label, "car");
  EXPECT_EQ(both.tracks[1].id, 3);
}

// Two people of the same size walk toward each other, nearly meet and turn back. The motion model
// predicts them passing, so at the turn each predicted box overlaps the other person more: IoU
// alone swaps their ids, appearance keeps them.
struct Bounce {
  static Box a(int frame) {
    const int k = std::min(frame, 20 - frame);  // turns at frame 10
    return centered(100 + 10.0 * k, 200, 40, 80);
  }
  static Box b(int frame) {
    const int k = std::min(frame, 20 - frame);
    return centered(310 - 10.0 * k, 200, 40, 80);
  }
  // Id of the track following A and of the one following B at the end.
  static std::pair<int64_t, int64_t> run(double appearance_weight) {
    auto tracker = make_tracker(ByteTrackSpec{.appearance_weight = appearance_weight});
    const std::vector<float> look_a = {0.9f, 0.1f, 0.3f, 0.3f};
    const std::vector<float> look_b = {0.1f, 0.9f, 0.3f, 0.3f};
    TrackUpdate u;
    for (int frame = 0; frame <= 20; ++frame) {
      Detection da = det(a(frame)), db = det(b(frame));
      da.embedding = look_a;
      db.embedding = look_b;
      // Alternate the order so detection index cannot carry identity.
      u = tracker->update(frame % 2 == 0 ? std::vector{da, db} : std::vector{db, da}, frame * 0.1);
      EXPECT_EQ(u.tracks.size(), 2u) << "frame " << frame;
      EXPECT_TRUE(u.removed.empty()) << "frame " << frame;
    }
    const Track* on_a = find_at(u.tracks, a(20));
    const Track* on_b = find_at(u.tracks, b(20));
    if (on_a == nullptr || on_b == nullptr) return {0, 0};
    return {on_a->id, on_b->id};
  }
};

TEST(ByteTrack, IouAloneSwapsIdsAtABounce) {
  EXPECT_EQ(Bounce::run(0), (std::pair<int64_t, int64_t>{2, 1}));
}

TEST(ByteTrack, AppearanceKeepsIdsAtABounce) {
  EXPECT_EQ(Bounce::run(0.5), (std::pair<int64_t, int64_t>{1, 2}));
}

TEST(ByteTrack, AppearanceNeverLinksBoxesThatDoNotOverlap) {
  // A perfect appearance match far away does not beat the IoU gate.
  auto tracker = make_tracker(ByteTrackSpec{.appearance_weight = 1.0});
  const std::vector<float> look = {0.6f, 0.8f};
  Detection near = det(centered(100, 100, 40, 80)), far = det(centered(400, 100, 40, 80));
  near.embedding = look;
  far.embedding = look;
  tracker->update({near}, 0.0);
  tracker->update({near}, 0.1);
  const TrackUpdate u = tracker->update({far}, 0.2);
  ASSERT_EQ(u.tracks.size(), 2u);
  EXPECT_EQ(u.tracks[0].id, 1);
  EXPECT_FALSE(u.tracks[0].matched);
  EXPECT_EQ(u.tracks[1].id, 2);
}

// Both trackers: a track carries the classifications and embedding of its last matched detection,
// and keeps them through misses.
void expect_carries_detection_extras(Tracker* tracker) {
  const Box b = centered(100, 100, 40, 80);
  Detection first = det(b);
  first.classes = {{.model = "color", .label = "red", .score = 0.8f}};
  first.embedding = {0.6f, 0.8f};
  const TrackUpdate u1 = tracker->update({first}, 0.0);
  ASSERT_EQ(u1.tracks.size(), 1u);
  ASSERT_EQ(u1.tracks[0].classes.size(), 1u);
  EXPECT_EQ(u1.tracks[0].classes[0].model, "color");
  EXPECT_EQ(u1.tracks[0].classes[0].label, "red");
  EXPECT_FLOAT_EQ(u1.tracks[0].classes[0].score, 0.8f);
  EXPECT_EQ(u1.tracks[0].embedding, first.embedding);

  Detection second = det(b);
  second.classes = {{.model = "color", .label = "blue", .score = 0.7f},
                    {.model = "color", .label = "red", .score = 0.2f}};
  second.embedding = {0.8f, 0.6f};
  const TrackUpdate u2 = tracker->update({second}, 0.1);
  ASSERT_EQ(u2.tracks.size(), 1u);
  ASSERT_EQ(u2.tracks[0].classes.size(), 2u);
  EXPECT_EQ(u2.tracks[0].classes[0].label, "blue");
  EXPECT_EQ(u2.tracks[0].embedding, second.embedding);

  const TrackUpdate missed = tracker->update({}, 0.2);
  ASSERT_EQ(missed.tracks.size(), 1u);
  EXPECT_FALSE(missed.tracks[0].matched);
  EXPECT_EQ(missed.tracks[0].classes[0].label, "blue");
  EXPECT_EQ(missed.tracks[0].embedding, second.embedding);
}

TEST(ByteTrack, TrackCarriesClassesAndEmbedding) {
  auto tracker = make_tracker(ByteTrackSpec{.min_hits = 1, .appearance_weight = 0.3});
  expect_carries_detection_extras(tracker.get());
}

TEST(Sort, TrackCarriesClassesAndEmbedding) {
  auto tracker = make_tracker(SortSpec{.min_hits = 1});
  expect_carries_detection_extras(tracker.get());
}

TEST(ByteTrack, MakeTrackerPicksTheSpecsTracker) {
  // The same input that ByteTrack ignores (a weak box) starts a SORT track.
  const std::vector<Detection> weak = {det(centered(100, 100, 40, 80), 0.3f)};
  EXPECT_TRUE(make_tracker(TrackerSpec{ByteTrackSpec{}})->update(weak, 0.0).tracks.empty());
  EXPECT_EQ(make_tracker(TrackerSpec{SortSpec{}})->update(weak, 0.0).tracks.size(), 1u);
}

TEST(ByteTrack, StateStaysBoundedUnderTenThousandFramesOfFlicker) {
  // 10,000 frames (400 s at 25 fps) of random short-lived detections of any score, plus one
  // steady object whose score wanders between weak and strong.
  auto tracker = make_tracker(ByteTrackSpec{});
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> count(0, 8);
  std::uniform_real_distribution<double> x(0, 1920), y(0, 1080), side(20, 200);
  std::uniform_real_distribution<float> score(0.0f, 1.0f), steady_score(0.3f, 1.0f);
  std::bernoulli_distribution is_car(0.3), detector_ran(0.8);
  const Box steady = centered(960, 540, 80, 160);
  testing::IdLedger ledger;
  for (int frame = 0; frame < 10000; ++frame) {
    const double t = frame / 25.0;
    TrackUpdate u;
    if (detector_ran(rng)) {
      // The steady object is strong on the first two runs, so it is born and confirmed.
      std::vector<Detection> dets = {det(steady, frame < 3 ? 0.9f : steady_score(rng))};
      for (int n = count(rng); n > 0; --n) {
        dets.push_back(det(centered(x(rng), y(rng), side(rng), side(rng)), score(rng),
                           is_car(rng) ? "car" : "person"));
      }
      u = tracker->update(dets, t);
    } else {
      u = tracker->predict(t);
    }
    ASSERT_NO_FATAL_FAILURE(ledger.observe(u));
    if (frame >= 3) {
      ASSERT_NE(find_id(u.tracks, 1), nullptr) << "steady object lost at " << frame;
    }
  }
  // At most 8 flicker births a run, each gone at its first miss unless confirmed by chance.
  EXPECT_LE(ledger.max_live(), 15u);
  EXPECT_GT(ledger.seen(), 10000u);  // flicker did create many tracks...
  ledger.expect_all_accounted_for();
}

}  // namespace
}  // namespace iris::track
