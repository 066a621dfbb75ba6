#include <gtest/gtest.h>

#include <random>
#include <set>
#include <utility>

#include "track/tracker.h"
#include "tracks.h"

namespace iris::track {
namespace {

using testing::centered;
using testing::expect_ordered_by_id;
using testing::find_id;

Detection det(const Box& box, const std::string& label = "person", float score = 0.9f) {
  return {.box = box, .label = label, .score = score};
}

TEST(Sort, IdsStartAtOneAndNewTracksAreTentative) {
  auto sort = make_tracker(SortSpec{.max_age = 1.0, .min_hits = 3, .iou_threshold = 0.3});
  const TrackUpdate u = sort->update(
      {det(centered(100, 100, 40, 80)), det(centered(400, 100, 40, 80), "car", 0.7f)}, 0.0);
  ASSERT_EQ(u.tracks.size(), 2u);
  EXPECT_EQ(u.tracks[0].id, 1);
  EXPECT_EQ(u.tracks[1].id, 2);
  EXPECT_EQ(u.tracks[1].label, "car");
  EXPECT_FLOAT_EQ(u.tracks[1].score, 0.7f);
  EXPECT_EQ(u.tracks[0].box, centered(100, 100, 40, 80));
  EXPECT_EQ(u.tracks[0].hits, 1);
  EXPECT_FALSE(u.tracks[0].confirmed);
  EXPECT_TRUE(u.tracks[0].matched);
  EXPECT_EQ(u.tracks[0].first_seen, 0.0);
  EXPECT_TRUE(u.removed.empty());
}

TEST(Sort, ConfirmsAtMinHitsAndStaysConfirmed) {
  auto sort = make_tracker(SortSpec{.max_age = 1.0, .min_hits = 3, .iou_threshold = 0.3});
  const Box b = centered(200, 200, 50, 100);
  EXPECT_FALSE(sort->update({det(b)}, 0.0).tracks.at(0).confirmed);
  EXPECT_FALSE(sort->update({det(b)}, 0.1).tracks.at(0).confirmed);
  const TrackUpdate third = sort->update({det(b)}, 0.2);
  ASSERT_EQ(third.tracks.size(), 1u);
  EXPECT_TRUE(third.tracks[0].confirmed);
  EXPECT_EQ(third.tracks[0].hits, 3);
  EXPECT_EQ(third.tracks[0].first_seen, 0.0);
  EXPECT_DOUBLE_EQ(third.tracks[0].last_matched, 0.2);

  // A confirmed track survives a missed detection and keeps its confirmation.
  const TrackUpdate miss = sort->update({}, 0.3);
  ASSERT_EQ(miss.tracks.size(), 1u);
  EXPECT_TRUE(miss.tracks[0].confirmed);
  EXPECT_FALSE(miss.tracks[0].matched);
  EXPECT_EQ(miss.tracks[0].hits, 3);
  EXPECT_TRUE(miss.removed.empty());
}

TEST(Sort, MinHitsOfOneConfirmsAtOnce) {
  auto sort = make_tracker(SortSpec{.max_age = 1.0, .min_hits = 1, .iou_threshold = 0.3});
  EXPECT_TRUE(sort->update({det(centered(50, 50, 20, 20))}, 0.0).tracks.at(0).confirmed);
}

TEST(Sort, TentativeTrackDiesOnItsFirstMiss) {
  auto sort = make_tracker(SortSpec{.max_age = 5.0, .min_hits = 3, .iou_threshold = 0.3});
  const Box b = centered(200, 200, 50, 100);
  sort->update({det(b)}, 0.0);
  sort->update({det(b)}, 0.1);
  // predict() is not a miss: no detector ran.
  const TrackUpdate p = sort->predict(0.15);
  ASSERT_EQ(p.tracks.size(), 1u);
  EXPECT_FALSE(p.tracks[0].matched);

  const TrackUpdate miss = sort->update({}, 0.2);
  EXPECT_TRUE(miss.tracks.empty());
  ASSERT_EQ(miss.removed.size(), 1u);
  EXPECT_EQ(miss.removed[0].id, 1);
  EXPECT_EQ(miss.removed[0].hits, 2);

  // The next detection at the same place is a new object.
  const TrackUpdate again = sort->update({det(b)}, 0.3);
  ASSERT_EQ(again.tracks.size(), 1u);
  EXPECT_EQ(again.tracks[0].id, 2);
  EXPECT_TRUE(again.removed.empty());
}

TEST(Sort, KeepsIdentityThroughFiveMissedFrames) {
  // 40x80 object at 100 px/s, 10 fps: 10 px per frame. After 6 frames it has moved 60 px, more
  // than its width, so only the motion model can bridge the gap.
  auto sort = make_tracker(SortSpec{.max_age = 1.0, .min_hits = 3, .iou_threshold = 0.3});
  auto truth = [](int frame) { return centered(100 + 10.0 * frame, 300, 40, 80); };
  for (int frame = 0; frame < 40; ++frame) {
    const double t = frame * 0.1;
    const bool missing = frame >= 20 && frame < 25;
    const TrackUpdate u =
        sort->update(missing ? std::vector<Detection>{} : std::vector{det(truth(frame))}, t);
    ASSERT_EQ(u.tracks.size(), 1u) << "frame " << frame;
    EXPECT_EQ(u.tracks[0].id, 1) << "frame " << frame;
    EXPECT_TRUE(u.removed.empty()) << "frame " << frame;
    EXPECT_EQ(u.tracks[0].matched, !missing) << "frame " << frame;
    if (missing) {
      // Coasting follows the motion.
      EXPECT_GT(iou(u.tracks[0].box, truth(frame)), 0.8) << "frame " << frame;
    }
  }
}

TEST(Sort, ExpiredTrackIsReportedExactlyOnce) {
  // Steps of 1/8 s are exact in binary, so the expiry instant is exact too.
  auto sort = make_tracker(SortSpec{.max_age = 1.0, .min_hits = 2, .iou_threshold = 0.3});
  const Box b = centered(300, 300, 60, 120);
  sort->update({det(b)}, 0.0);
  sort->update({det(b)}, 0.125);
  ASSERT_TRUE(sort->update({det(b)}, 0.25).tracks.at(0).confirmed);

  int reports = 0;
  for (int step = 3; step <= 40; ++step) {
    const double t = step * 0.125;
    // Mix frames with a detector run (no detections) and frames without.
    const TrackUpdate u = step % 2 == 0 ? sort->update({}, t) : sort->predict(t);
    for (const Track& r : u.removed) {
      EXPECT_EQ(r.id, 1);
      EXPECT_DOUBLE_EQ(r.last_matched, 0.25);
      EXPECT_TRUE(r.confirmed);
      EXPECT_DOUBLE_EQ(t, 1.375) << "removed too early or too late";
      ++reports;
    }
    if (t <= 1.25) {
      EXPECT_EQ(u.tracks.size(), 1u) << "t=" << t;
    } else {
      EXPECT_TRUE(u.tracks.empty()) << "t=" << t;
    }
  }
  EXPECT_EQ(reports, 1);
}

TEST(Sort, ExpiryAppliesInPredict) {
  auto sort = make_tracker(SortSpec{.max_age = 0.5, .min_hits = 1, .iou_threshold = 0.3});
  sort->update({det(centered(10, 10, 10, 10))}, 1.0);
  EXPECT_EQ(sort->predict(1.5).tracks.size(), 1u);
  const TrackUpdate gone = sort->predict(1.75);
  EXPECT_TRUE(gone.tracks.empty());
  ASSERT_EQ(gone.removed.size(), 1u);
  EXPECT_TRUE(sort->predict(3.0).removed.empty());
}

TEST(Sort, CrossingObjectsKeepTheirIds) {
  // Same class, same size, opposite directions at 100 px/s, crossing at t = 2 s with nearly the
  // same boxes (15 px apart vertically).
  auto sort = make_tracker(SortSpec{.max_age = 1.0, .min_hits = 3, .iou_threshold = 0.3});
  auto a = [](double t) { return centered(100 + 100 * t, 200, 40, 80); };
  auto b = [](double t) { return centered(500 - 100 * t, 215, 40, 80); };
  std::set<int64_t> ids;
  for (int frame = 0; frame <= 40; ++frame) {
    const double t = frame * 0.1;
    // Alternate the detection order so index order cannot carry identity.
    std::vector<Detection> dets = {det(a(t)), det(b(t))};
    if (frame % 2 == 1) std::swap(dets[0], dets[1]);
    const TrackUpdate u = sort->update(dets, t);
    ASSERT_EQ(u.tracks.size(), 2u) << "frame " << frame;
    expect_ordered_by_id(u.tracks);
    for (const Track& tr : u.tracks) ids.insert(tr.id);
    EXPECT_GT(iou(find_id(u.tracks, 1)->box, a(t)), 0.8) << "frame " << frame;
    EXPECT_GT(iou(find_id(u.tracks, 2)->box, b(t)), 0.8) << "frame " << frame;
  }
  EXPECT_EQ(ids, (std::set<int64_t>{1, 2}));
}

TEST(Sort, OptimalAssignmentWhereGreedyFails) {
  // Tracks T1 at x=0 and T2 at x=-50 (100x100 boxes, still: zero velocity). Next frame detections
  // D1 at x=-10, D2 at x=+20: IoU(T1,D1)=.82, IoU(T1,D2)=.67, IoU(T2,D1)=.43, IoU(T2,D2)=.18.
  // Greedy would give T1-D1 and start a new track for D2; optimal keeps both: T1-D2, T2-D1.
  auto sort = make_tracker(SortSpec{.max_age = 1.0, .min_hits = 3, .iou_threshold = 0.3});
  auto row_box = [](double x) { return Box{x, 0, x + 100, 100}; };
  sort->update({det(row_box(0)), det(row_box(-50))}, 0.0);
  const Box d1 = row_box(-10), d2 = row_box(20);
  const TrackUpdate u = sort->update({det(d1), det(d2)}, 0.1);
  ASSERT_EQ(u.tracks.size(), 2u);
  EXPECT_TRUE(u.removed.empty());
  EXPECT_EQ(u.tracks[0].id, 1);
  EXPECT_EQ(u.tracks[1].id, 2);
  EXPECT_EQ(u.tracks[0].hits, 2);
  EXPECT_EQ(u.tracks[1].hits, 2);
  EXPECT_GT(iou(u.tracks[0].box, d2), iou(u.tracks[0].box, d1));
  EXPECT_GT(iou(u.tracks[1].box, d1), iou(u.tracks[1].box, d2));
}

TEST(Sort, DifferentLabelsNeverMatch) {
  auto sort = make_tracker(SortSpec{.max_age = 1.0, .min_hits = 1, .iou_threshold = 0.3});
  const Box b = centered(100, 100, 50, 50);
  sort->update({det(b, "person")}, 0.0);
  const TrackUpdate u = sort->update({det(b, "car")}, 0.1);
  ASSERT_EQ(u.tracks.size(), 2u);
  EXPECT_EQ(u.tracks[0].label, "person");
  EXPECT_FALSE(u.tracks[0].matched);
  EXPECT_EQ(u.tracks[0].hits, 1);
  EXPECT_EQ(u.tracks[1].id, 2);
  EXPECT_EQ(u.tracks[1].label, "car");

  // Both present again: each follows its own class.
  const TrackUpdate both = sort->update({det(b, "car"), det(b, "person")}, 0.2);
  ASSERT_EQ(both.tracks.size(), 2u);
  EXPECT_EQ(both.tracks[0].label, "person");
  EXPECT_EQ(both.tracks[0].hits, 2);
  EXPECT_EQ(both.tracks[1].label, "car");
  EXPECT_EQ(both.tracks[1].hits, 2);
}

TEST(Sort, ResetForgetsTracksButNeverReusesIds) {
  auto sort = make_tracker(SortSpec{.max_age = 1.0, .min_hits = 1, .iou_threshold = 0.3});
  sort->update({det(centered(100, 100, 50, 50)), det(centered(300, 100, 50, 50))}, 0.0);
  const std::vector<Track> gone = sort->reset();
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_EQ(gone[0].id, 1);
  EXPECT_EQ(gone[1].id, 2);
  const TrackUpdate after = sort->predict(0.1);
  EXPECT_TRUE(after.tracks.empty());
  EXPECT_TRUE(after.removed.empty());
  const TrackUpdate u = sort->update({det(centered(100, 100, 50, 50))}, 0.2);
  ASSERT_EQ(u.tracks.size(), 1u);
  EXPECT_EQ(u.tracks[0].id, 3);
}

TEST(Sort, StateStaysBoundedUnderFlicker) {
  // 5000 frames (200 s at 25 fps) of random short-lived detections, plus one steady object.
  auto sort = make_tracker(SortSpec{.max_age = 1.0, .min_hits = 3, .iou_threshold = 0.3});
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> count(0, 6);
  std::uniform_real_distribution<double> x(0, 1920), y(0, 1080), side(20, 200);
  std::bernoulli_distribution is_car(0.3), detector_ran(0.8);
  const Box steady = centered(960, 540, 80, 160);
  testing::IdLedger ledger;
  for (int frame = 0; frame < 5000; ++frame) {
    const double t = frame / 25.0;
    TrackUpdate u;
    if (detector_ran(rng)) {
      std::vector<Detection> dets = {det(steady)};
      for (int n = count(rng); n > 0; --n) {
        dets.push_back(
            det(centered(x(rng), y(rng), side(rng), side(rng)), is_car(rng) ? "car" : "person"));
      }
      u = sort->update(dets, t);
    } else {
      u = sort->predict(t);
    }
    ASSERT_NO_FATAL_FAILURE(ledger.observe(u));
    ASSERT_NE(find_id(u.tracks, 1), nullptr) << "steady object lost at frame " << frame;
  }
  EXPECT_LE(ledger.max_live(), 15u);
  EXPECT_GT(ledger.seen(), 5000u);  // flicker did create many tracks...
  ledger.expect_all_accounted_for();
}

}  // namespace
}  // namespace iris::track
