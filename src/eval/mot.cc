#include "eval/mot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <string_view>

#include "core/assignment.h"
#include "core/text.h"

namespace iris::eval {
namespace {

// TrackEval guards its divisions and threshold comparisons with numpy's float eps.
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kMatchThreshold = 0.5;  // CLEAR and Identity
constexpr int kNumAlphas = 19;           // np.arange(0.05, 0.99, 0.05)
constexpr int kNoId = -1;

// TrackEval relabels ids to 0..n-1 in ascending order; these are those indices.
struct FrameData {
  std::vector<int> gt_ids;
  std::vector<int> tracker_ids;
  std::vector<std::array<double, 4>> gt_boxes;  // x0, y0, x1, y1
  std::vector<std::array<double, 4>> tracker_boxes;
};

struct Matrix {
  Matrix(int r, int c) : rows(r), cols(c), v(static_cast<size_t>(r) * c, 0.0) {}
  double& at(int r, int c) { return v[static_cast<size_t>(r) * cols + c]; }
  double at(int r, int c) const { return v[static_cast<size_t>(r) * cols + c]; }
  int rows, cols;
  std::vector<double> v;
};

struct Sequence {
  std::vector<FrameData> frames;   // only frames with any row: empty frames change no metric
  std::vector<Matrix> similarity;  // per frame, gt x tracker IoU
  int num_gt_ids = 0;
  int num_tracker_ids = 0;
};

// ---- Parsing ----

struct Row {
  int64_t frame;
  int64_t id;
  std::array<double, 4> box;
};

struct Layout {
  std::vector<const char*> field_names;
  bool is_gt;
};

const Layout kGtLayout{{"frame", "id", "x", "y", "w", "h", "conf", "class", "visibility"}, true};
const Layout kTrackerLayout{{"frame", "id", "x", "y", "w", "h", "conf", "wx", "wy", "wz"}, false};

Result<std::vector<Row>> read_rows(const std::string& path, const Layout& layout) {
  std::ifstream in(path);
  if (!in) return Status::error("cannot open MOT file '" + path + "'");
  std::vector<Row> rows;
  std::map<std::pair<int64_t, int64_t>, int> first_line;  // (frame, id) -> line
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    const std::string where = path + ":" + std::to_string(line) + ": ";
    const std::string_view content = trim(text);
    if (content.empty()) continue;
    std::vector<std::string_view> fields = split_fields(content);
    // TrackEval's reader tolerates one trailing comma.
    if (fields.size() > 1 && fields.back().empty()) fields.pop_back();
    const size_t expected = layout.field_names.size();
    if (fields.size() != expected) {
      return Status::error(where + "expected " + std::to_string(expected) +
                           " comma-separated fields (" + join(layout.field_names, ",") + "), got " +
                           std::to_string(fields.size()));
    }
    Row row{0, 0, {}};
    if (!parse_int(fields[0], &row.frame) || row.frame < 1) {
      return Status::error(where + "frame must be an integer >= 1, got '" + std::string(fields[0]) +
                           "'");
    }
    if (!parse_int(fields[1], &row.id) || row.id < 0) {
      return Status::error(where + "id must be an integer >= 0, got '" + std::string(fields[1]) +
                           "'");
    }
    std::vector<double> values(expected);
    for (size_t i = 2; i < expected; ++i) {
      if (!parse_finite(fields[i], &values[i])) {
        return Status::error(where + "field " + std::to_string(i + 1) + " (" +
                             layout.field_names[i] + ") is not a finite number: '" +
                             std::string(fields[i]) + "'");
      }
    }
    const double x = values[2], y = values[3], w = values[4], h = values[5];
    if (w < 0 || h < 0) {
      return Status::error(where + "box width and height must be >= 0, got w=" +
                           std::string(fields[4]) + " h=" + std::string(fields[5]));
    }
    // TrackEval casts gt conf to int and drops rows where that is 0.
    if (layout.is_gt && std::trunc(values[6]) == 0) continue;
    const auto [it, inserted] = first_line.emplace(std::pair(row.frame, row.id), line);
    if (!inserted) {
      return Status::error(where + "id " + std::to_string(row.id) + " appears twice in frame " +
                           std::to_string(row.frame) + " (also on line " +
                           std::to_string(it->second) + "); ids must be unique within a frame");
    }
    row.box = {x, y, x + w, y + h};
    rows.push_back(row);
  }
  if (in.bad()) return Status::error("error reading MOT file '" + path + "'");
  return rows;
}

// Maps raw ids to 0..n-1 in ascending order, as TrackEval does.
std::map<int64_t, int> relabel(const std::vector<Row>& rows) {
  std::map<int64_t, int> index;
  for (const Row& r : rows) index.emplace(r.id, 0);
  int next = 0;
  for (auto& [id, i] : index) i = next++;
  return index;
}

// TrackEval's box IoU: areas come from the corner coordinates, and degenerate boxes or unions
// give 0 rather than a division by zero.
double box_iou(const std::array<double, 4>& a, const std::array<double, 4>& b) {
  const double iw = std::max(std::min(a[2], b[2]) - std::max(a[0], b[0]), 0.0);
  const double ih = std::max(std::min(a[3], b[3]) - std::max(a[1], b[1]), 0.0);
  double inter = iw * ih;
  const double area_a = (a[2] - a[0]) * (a[3] - a[1]);
  const double area_b = (b[2] - b[0]) * (b[3] - b[1]);
  double uni = area_a + area_b - inter;
  if (area_a <= kEps || area_b <= kEps || uni <= kEps) inter = 0;
  if (uni <= kEps) uni = 1;
  return inter / uni;
}

Sequence build_sequence(const std::vector<Row>& gt, const std::vector<Row>& tracker) {
  const std::map<int64_t, int> gt_index = relabel(gt);
  const std::map<int64_t, int> tracker_index = relabel(tracker);
  // Rows keep their file order within a frame, which decides assignment ties as in TrackEval.
  std::map<int64_t, FrameData> by_frame;
  for (const Row& r : gt) {
    FrameData& f = by_frame[r.frame];
    f.gt_ids.push_back(gt_index.at(r.id));
    f.gt_boxes.push_back(r.box);
  }
  for (const Row& r : tracker) {
    FrameData& f = by_frame[r.frame];
    f.tracker_ids.push_back(tracker_index.at(r.id));
    f.tracker_boxes.push_back(r.box);
  }
  Sequence seq;
  seq.num_gt_ids = static_cast<int>(gt_index.size());
  seq.num_tracker_ids = static_cast<int>(tracker_index.size());
  for (auto& [frame, f] : by_frame) {
    Matrix sim(static_cast<int>(f.gt_boxes.size()), static_cast<int>(f.tracker_boxes.size()));
    for (int i = 0; i < sim.rows; ++i) {
      for (int j = 0; j < sim.cols; ++j) sim.at(i, j) = box_iou(f.gt_boxes[i], f.tracker_boxes[j]);
    }
    seq.frames.push_back(std::move(f));
    seq.similarity.push_back(std::move(sim));
  }
  return seq;
}

// ---- Assignment ----

// Pairs for the maximum total score; min(rows, cols) of them.
std::vector<std::pair<int, int>> solve_max_score(const Matrix& score) {
  std::vector<std::vector<double>> cost(score.rows, std::vector<double>(score.cols));
  for (int r = 0; r < score.rows; ++r) {
    for (int c = 0; c < score.cols; ++c) cost[r][c] = -score.at(r, c);
  }
  std::vector<std::pair<int, int>> pairs;
  const std::vector<int> col_of_row = solve_assignment(cost);
  for (int r = 0; r < score.rows; ++r) {
    if (col_of_row[r] >= 0) pairs.emplace_back(r, col_of_row[r]);
  }
  return pairs;
}

// ---- Metrics ----

void compute_hota(const Sequence& seq, MotMetrics* m) {
  const int ng = seq.num_gt_ids, nt = seq.num_tracker_ids;
  // Global alignment: how much each gt/tracker id pair overlaps over the whole sequence, with
  // each frame's overlap shared out among competing boxes.
  Matrix potential(ng, nt);
  std::vector<double> gt_count(ng, 0), tracker_count(nt, 0);
  for (size_t t = 0; t < seq.frames.size(); ++t) {
    const FrameData& f = seq.frames[t];
    const Matrix& sim = seq.similarity[t];
    std::vector<double> row_sum(sim.rows, 0), col_sum(sim.cols, 0);
    for (int i = 0; i < sim.rows; ++i) {
      for (int j = 0; j < sim.cols; ++j) {
        row_sum[i] += sim.at(i, j);
        col_sum[j] += sim.at(i, j);
      }
    }
    for (int i = 0; i < sim.rows; ++i) {
      for (int j = 0; j < sim.cols; ++j) {
        const double denom = col_sum[j] + row_sum[i] - sim.at(i, j);
        if (denom > kEps) potential.at(f.gt_ids[i], f.tracker_ids[j]) += sim.at(i, j) / denom;
      }
    }
    for (int g : f.gt_ids) gt_count[g] += 1;
    for (int k : f.tracker_ids) tracker_count[k] += 1;
  }
  Matrix alignment(ng, nt);
  for (int g = 0; g < ng; ++g) {
    for (int k = 0; k < nt; ++k) {
      const double p = potential.at(g, k);
      alignment.at(g, k) = p / (gt_count[g] + tracker_count[k] - p);
    }
  }

  std::array<double, kNumAlphas> alpha{}, tp{}, fn{}, fp{}, loc_sum{};
  for (int a = 0; a < kNumAlphas; ++a) alpha[a] = 0.05 + a * 0.05;
  std::vector<Matrix> matches(kNumAlphas, Matrix(ng, nt));
  for (size_t t = 0; t < seq.frames.size(); ++t) {
    const FrameData& f = seq.frames[t];
    const Matrix& sim = seq.similarity[t];
    const double n_gt = sim.rows, n_tracker = sim.cols;
    if (sim.rows == 0 || sim.cols == 0) {
      for (int a = 0; a < kNumAlphas; ++a) {
        fn[a] += n_gt;
        fp[a] += n_tracker;
      }
      continue;
    }
    Matrix score(sim.rows, sim.cols);
    for (int i = 0; i < sim.rows; ++i) {
      for (int j = 0; j < sim.cols; ++j) {
        score.at(i, j) = alignment.at(f.gt_ids[i], f.tracker_ids[j]) * sim.at(i, j);
      }
    }
    const std::vector<std::pair<int, int>> pairs = solve_max_score(score);
    for (int a = 0; a < kNumAlphas; ++a) {
      double num_matches = 0;
      for (const auto& [i, j] : pairs) {
        if (sim.at(i, j) < alpha[a] - kEps) continue;
        num_matches += 1;
        loc_sum[a] += sim.at(i, j);
        matches[a].at(f.gt_ids[i], f.tracker_ids[j]) += 1;
      }
      tp[a] += num_matches;
      fn[a] += n_gt - num_matches;
      fp[a] += n_tracker - num_matches;
    }
  }

  for (int a = 0; a < kNumAlphas; ++a) {
    double assa = 0, assre = 0, asspr = 0;
    for (int g = 0; g < ng; ++g) {
      for (int k = 0; k < nt; ++k) {
        const double c = matches[a].at(g, k);
        if (c == 0) continue;
        assa += c * (c / std::max(1.0, gt_count[g] + tracker_count[k] - c));
        assre += c * (c / std::max(1.0, gt_count[g]));
        asspr += c * (c / std::max(1.0, tracker_count[k]));
      }
    }
    const double tp_den = std::max(1.0, tp[a]);
    assa /= tp_den;
    const double deta = tp[a] / std::max(1.0, tp[a] + fn[a] + fp[a]);
    m->hota += std::sqrt(deta * assa);
    m->deta += deta;
    m->assa += assa;
    m->detre += tp[a] / std::max(1.0, tp[a] + fn[a]);
    m->detpr += tp[a] / std::max(1.0, tp[a] + fp[a]);
    m->assre += assre / tp_den;
    m->asspr += asspr / tp_den;
    // With no matches TrackEval reports LocA 1 (1e-10 / 1e-10).
    m->loca += std::max(1e-10, loc_sum[a]) / std::max(1e-10, tp[a]);
  }
  for (double* field :
       {&m->hota, &m->deta, &m->assa, &m->detre, &m->detpr, &m->assre, &m->asspr, &m->loca}) {
    *field /= kNumAlphas;
  }
}

void compute_clear(const Sequence& seq, MotMetrics* m) {
  const int ng = seq.num_gt_ids;
  std::vector<int64_t> gt_count(ng, 0), matched_count(ng, 0), starts(ng, 0);
  // Tracker id each gt was last matched to (ever), and matched to in the last frame that had
  // both gt and tracker boxes; kNoId when none.
  std::vector<int> last_id(ng, kNoId), prev_frame_id(ng, kNoId);
  int64_t tp = 0, fn = 0, fp = 0, idsw = 0;
  double motp_sum = 0;
  for (size_t t = 0; t < seq.frames.size(); ++t) {
    const FrameData& f = seq.frames[t];
    const Matrix& sim = seq.similarity[t];
    if (sim.rows == 0) {
      fp += sim.cols;
      continue;
    }
    if (sim.cols == 0) {
      fn += sim.rows;
      for (int g : f.gt_ids) ++gt_count[g];
      continue;
    }
    // Keeping last frame's pairs outweighs any IoU; pairs under the threshold cannot match.
    Matrix score(sim.rows, sim.cols);
    for (int i = 0; i < sim.rows; ++i) {
      for (int j = 0; j < sim.cols; ++j) {
        if (sim.at(i, j) < kMatchThreshold - kEps) continue;
        const bool kept = prev_frame_id[f.gt_ids[i]] == f.tracker_ids[j];
        score.at(i, j) = (kept ? 1000.0 : 0.0) + sim.at(i, j);
      }
    }
    std::vector<std::pair<int, int>> pairs;
    for (const auto& [i, j] : solve_max_score(score)) {
      if (score.at(i, j) > kEps) pairs.emplace_back(i, j);
    }
    for (int g : f.gt_ids) ++gt_count[g];
    const std::vector<int> was_tracked = prev_frame_id;
    std::fill(prev_frame_id.begin(), prev_frame_id.end(), kNoId);
    for (const auto& [i, j] : pairs) {
      const int g = f.gt_ids[i];
      const int k = f.tracker_ids[j];
      if (last_id[g] != kNoId && last_id[g] != k) ++idsw;
      last_id[g] = k;
      prev_frame_id[g] = k;
      if (was_tracked[g] == kNoId) ++starts[g];
      ++matched_count[g];
      motp_sum += sim.at(i, j);
    }
    const int64_t num_matches = static_cast<int64_t>(pairs.size());
    tp += num_matches;
    fn += sim.rows - num_matches;
    fp += sim.cols - num_matches;
  }
  for (int g = 0; g < ng; ++g) {
    if (gt_count[g] > 0) {
      const double ratio = static_cast<double>(matched_count[g]) / gt_count[g];
      if (ratio > 0.8) {
        ++m->mt;
      } else if (ratio >= 0.2) {
        ++m->pt;
      }
    }
    if (starts[g] > 0) m->frag += starts[g] - 1;
  }
  m->ml = ng - m->mt - m->pt;
  m->idsw = idsw;
  m->clr_tp = tp;
  m->clr_fn = fn;
  m->clr_fp = fp;
  m->mota = static_cast<double>(tp - fp - idsw) / std::max<int64_t>(1, tp + fn);
  m->motp = motp_sum / std::max<double>(1, tp);
}

// IDF1's global one-to-one id assignment maximises the frames where paired ids overlap at
// IoU >= 0.5; TrackEval's padded min-cost form (IDFN + IDFP) has the same optimum.
void compute_identity(const Sequence& seq, MotMetrics* m) {
  Matrix overlap(seq.num_gt_ids, seq.num_tracker_ids);
  double gt_dets = 0, tracker_dets = 0;
  for (size_t t = 0; t < seq.frames.size(); ++t) {
    const FrameData& f = seq.frames[t];
    const Matrix& sim = seq.similarity[t];
    for (int i = 0; i < sim.rows; ++i) {
      for (int j = 0; j < sim.cols; ++j) {
        if (sim.at(i, j) >= kMatchThreshold) overlap.at(f.gt_ids[i], f.tracker_ids[j]) += 1;
      }
    }
    gt_dets += sim.rows;
    tracker_dets += sim.cols;
  }
  double idtp = 0;
  for (const auto& [g, k] : solve_max_score(overlap)) idtp += overlap.at(g, k);
  const double idfn = gt_dets - idtp, idfp = tracker_dets - idtp;
  m->idr = idtp / std::max(1.0, idtp + idfn);
  m->idp = idtp / std::max(1.0, idtp + idfp);
  m->idf1 = idtp / std::max(1.0, idtp + 0.5 * idfp + 0.5 * idfn);
}

}  // namespace

