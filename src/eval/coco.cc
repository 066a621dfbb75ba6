#include "eval/coco.h"

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_map>
#include <vector>

#include "core/text.h"
#include "eval/json_input.h"

namespace iris::eval {

const std::array<const char*, 12> CocoStats::kNames = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                                       "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};

namespace {

using json_input::field;
using json_input::show;
using nlohmann::json;

// COCOeval's default bbox parameters.
constexpr size_t kMaxDetections = 100;
constexpr std::array<size_t, 3> kMaxDets = {1, 10, 100};
constexpr size_t kNumIouThresholds = 10;
constexpr size_t kNumRecallThresholds = 101;
constexpr size_t kNumAreaRanges = 4;
constexpr size_t kNumMaxDets = kMaxDets.size();

struct AreaRange {
  double lo;
  double hi;
  // Both ends are inclusive, as in pycocotools.
  bool contains(double area) const { return area >= lo && area <= hi; }
};
// all, small, medium, large.
constexpr std::array<AreaRange, kNumAreaRanges> kAreaRanges = {
    {{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}}};

// numpy's linspace(start, stop, n): start + i * ((stop - start) / (n - 1)), last point = stop.
// Computed the same way because a recall of exactly k/100 lands on either side of `k * 0.01`.
template <size_t N>
std::array<double, N> linspace(double start, double stop) {
  std::array<double, N> out;
  const double step = (stop - start) / static_cast<double>(N - 1);
  for (size_t i = 0; i < N; ++i) out[i] = static_cast<double>(i) * step + start;
  out[N - 1] = stop;
  return out;
}
const std::array<double, kNumIouThresholds> kIouThresholds = linspace<kNumIouThresholds>(0.5, 0.95);
const std::array<double, kNumRecallThresholds> kRecallThresholds =
    linspace<kNumRecallThresholds>(0.0, 1.0);
constexpr size_t kIou50 = 0;
constexpr size_t kIou75 = 5;

struct Box {
  double x, y, w, h;
};

struct GroundTruth {
  Box box;
  double area;  // from the file's `area` field, which picks the size range
  bool crowd;
};

struct Detection {
  Box box;
  double score;
};

// Everything of one (category, image) pair.
struct Cell {
  std::vector<GroundTruth> gts;  // file order
  std::vector<Detection> dts;    // by score, ties in file order, at most kMaxDetections
  std::vector<double> ious;      // [det * gts.size() + gt]
  double iou(size_t det, size_t gt) const { return ious[det * gts.size() + gt]; }
};

struct Dataset {
  std::vector<int64_t> image_ids;     // ascending: the order images are accumulated in
  std::vector<int64_t> category_ids;  // ascending
  std::vector<Cell> cells;            // [category * images + image]
  Cell& cell(size_t category, size_t image) { return cells[category * image_ids.size() + image]; }
  const Cell& cell(size_t category, size_t image) const {
    return cells[category * image_ids.size() + image];
  }
};

// pycocotools' box IoU (maskApi.c bbIou); against a crowd region the union is the detection's
// own area, so a detection inside the crowd scores 1 however large the crowd is.
double box_iou(const Box& d, const Box& g, bool crowd) {
  const double w = std::min(d.x + d.w, g.x + g.w) - std::max(d.x, g.x);
  if (w <= 0) return 0;
  const double h = std::min(d.y + d.h, g.y + g.h) - std::max(d.y, g.y);
  if (h <= 0) return 0;
  const double inter = w * h;
  const double det_area = d.w * d.h;
  const double uni = crowd ? det_area : det_area + g.w * g.h - inter;
  return inter / uni;
}

// ---- Parsing: every rule a record breaks is reported with its file and index. ----

Result<int64_t> get_id(const json& record, const char* name, const std::string& where) {
  auto value = field(record, name, where);
  if (!value.ok()) return value.status();
  const json& v = **value;
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() &&
       v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
    return Status::error(where + ": '" + name + "' must be an integer id, got " + show(v));
  }
  return v.get<int64_t>();
}

Result<double> get_number(const json& record, const char* name, const std::string& where) {
  auto value = field(record, name, where);
  if (!value.ok()) return value.status();
  if (!(*value)->is_number()) {
    return Status::error(where + ": '" + name + "' must be a number, got " + show(**value));
  }
  return (*value)->get<double>();
}

Result<Box> get_box(const json& record, const std::string& where) {
  auto value = field(record, "bbox", where);
  if (!value.ok()) return value.status();
  const json& v = **value;
  if (!v.is_array() || v.size() != 4 ||
      !std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_number(); })) {
    return Status::error(where + ": bbox must be 4 numbers [x, y, w, h], got " + show(v));
  }
  const char* kSides[] = {"width", "height"};
  for (size_t i = 2; i < 4; ++i) {
    if (v[i].get<double>() < 0) {
      return Status::error(where + ": bbox has negative " + kSides[i - 2] + " " + show(v[i]) +
                           "; boxes are [x, y, w, h] with w, h >= 0");
    }
  }
  return Box{v[0].get<double>(), v[1].get<double>(), v[2].get<double>(), v[3].get<double>()};
}

