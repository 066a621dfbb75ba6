#include "infer/postprocess.h"

#include <algorithm>
#include <numeric>
#include <ranges>

#include "core/text.h"

namespace iris::infer {

std::vector<size_t> nms(const std::vector<Candidate>& c, double iou_threshold) {
  std::vector<size_t> order(c.size());
  std::iota(order.begin(), order.end(), 0);
  // Grouped by class, best first within each: a box only ever competes with its own class.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return c[a].class_id != c[b].class_id ? c[a].class_id < c[b].class_id : c[a].score > c[b].score;
  });
  std::vector<size_t> kept;
  size_t class_start = 0;  // where the current class's kept boxes begin in `kept`
  for (size_t i = 0; i < order.size(); ++i) {
    const Candidate& cand = c[order[i]];
    if (i > 0 && cand.class_id != c[order[i - 1]].class_id) class_start = kept.size();
    bool keep = true;
    for (size_t k = class_start; keep && k < kept.size(); ++k) {
      keep = iou(cand.box, c[kept[k]].box) <= iou_threshold;
    }
    if (keep) kept.push_back(order[i]);
  }
  std::stable_sort(kept.begin(), kept.end(),
                   [&](size_t a, size_t b) { return c[a].score > c[b].score; });
  return kept;
}

std::vector<Detection> merge_detections(std::vector<Detection> detections, double iou_threshold,
                                        int max_detections) {
  std::vector<std::string> labels;
  std::vector<Candidate> candidates;
  candidates.reserve(detections.size());
  for (const Detection& d : detections) {
    auto it = std::find(labels.begin(), labels.end(), d.label);
    if (it == labels.end()) it = labels.insert(labels.end(), d.label);
    candidates.push_back({d.box, static_cast<int>(it - labels.begin()), d.score});
  }
  std::vector<Detection> kept;
  for (size_t i : nms(candidates, iou_threshold)) {
    if (static_cast<int>(kept.size()) >= max_detections) break;
    kept.push_back(std::move(detections[i]));
  }
  return kept;
}

Result<Postprocess> Postprocess::create(const ModelSpec& spec, int num_classes) {
  Postprocess p;
  p.names_ = spec.class_names;
  for (int i = static_cast<int>(p.names_.size()); i < num_classes; ++i) {
    p.names_.push_back(std::to_string(i));
  }
  p.threshold_ = spec.score_threshold;
  p.min_score_ = spec.score_threshold;
  p.nms_iou_ = spec.nms_iou;
  p.max_detections_ = spec.max_detections;
  p.thresholds_.assign(p.names_.size(), p.threshold_);
  for (const auto& [name, threshold] : spec.class_thresholds) {
    const auto it = std::find(p.names_.begin(), p.names_.end(), name);
    size_t id = it - p.names_.begin();
    // Models that do not say how many classes they have (end2end) take class numbers.
    const bool number =
        !name.empty() && name.size() < 6 &&
        std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (it == p.names_.end() && spec.class_names.empty() && num_classes == 0 && number) {
      id = std::stoul(name);
      if (id >= p.thresholds_.size()) p.thresholds_.resize(id + 1, p.threshold_);
    } else if (it == p.names_.end()) {
      constexpr size_t kShown = 10;
      std::string known = join(std::views::take(p.names_, kShown));
      if (p.names_.size() > kShown) known += ", ...";
      return Status::error("class_thresholds of model '" + spec.name + "' names '" + name +
                           "', which is not one of its classes (" + known +
                           "); fix: use a name from the model's classes");
    }
    p.thresholds_[id] = threshold;
    p.min_score_ = std::min(p.min_score_, threshold);
  }
  return p;
}

std::string Postprocess::label(int class_id) const {
  return class_id >= 0 && class_id < static_cast<int>(names_.size()) ? names_[class_id]
                                                                     : std::to_string(class_id);
}

std::vector<Detection> Postprocess::run(std::vector<Candidate> candidates,
                                        const InputTransform& transform, bool run_nms) const {
  std::vector<Candidate> kept;
  kept.reserve(candidates.size());
  for (Candidate& c : candidates) {
    const bool known = c.class_id >= 0 && c.class_id < static_cast<int>(thresholds_.size());
    if (c.score < (known ? thresholds_[c.class_id] : threshold_)) continue;
    c.box = transform.to_source(c.box);
    if (c.box.area() <= 0) continue;  // entirely in the letterbox border or off the picture
    kept.push_back(c);
  }
  std::vector<size_t> order;
  if (run_nms) {
    order = nms(kept, nms_iou_);
  } else {
    order.resize(kept.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return kept[a].score > kept[b].score; });
  }
  if (order.size() > static_cast<size_t>(std::max(max_detections_, 0))) {
    order.resize(std::max(max_detections_, 0));
  }
  std::vector<Detection> out;
  out.reserve(order.size());
  for (size_t i : order) {
    Detection d;
    d.box = kept[i].box;
    d.label = label(kept[i].class_id);
    d.score = kept[i].score;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace iris::infer
