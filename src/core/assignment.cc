#include "core/assignment.h"

#include <algorithm>
#include <cassert>
#include <limits>

namespace iris {

std::vector<int> solve_assignment(const std::vector<std::vector<double>>& cost) {
  const int rows_in = static_cast<int>(cost.size());
  const int cols_in = rows_in == 0 ? 0 : static_cast<int>(cost[0].size());
  for (const auto& row : cost) assert(static_cast<int>(row.size()) == cols_in);
  if (rows_in == 0 || cols_in == 0) return std::vector<int>(rows_in, -1);

  const bool transpose = cols_in < rows_in;
  const int nr = transpose ? cols_in : rows_in;
  const int nc = transpose ? rows_in : cols_in;
  const auto c = [&](int i, int j) { return transpose ? cost[j][i] : cost[i][j]; };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> u(nr, 0), v(nc, 0), path_cost(nc);
  std::vector<int> path(nc, -1), col4row(nr, -1), row4col(nc, -1), remaining(nc);
  std::vector<char> seen_row(nr), seen_col(nc);
  for (int cur_row = 0; cur_row < nr; ++cur_row) {
    double min_val = 0;
    int num_remaining = nc;
    for (int it = 0; it < nc; ++it) remaining[it] = nc - it - 1;
    std::fill(seen_row.begin(), seen_row.end(), 0);
    std::fill(seen_col.begin(), seen_col.end(), 0);
    std::fill(path_cost.begin(), path_cost.end(), kInf);
    int sink = -1;
    for (int i = cur_row; sink == -1;) {
      int index = -1;
      double lowest = kInf;
      seen_row[i] = 1;
      for (int it = 0; it < num_remaining; ++it) {
        const int j = remaining[it];
        const double r = min_val + c(i, j) - u[i] - v[j];
        if (r < path_cost[j]) {
          path[j] = i;
          path_cost[j] = r;
        }
        if (path_cost[j] < lowest || (path_cost[j] == lowest && row4col[j] == -1)) {
          lowest = path_cost[j];
          index = it;
        }
      }
      assert(index >= 0 && "finite costs always leave an augmenting path");
      min_val = lowest;
      const int j = remaining[index];
      if (row4col[j] == -1) {
        sink = j;
      } else {
        i = row4col[j];
      }
      seen_col[j] = 1;
      remaining[index] = remaining[--num_remaining];
    }
    u[cur_row] += min_val;
    for (int i = 0; i < nr; ++i) {
      if (seen_row[i] && i != cur_row) u[i] += min_val - path_cost[col4row[i]];
    }
    for (int j = 0; j < nc; ++j) {
      if (seen_col[j]) v[j] -= min_val - path_cost[j];
    }
    for (int j = sink;;) {
      const int i = path[j];
      row4col[j] = i;
      std::swap(col4row[i], j);
      if (i == cur_row) break;
    }
  }
  std::vector<int> col_of_row(rows_in, -1);
  for (int i = 0; i < nr; ++i) {
    if (transpose) {
      col_of_row[col4row[i]] = i;
    } else {
      col_of_row[i] = col4row[i];
    }
  }
  return col_of_row;
}

}  // namespace iris