Result<const json*> get_list(const json& root, const char* name, const std::string& file) {
  auto value = field(root, name, file);
  if (!value.ok()) return value.status();
  if (!(*value)->is_array()) {
    return Status::error(file + ": '" + name + "' must be a list, got " + (*value)->type_name());
  }
  return *value;
}

// Ids of a gt list ("images" or "categories"), sorted; duplicates are an error.
Result<std::vector<int64_t>> parse_ids(const json& list, const char* what,
                                       const std::string& file) {
  std::vector<int64_t> ids;
  ids.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = file + ": " + what + " #" + std::to_string(i);
    if (!list[i].is_object()) return Status::error(where + ": must be an object");
    auto id = get_id(list[i], "id", where);
    if (!id.ok()) return id.status();
    ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());
  const auto dup = std::adjacent_find(ids.begin(), ids.end());
  if (dup != ids.end()) {
    return Status::error(file + ": " + what + " id " + std::to_string(*dup) +
                         " appears more than once; ids must be unique");
  }
  return ids;
}

// Index of `id` in the sorted `ids` of gt's `list` ("images", "categories").
Result<size_t> index_of(const std::vector<int64_t>& ids, int64_t id, const char* key,
                        const char* list, const std::string& where, const std::string& gt_name) {
  const auto it = std::lower_bound(ids.begin(), ids.end(), id);
  if (it == ids.end() || *it != id) {
    return Status::error(where + ": " + key + " " + std::to_string(id) + " is not among the " +
                         list + " of " + gt_name);
  }
  return static_cast<size_t>(it - ids.begin());
}

Status parse_gt(const std::string& text, const std::string& name, Dataset* data) {
  auto root = json_input::parse(text, name);
  if (!root.ok()) return root.status();
  if (!root->is_object()) {
    return Status::error(name + ": expected a COCO instances object with 'images', " +
                         "'annotations' and 'categories', got JSON " + root->type_name());
  }
  auto images = get_list(*root, "images", name);
  if (!images.ok()) return images.status();
  auto annotations = get_list(*root, "annotations", name);
  if (!annotations.ok()) return annotations.status();
  auto categories = get_list(*root, "categories", name);
  if (!categories.ok()) return categories.status();

  auto image_ids = parse_ids(**images, "image", name);
  if (!image_ids.ok()) return image_ids.status();
  auto category_ids = parse_ids(**categories, "category", name);
  if (!category_ids.ok()) return category_ids.status();
  data->image_ids = std::move(*image_ids);
  data->category_ids = std::move(*category_ids);
  data->cells.assign(data->image_ids.size() * data->category_ids.size(), Cell{});

  // pycocotools keys annotations by id, so a repeated id would silently replace another object.
  std::unordered_map<int64_t, size_t> seen;
  const json& list = **annotations;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = name + ": annotation #" + std::to_string(i);
    const json& a = list[i];
    if (!a.is_object()) return Status::error(where + ": must be an object, got " + show(a));
    auto id = get_id(a, "id", where);
    if (!id.ok()) return id.status();
    where += " (id " + std::to_string(*id) + ")";
    const auto [previous, inserted] = seen.emplace(*id, i);
    if (!inserted) {
      return Status::error(where + ": id already used by annotation #" +
                           std::to_string(previous->second) + "; annotation ids must be unique");
    }
    auto image_id = get_id(a, "image_id", where);
    if (!image_id.ok()) return image_id.status();
    auto category_id = get_id(a, "category_id", where);
    if (!category_id.ok()) return category_id.status();
    auto box = get_box(a, where);
    if (!box.ok()) return box.status();
    auto area = get_number(a, "area", where);
    if (!area.ok()) return area.status();
    if (*area < 0) {
      return Status::error(where + ": area " + show(a["area"]) +
                           " is negative; it is the object's size in pixels and must be >= 0");
    }
    auto crowd = field(a, "iscrowd", where);
    if (!crowd.ok()) return crowd.status();
    const json& c = **crowd;
    const bool crowd_ok = c.is_boolean() || (c.is_number_integer() && (c == 0 || c == 1));
    if (!crowd_ok) return Status::error(where + ": iscrowd must be 0 or 1, got " + show(c));
    auto image = index_of(data->image_ids, *image_id, "image_id", "images", where, name);
    if (!image.ok()) return image.status();
    auto category =
        index_of(data->category_ids, *category_id, "category_id", "categories", where, name);
    if (!category.ok()) return category.status();
    const bool is_crowd = c.is_boolean() ? c.get<bool>() : c.get<int>() == 1;
    data->cell(*category, *image).gts.push_back({*box, *area, is_crowd});
  }
  return Status();
}

