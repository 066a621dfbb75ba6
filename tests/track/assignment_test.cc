#include "track/assignment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

namespace iris::track {
namespace {

using Matrix = std::vector<std::vector<double>>;

// Exhaustive minimum over every assignment of min(rows, cols) pairs.
double brute_force_min(const Matrix& cost, int cols) {
  const int rows = static_cast<int>(cost.size());
  const int need = std::min(rows, cols);
  double best = std::numeric_limits<double>::infinity();
  std::vector<char> used(cols, 0);
  auto search = [&](auto&& self, int row, int assigned, double sum) -> void {
    if (assigned + (rows - row) < need) return;
    if (row == rows) {
      best = std::min(best, sum);
      return;
    }
    if (assigned < need) {
      for (int c = 0; c < cols; ++c) {
        if (used[c]) continue;
        used[c] = 1;
        self(self, row + 1, assigned + 1, sum + cost[row][c]);
        used[c] = 0;
      }
    }
    self(self, row + 1, assigned, sum);  // row left out
  };
  search(search, 0, 0, 0.0);
  return best;
}

// Checks the shape of a solution and returns its total cost.
double checked_total(const Matrix& cost, int cols, const std::vector<int>& assigned) {
  const int rows = static_cast<int>(cost.size());
  EXPECT_EQ(static_cast<int>(assigned.size()), rows);
  std::vector<char> used(cols, 0);
  int count = 0;
  double total = 0;
  for (int r = 0; r < rows; ++r) {
    const int c = assigned[r];
    if (c < 0) {
      EXPECT_EQ(c, -1);
      continue;
    }
    EXPECT_LT(c, cols);
    EXPECT_FALSE(used[c]) << "column " << c << " assigned twice";
    used[c] = 1;
    ++count;
    total += cost[r][c];
  }
  EXPECT_EQ(count, std::min(rows, cols));
  return total;
}

TEST(SolveAssignment, EmptyInputs) {
  EXPECT_TRUE(solve_assignment({}).empty());
  EXPECT_EQ(solve_assignment(Matrix(3)), (std::vector<int>{-1, -1, -1}));  // 3 rows, 0 cols
}

TEST(SolveAssignment, OneByOne) { EXPECT_EQ(solve_assignment({{4.5}}), (std::vector<int>{0})); }

TEST(SolveAssignment, KnownSquareOptimum) {
  // Unique optimum 1 + 2 + 2 = 5; the diagonal costs 6.
  const Matrix cost = {{4, 1, 3}, {2, 0, 5}, {3, 2, 2}};
  const std::vector<int> got = solve_assignment(cost);
  EXPECT_EQ(got, (std::vector<int>{1, 0, 2}));
}

TEST(SolveAssignment, EqualsBruteForceOnRandomMatrices) {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> size(1, 6);
  std::uniform_real_distribution<double> real_cost(-5.0, 10.0);
  std::uniform_int_distribution<int> small_int(0, 3);  // many ties
  for (int trial = 0; trial < 600; ++trial) {
    const int rows = size(rng), cols = size(rng);
    Matrix cost(rows, std::vector<double>(cols));
    for (auto& row : cost) {
      for (double& v : row) v = trial % 3 == 0 ? small_int(rng) : real_cost(rng);
    }
    const std::vector<int> got = solve_assignment(cost);
    const double total = checked_total(cost, cols, got);
    ASSERT_NEAR(total, brute_force_min(cost, cols), 1e-9)
        << "trial " << trial << " (" << rows << "x" << cols << ")";
  }
}

TEST(SolveAssignment, TallAndWideAgree) {
  // A matrix and its transpose have the same optimum, and the pairs mirror each other.
  const Matrix wide = {{7, 2, 9, 4}, {3, 8, 1, 6}};
  const Matrix tall = {{7, 3}, {2, 8}, {9, 1}, {4, 6}};
  const std::vector<int> w = solve_assignment(wide);
  const std::vector<int> t = solve_assignment(tall);
  EXPECT_EQ(w, (std::vector<int>{1, 2}));
  EXPECT_EQ(t, (std::vector<int>{-1, 0, 1, -1}));
}

TEST(SolveAssignment, BeatsGreedyOnIouCosts) {
  // IoU(T1,D1)=0.9, IoU(T1,D2)=0.8, IoU(T2,D1)=0.7, IoU(T2,D2)=0. Greedy takes T1-D1 first and
  // strands T2; the optimum (total IoU 1.5 vs 0.9) is T1-D2, T2-D1.
  const Matrix cost = {{1 - 0.9, 1 - 0.8}, {1 - 0.7, 1 - 0.0}};
  EXPECT_EQ(solve_assignment(cost), (std::vector<int>{1, 0}));
}

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
