#include "core/assignment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

namespace iris {
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

}  // namespace
}  // namespace iris