Status parse_dt(const std::string& text, const std::string& name, const std::string& gt_name,
                Dataset* data) {
  auto root = json_input::parse(text, name);
  if (!root.ok()) return root.status();
  if (!root->is_array()) {
    return Status::error(name + ": expected a JSON list of {image_id, category_id, bbox, score}, " +
                         "got JSON " + root->type_name());
  }
  for (size_t i = 0; i < root->size(); ++i) {
    const std::string where = name + ": detection #" + std::to_string(i);
    const json& d = (*root)[i];
    if (!d.is_object()) return Status::error(where + ": must be an object, got " + show(d));
    auto image_id = get_id(d, "image_id", where);
    if (!image_id.ok()) return image_id.status();
    auto category_id = get_id(d, "category_id", where);
    if (!category_id.ok()) return category_id.status();
    auto box = get_box(d, where);
    if (!box.ok()) return box.status();
    auto score = get_number(d, "score", where);
    if (!score.ok()) return score.status();
    auto image = index_of(data->image_ids, *image_id, "image_id", "images", where, gt_name);
    if (!image.ok()) return image.status();
    auto category =
        index_of(data->category_ids, *category_id, "category_id", "categories", where, gt_name);
    if (!category.ok()) return category.status();
    data->cell(*category, *image).dts.push_back({*box, *score});
  }
  return Status();
}

// Keeps the top kMaxDetections by score (stable, so ties keep file order) and computes IoUs.
void prepare(Cell* cell) {
  std::stable_sort(cell->dts.begin(), cell->dts.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  if (cell->dts.size() > kMaxDetections) cell->dts.resize(kMaxDetections);
  cell->ious.resize(cell->dts.size() * cell->gts.size());
  for (size_t d = 0; d < cell->dts.size(); ++d) {
    for (size_t g = 0; g < cell->gts.size(); ++g) {
      cell->ious[d * cell->gts.size() + g] =
          box_iou(cell->dts[d].box, cell->gts[g].box, cell->gts[g].crowd);
    }
  }
}

// ---- Evaluation: COCOeval.evaluateImg, accumulate and summarize. ----

enum class Outcome : uint8_t { kFalsePositive, kTruePositive, kIgnored };

struct ImageEval {
  size_t regular_gts = 0;  // gts recall is measured against: not crowd, area in range
  std::array<std::vector<Outcome>, kNumIouThresholds> outcomes;  // [threshold][det]
};

ImageEval evaluate_image(const Cell& cell, const AreaRange& range) {
  const size_t num_gts = cell.gts.size();
  std::vector<uint8_t> gt_ignored(num_gts);
  for (size_t g = 0; g < num_gts; ++g) {
    gt_ignored[g] = cell.gts[g].crowd || !range.contains(cell.gts[g].area);
  }
  // Ignored gts last (stable): a detection then settles on a regular gt before any ignored one.
  std::vector<size_t> order(num_gts);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return gt_ignored[a] < gt_ignored[b]; });

  ImageEval result;
  result.regular_gts = static_cast<size_t>(std::count(gt_ignored.begin(), gt_ignored.end(), 0));
  for (size_t t = 0; t < kNumIouThresholds; ++t) {
    std::vector<uint8_t> taken(num_gts, 0);
    std::vector<Outcome>& outcomes = result.outcomes[t];
    outcomes.resize(cell.dts.size());
    for (size_t d = 0; d < cell.dts.size(); ++d) {
      double best = std::min(kIouThresholds[t], 1 - 1e-10);
      constexpr size_t kNone = std::numeric_limits<size_t>::max();
      size_t match = kNone;
      for (const size_t g : order) {
        // A regular gt is matched once; a crowd region absorbs any number of detections.
        if (taken[g] && !cell.gts[g].crowd) continue;
        if (match != kNone && !gt_ignored[match] && gt_ignored[g]) break;
        const double iou = cell.iou(d, g);
        if (iou < best) continue;
        best = iou;
        match = g;
      }
      if (match == kNone) {
        const Box& box = cell.dts[d].box;
        outcomes[d] = range.contains(box.w * box.h) ? Outcome::kFalsePositive : Outcome::kIgnored;
      } else {
        taken[match] = 1;
        outcomes[d] = gt_ignored[match] ? Outcome::kIgnored : Outcome::kTruePositive;
      }
    }
  }
  return result;
}

