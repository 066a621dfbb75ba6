// Optimal assignment: minimum-cost matching of rows to columns (trackers pair tracks with
// detections; the MOT metrics pair ground truth with tracker output).
#pragma once

#include <vector>

namespace iris {

// Minimum-cost assignment of rows to columns; cost[r][c] must be finite and every row must have
// the same number of columns. Returns, per row, its column or -1; exactly min(rows, cols) rows are
// assigned, each column at most once. Shortest augmenting paths (Crouse 2016), the method of
// scipy's linear_sum_assignment with its visiting order and tie rule, so exact ties resolve as
// they do in the reference tools (TrackEval). O(min^2 * max) time.
std::vector<int> solve_assignment(const std::vector<std::vector<double>>& cost);

}  // namespace iris
