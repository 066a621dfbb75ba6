#include "track/assignment.h"

#include <algorithm>
#include <cassert>
#include <limits>

namespace iris::track {
namespace {

// Cost of pairing a track with a detection of another class: higher than any real pair (at most
// 1), so the solver pairs across classes only where every row must be assigned anyway, and the
// gate then discards such pairs.
constexpr double kForbiddenCost = 1e6;

// Kuhn-Munkres with row/column potentials for rows <= cols. Rows are added one at a time; each
// addition grows a shortest augmenting path (Dijkstra on reduced costs, which the potentials keep
// non-negative) from the new row to a free column, then flips the path. Column index `cols` is a
// virtual column where the search starts, holding the row being added.
std::vector<int> solve_wide(const std::vector<std::vector<double>>& cost, int rows, int cols) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const int root = cols;
  std::vector<double> row_pot(rows, 0.0), col_pot(cols + 1, 0.0);
  std::vector<int> row_of_col(cols + 1, -1);  // row assigned to each column, -1 if free
  std::vector<int> prev_col(cols + 1, root);  // predecessor of each column on the shortest path
  std::vector<double> dist(cols + 1);
  std::vector<char> visited(cols + 1);

  for (int row = 0; row < rows; ++row) {
    row_of_col[root] = row;
    std::fill(dist.begin(), dist.end(), kInf);
    std::fill(visited.begin(), visited.end(), 0);
    int col = root;
    while (row_of_col[col] != -1) {
      visited[col] = 1;
      const int r = row_of_col[col];
      double step = kInf;
      int next = -1;
      for (int c = 0; c < cols; ++c) {
        if (visited[c]) continue;
        const double reduced = cost[r][c] - row_pot[r] - col_pot[c];
        if (reduced < dist[c]) {
          dist[c] = reduced;
          prev_col[c] = col;
        }
        if (dist[c] < step) {
          step = dist[c];
          next = c;
        }
      }
      // Shift potentials so the tree's edges stay tight and the closest column's edge becomes
      // tight; distances of unvisited columns shrink by the same step.
      for (int c = 0; c <= cols; ++c) {
        if (visited[c]) {
          row_pot[row_of_col[c]] += step;
          col_pot[c] -= step;
        } else {
          dist[c] -= step;
        }
      }
      col = next;
    }
    // `col` is free: flip the path back to the root.
    while (col != root) {
      const int prev = prev_col[col];
      row_of_col[col] = row_of_col[prev];
      col = prev;
    }
  }

  std::vector<int> col_of_row(rows, -1);
  for (int c = 0; c < cols; ++c) {
    if (row_of_col[c] != -1) col_of_row[row_of_col[c]] = c;
  }
  return col_of_row;
}

}  // namespace

std::vector<int> solve_assignment(const std::vector<std::vector<double>>& cost) {
  const int rows = static_cast<int>(cost.size());
  const int cols = rows == 0 ? 0 : static_cast<int>(cost[0].size());
  for (const auto& row : cost) assert(static_cast<int>(row.size()) == cols);
  if (rows == 0 || cols == 0) return std::vector<int>(rows, -1);
  if (rows <= cols) return solve_wide(cost, rows, cols);

  // Tall: solve the transpose, then invert the mapping.
  std::vector<std::vector<double>> transposed(cols, std::vector<double>(rows));
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) transposed[c][r] = cost[r][c];
  }
  const std::vector<int> row_of_col = solve_wide(transposed, cols, rows);
  std::vector<int> col_of_row(rows, -1);
  for (int c = 0; c < cols; ++c) col_of_row[row_of_col[c]] = c;
  return col_of_row;
}

IouMatches match_by_iou(const std::vector<Track>& tracks, const std::vector<Detection>& detections,
                        double iou_threshold) {
  const int num_tracks = static_cast<int>(tracks.size());
  const int num_dets = static_cast<int>(detections.size());
  std::vector<std::vector<double>> overlap(num_tracks, std::vector<double>(num_dets, 0.0));
  std::vector<std::vector<double>> cost(num_tracks, std::vector<double>(num_dets, kForbiddenCost));
  for (int t = 0; t < num_tracks; ++t) {
    for (int d = 0; d < num_dets; ++d) {
      if (tracks[t].label != detections[d].label) continue;
      overlap[t][d] = iou(tracks[t].box, detections[d].box);
      cost[t][d] = 1.0 - overlap[t][d];
    }
  }

  const std::vector<int> assigned = solve_assignment(cost);
  IouMatches out;
  std::vector<char> det_used(num_dets, 0);
  for (int t = 0; t < num_tracks; ++t) {
    const int d = assigned[t];
    if (d >= 0 && tracks[t].label == detections[d].label && overlap[t][d] >= iou_threshold) {
      out.pairs.push_back({t, d});
      det_used[d] = 1;
    } else {
      out.unmatched_tracks.push_back(t);
    }
  }
  for (int d = 0; d < num_dets; ++d) {
    if (!det_used[d]) out.unmatched_detections.push_back(d);
  }
  return out;
}

}  // namespace iris::track