// COCOeval.eval's precision [T][R][K][A][M] and recall [T][K][A][M]; -1 = not evaluated.
struct Tables {
  explicit Tables(size_t num_categories)
      : categories(num_categories),
        precision(
            kNumIouThresholds * kNumRecallThresholds * categories * kNumAreaRanges * kNumMaxDets,
            -1.0),
        recall(kNumIouThresholds * categories * kNumAreaRanges * kNumMaxDets, -1.0) {}

  size_t precision_at(size_t t, size_t r, size_t k, size_t a, size_t m) const {
    return (((t * kNumRecallThresholds + r) * categories + k) * kNumAreaRanges + a) * kNumMaxDets +
           m;
  }
  size_t recall_at(size_t t, size_t k, size_t a, size_t m) const {
    return ((t * categories + k) * kNumAreaRanges + a) * kNumMaxDets + m;
  }

  size_t categories;
  std::vector<double> precision;
  std::vector<double> recall;
};

// Ranks the first `max_dets` detections of every image together and fills the tables for
// (k, a, m). Images come in ascending id order and the sort is stable, like numpy's mergesort.
void accumulate(const Dataset& data, const std::vector<ImageEval>& evals, size_t regular_gts,
                size_t k, size_t a, size_t m, Tables* tables) {
  struct Ranked {
    double score;
    size_t image;
    size_t det;
  };
  std::vector<Ranked> ranked;
  for (size_t i = 0; i < evals.size(); ++i) {
    const std::vector<Detection>& dts = data.cell(k, i).dts;
    const size_t n = std::min(kMaxDets[m], dts.size());
    for (size_t d = 0; d < n; ++d) ranked.push_back({dts[d].score, i, d});
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Ranked& x, const Ranked& y) { return x.score > y.score; });

  const size_t nd = ranked.size();
  std::vector<double> recall(nd);
  std::vector<double> precision(nd);
  for (size_t t = 0; t < kNumIouThresholds; ++t) {
    // Ignored detections stay in the arrays as repeated points, as in pycocotools' cumsum.
    double tp = 0;
    double fp = 0;
    for (size_t j = 0; j < nd; ++j) {
      const Outcome outcome = evals[ranked[j].image].outcomes[t][ranked[j].det];
      if (outcome == Outcome::kTruePositive) ++tp;
      if (outcome == Outcome::kFalsePositive) ++fp;
      recall[j] = tp / static_cast<double>(regular_gts);
      precision[j] = tp / (fp + tp + DBL_EPSILON);  // np.spacing(1)
    }
    tables->recall[tables->recall_at(t, k, a, m)] = nd ? recall[nd - 1] : 0;
    // Interpolated precision: the best precision at this recall or any higher one.
    for (size_t j = nd; j-- > 1;) precision[j - 1] = std::max(precision[j - 1], precision[j]);
    for (size_t r = 0; r < kNumRecallThresholds; ++r) {
      // searchsorted(side='left'); thresholds past the highest recall reached score 0.
      const size_t at = static_cast<size_t>(
          std::lower_bound(recall.begin(), recall.end(), kRecallThresholds[r]) - recall.begin());
      tables->precision[tables->precision_at(t, r, k, a, m)] = at < nd ? precision[at] : 0;
    }
  }
}