Result<MotMetrics> evaluate_mot(const std::string& gt_path, const std::string& tracker_path) {
  Result<std::vector<Row>> gt = read_rows(gt_path, kGtLayout);
  if (!gt.ok()) return gt.status();
  Result<std::vector<Row>> tracker = read_rows(tracker_path, kTrackerLayout);
  if (!tracker.ok()) return tracker.status();
  const Sequence seq = build_sequence(*gt, *tracker);
  MotMetrics m;
  compute_hota(seq, &m);
  compute_clear(seq, &m);
  compute_identity(seq, &m);
  return m;
}

std::vector<MotField> to_fields(const MotMetrics& m) {
  const auto count = [](const char* name, int64_t v) {
    return MotField{name, static_cast<double>(v), true};
  };
  return {{"HOTA", m.hota, false},   {"DetA", m.deta, false},   {"AssA", m.assa, false},
          {"DetRe", m.detre, false}, {"DetPr", m.detpr, false}, {"AssRe", m.assre, false},
          {"AssPr", m.asspr, false}, {"LocA", m.loca, false},   {"MOTA", m.mota, false},
          {"MOTP", m.motp, false},   {"IDF1", m.idf1, false},   {"IDP", m.idp, false},
          {"IDR", m.idr, false},     count("IDSW", m.idsw),     count("Frag", m.frag),
          count("MT", m.mt),         count("PT", m.pt),         count("ML", m.ml),
          count("CLR_TP", m.clr_tp), count("CLR_FN", m.clr_fn), count("CLR_FP", m.clr_fp)};
}

}  // namespace iris::eval
