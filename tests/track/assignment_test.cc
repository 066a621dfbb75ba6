#include "track/assignment.h"

#include <gtest/gtest.h>

namespace iris::track {
namespace {

Track track_at(const Box& box, const std::string& label = "person") {
  Track t;
  t.box = box;
  t.label = label;
  return t;
}

Detection det_at(const Box& box, const std::string& label = "person") {
  return {.box = box, .label = label, .score = 0.9f};
}

// Boxes of 10x10 on one row, shifted s along x: IoU = (10 - s) / (10 + s).
Box row_box(double x) { return {x, 0, x + 10, 10}; }

TEST(MatchByIou, OptimalNotGreedy) {
  // T1 at 0, T2 at -5; D1 at -1, D2 at +2.
  // IoU(T1,D1)=9/11=.82  IoU(T1,D2)=8/12=.67  IoU(T2,D1)=6/14=.43  IoU(T2,D2)=3/17=.18.
  const std::vector<Track> tracks = {track_at(row_box(0)), track_at(row_box(-5))};
  const std::vector<Detection> dets = {det_at(row_box(-1)), det_at(row_box(2))};
  const IouMatches m = match_by_iou(tracks, dets, 0.3);
  ASSERT_EQ(m.pairs.size(), 2u);
  EXPECT_EQ(m.pairs[0].track, 0);
  EXPECT_EQ(m.pairs[0].detection, 1);
  EXPECT_EQ(m.pairs[1].track, 1);
  EXPECT_EQ(m.pairs[1].detection, 0);
  EXPECT_TRUE(m.unmatched_tracks.empty());
  EXPECT_TRUE(m.unmatched_detections.empty());
}

TEST(MatchByIou, GatesLowOverlap) {
  // The only pair has IoU 3/17 < 0.3: assigned by the solver, rejected by the gate.
  const IouMatches m = match_by_iou({track_at(row_box(0))}, {det_at(row_box(7))}, 0.3);
  EXPECT_TRUE(m.pairs.empty());
  EXPECT_EQ(m.unmatched_tracks, (std::vector<int>{0}));
  EXPECT_EQ(m.unmatched_detections, (std::vector<int>{0}));
}

TEST(MatchByIou, LabelsNeverCross) {
  // Identical boxes of different classes never pair, even with a tiny threshold; the car track
  // takes the car detection although the person detection overlaps it more.
  const std::vector<Track> tracks = {track_at(row_box(0), "car"), track_at(row_box(50), "person")};
  const std::vector<Detection> dets = {det_at(row_box(0), "person"), det_at(row_box(3), "car")};
  const IouMatches m = match_by_iou(tracks, dets, 0.01);
  ASSERT_EQ(m.pairs.size(), 1u);
  EXPECT_EQ(m.pairs[0].track, 0);
  EXPECT_EQ(m.pairs[0].detection, 1);
  EXPECT_EQ(m.unmatched_tracks, (std::vector<int>{1}));
  EXPECT_EQ(m.unmatched_detections, (std::vector<int>{0}));
}

TEST(MatchByIou, EmptySides) {
  const IouMatches none = match_by_iou({}, {}, 0.3);
  EXPECT_TRUE(none.pairs.empty());
  const IouMatches no_dets = match_by_iou({track_at(row_box(0)), track_at(row_box(20))}, {}, 0.3);
  EXPECT_EQ(no_dets.unmatched_tracks, (std::vector<int>{0, 1}));
  const IouMatches no_tracks = match_by_iou({}, {det_at(row_box(0))}, 0.3);
  EXPECT_EQ(no_tracks.unmatched_detections, (std::vector<int>{0}));
}

}  // namespace
}  // namespace iris::track