constexpr size_t kAllThresholds = std::numeric_limits<size_t>::max();

// Mean of the evaluated entries for one area range and maxDets, over categories, recall
// thresholds and the IoU threshold(s); -1 if there is none.
double mean_precision(const Tables& tables, size_t iou, size_t a, size_t m) {
  double sum = 0;
  size_t n = 0;
  for (size_t t = 0; t < kNumIouThresholds; ++t) {
    if (iou != kAllThresholds && t != iou) continue;
    for (size_t r = 0; r < kNumRecallThresholds; ++r) {
      for (size_t k = 0; k < tables.categories; ++k) {
        const double v = tables.precision[tables.precision_at(t, r, k, a, m)];
        if (v > -1) {
          sum += v;
          ++n;
        }
      }
    }
  }
  return n ? sum / static_cast<double>(n) : -1;
}

double mean_recall(const Tables& tables, size_t a, size_t m) {
  double sum = 0;
  size_t n = 0;
  for (size_t t = 0; t < kNumIouThresholds; ++t) {
    for (size_t k = 0; k < tables.categories; ++k) {
      const double v = tables.recall[tables.recall_at(t, k, a, m)];
      if (v > -1) {
        sum += v;
        ++n;
      }
    }
  }
  return n ? sum / static_cast<double>(n) : -1;
}

CocoStats evaluate(Dataset& data) {
  for (Cell& cell : data.cells) prepare(&cell);
  const size_t num_images = data.image_ids.size();
  Tables tables(data.category_ids.size());
  std::vector<ImageEval> evals(num_images);
  for (size_t k = 0; k < data.category_ids.size(); ++k) {
    for (size_t a = 0; a < kNumAreaRanges; ++a) {
      size_t regular_gts = 0;
      for (size_t i = 0; i < num_images; ++i) {
        evals[i] = evaluate_image(data.cell(k, i), kAreaRanges[a]);
        regular_gts += evals[i].regular_gts;
      }
      // No gt to recall: this category stays out of this area range's means.
      if (regular_gts == 0) continue;
      for (size_t m = 0; m < kNumMaxDets; ++m) {
        accumulate(data, evals, regular_gts, k, a, m, &tables);
      }
    }
  }

  constexpr size_t kAll = 0, kSmall = 1, kMedium = 2, kLarge = 3;
  constexpr size_t kTop1 = 0, kTop10 = 1, kTop100 = 2;
  CocoStats out;
  out.stats = {
      mean_precision(tables, kAllThresholds, kAll, kTop100),
      mean_precision(tables, kIou50, kAll, kTop100),
      mean_precision(tables, kIou75, kAll, kTop100),
      mean_precision(tables, kAllThresholds, kSmall, kTop100),
      mean_precision(tables, kAllThresholds, kMedium, kTop100),
      mean_precision(tables, kAllThresholds, kLarge, kTop100),
      mean_recall(tables, kAll, kTop1),
      mean_recall(tables, kAll, kTop10),
      mean_recall(tables, kAll, kTop100),
      mean_recall(tables, kSmall, kTop100),
      mean_recall(tables, kMedium, kTop100),
      mean_recall(tables, kLarge, kTop100),
  };
  return out;
}

}  // namespace

Result<CocoStats> evaluate_coco_json(const std::string& gt_json, const std::string& gt_name,
                                     const std::string& dt_json, const std::string& dt_name) {
  Dataset data;
  if (Status s = parse_gt(gt_json, gt_name, &data); !s.ok()) return s;
  if (Status s = parse_dt(dt_json, dt_name, gt_name, &data); !s.ok()) return s;
  return evaluate(data);
}

Result<CocoStats> evaluate_coco(const std::string& gt_path, const std::string& dt_path) {
  auto gt = read_file(gt_path);
  if (!gt.ok()) return gt.status();
  auto dt = read_file(dt_path);
  if (!dt.ok()) return dt.status();
  return evaluate_coco_json(*gt, gt_path, *dt, dt_path);
}

}  // namespace iris::eval
