// iris eval precision: the accuracy loop of the iris runtime. One model of a pipeline config runs
// over the same pictures at each precision (fp32, bf16, int8); each precision's detections are
// scored with COCO mAP against a ground truth (a COCO file, or the FP32 detections) and reported
// beside its inference speed, so a precision's cost in accuracy and its gain in speed are read
// off one table.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "apps/iris/commands.h"
#include "core/text.h"
#include "eval/coco.h"
#include "infer/model.h"
#include "pipeline/config.h"
#include "runtime/graph.h"
#include "runtime/model.h"
#include "runtime/quantize.h"

namespace iris::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

constexpr char kCommand[] = "iris eval precision";
constexpr int kDefaultClipFrames = 200;

struct PrecisionArgs {
  std::string config;
  std::string model;
  std::string images;  // exactly one of images and video
  std::string video;
  std::string int8;  // calibrated model file for the int8 row; "": the config's file
  std::string gt;    // COCO instances file; "": the fp32 detections are the ground truth
  int frames = 0;    // 0: every image, or kDefaultClipFrames of a clip
  int threads = 0;   // 0: OpenCV's default
  std::vector<std::string> precisions{"fp32", "bf16", "int8"};
  bool json = false;
};

// Prints `problem` for the arguments and returns nullopt, for parse()'s early exits.
std::nullopt_t usage_error(const std::string& problem) {
  std::fprintf(stderr, "%s: %s\n", kCommand, problem.c_str());
  return std::nullopt;
}

std::optional<PrecisionArgs> parse(const Args& args) {
  if (args.empty() || args[0].rfind("--", 0) == 0) {
    std::fprintf(stderr, "%s: needs CONFIG, a pipeline config (YAML), before the options\n\n%s",
                 kCommand, kEvalUsage);
    return std::nullopt;
  }
  PrecisionArgs a;
  a.config = args[0];
  const auto option = [&a](const std::string& flag,
                           const std::string& value) -> std::optional<std::string> {
    const std::map<std::string, std::pair<std::string*, const char*>> kText = {
        {"--model", {&a.model, "model name from the config's models"}},
        {"--images", {&a.images, "directory of .jpg, .png or .bmp images"}},
        {"--video", {&a.video, "video file"}},
        {"--int8", {&a.int8, "model file calibrated by `iris quantize`"}},
        {"--gt", {&a.gt, "COCO instances file"}}};
    if (const auto it = kText.find(flag); it != kText.end()) {
      *it->second.first = value;
      return value.empty() ? it->second.second : "";
    }
    if (flag == "--frames" || flag == "--threads") {
      const bool frames = flag == "--frames";
      const auto v = int_in_range(value, 1, frames ? 1000000 : 256);
      if (!v) return frames ? "number of frames from 1 to 1000000" : "thread count from 1 to 256";
      (frames ? a.frames : a.threads) = *v;
      return "";
    }
    if (flag == "--precisions") {
      auto precisions = parse_precisions(value);
      if (!precisions) return kPrecisionsWant;
      a.precisions = std::move(*precisions);
      return "";
    }
    return std::nullopt;
  };
  if (!read_options(kCommand, kEvalUsage, {args.begin() + 1, args.end()}, nullptr, &a.json,
                    option)) {
    return std::nullopt;
  }
  const auto has = [&a](const char* p) {
    return std::find(a.precisions.begin(), a.precisions.end(), p) != a.precisions.end();
  };
  if (a.model.empty()) {
    return usage_error("needs --model NAME, the config's model to evaluate");
  }
  if (a.images.empty() == a.video.empty()) {
    return usage_error(
        "needs exactly one of --images DIR and --video CLIP, the pictures to run the model on");
  }
  if (!a.images.empty() && !fs::is_directory(a.images)) {
    return usage_error("--images '" + a.images +
                       "' is not a directory; fix: name a directory of .jpg, .png or .bmp images");
  }
  for (const auto& [flag, path] :
       {std::pair{"--video", a.video}, {"--int8", a.int8}, {"--gt", a.gt}}) {
    if (!path.empty() && !fs::is_regular_file(path)) {
      return usage_error(std::string(flag) + " '" + path + "' is not a file; fix: check the path");
    }
  }
  if (!a.gt.empty() && !a.video.empty()) {
    return usage_error(
        "--gt goes with --images (its images' file_name are DIR's files), not --video; fix: "
        "extract the annotated frames to a directory, or drop --gt to score against fp32");
  }
  if (!a.int8.empty() && !has("int8")) {
    return usage_error(
        "--int8 is for the int8 row, and --precisions leaves int8 out; fix: add int8 to "
        "--precisions, or drop --int8");
  }
  if (a.gt.empty() && !has("fp32")) {
    return usage_error(
        "without --gt the fp32 detections are the ground truth, and --precisions leaves fp32 "
        "out; fix: add fp32 to --precisions, or pass --gt");
  }
  return a;
}

// A --gt file: its text, checked, and its image and category ids by name.
struct GroundTruth {
  std::string text;
  std::map<std::string, int64_t> image_ids;     // by file_name
  std::map<std::string, int64_t> category_ids;  // by name
};

Result<GroundTruth> read_gt(const std::string& path) {
  auto text = read_file(path);
  if (!text.ok()) return text.status();
  // Scoring no detections checks every record of the file, with errors that name it.
  if (auto checked = eval::evaluate_coco_json(*text, path, "[]", "no detections"); !checked.ok()) {
    return checked.status();
  }
  GroundTruth gt{.text = std::move(*text)};
  const json root = json::parse(gt.text);
  for (const json& image : root["images"]) {
    if (image.contains("file_name") && image["file_name"].is_string()) {
      gt.image_ids[image["file_name"].get<std::string>()] = image["id"].get<int64_t>();
    }
  }
  for (const json& category : root["categories"]) {
    if (category.contains("name") && category["name"].is_string()) {
      gt.category_ids[category["name"].get<std::string>()] = category["id"].get<int64_t>();
    }
  }
  return gt;
}

// The gt with only the images that ran (and their annotations), so that images left out by
// --frames do not count as missed.
std::string gt_of_images(const std::string& gt_text, const std::set<int64_t>& ran) {
  json root = json::parse(gt_text);
  const auto kept = [&ran](const char* key) {
    return [&ran, key](const json& record) { return ran.count(record[key].get<int64_t>()) == 0; };
  };
  auto& images = root["images"];
  images.erase(std::remove_if(images.begin(), images.end(), kept("id")), images.end());
  auto& annotations = root["annotations"];
  annotations.erase(std::remove_if(annotations.begin(), annotations.end(), kept("image_id")),
                    annotations.end());
  return root.dump();
}

// One precision's run.
struct Row {
  std::string precision;
  std::string file;    // the model file it ran
  std::string status;  // "ok", "reference" (fp32 as the ground truth), "skipped" or "error"
  std::string reason;  // why, when skipped or error
  std::shared_ptr<infer::Model> model;
  std::unique_ptr<infer::Context> context;
  json detections = json::array();  // COCO results
  int64_t count = 0;
  std::vector<double> ms;  // Context::infer per picture
  std::optional<eval::CocoStats> coco;
};

// Loads `row->file` at `row->precision` on the iris runtime with the config's `spec`; a failure
// makes the row an error.
void load_row(const infer::ModelSpec& spec, Row* row) {
  infer::ModelSpec s = spec;
  s.backend = "iris";
  s.path = row->file;
  s.precision = row->precision;
  auto model = infer::load_model(s);
  auto context = model.ok() ? (*model)->loaded()->new_context()
                            : Result<std::unique_ptr<infer::Context>>(model.status());
  if (!context.ok()) {
    row->status = "error";
    row->reason = context.status().message();
    return;
  }
  if ((*model)->task() != infer::Task::kDetect) {
    row->status = "error";
    row->reason = "model '" + spec.name + "' (decoder " + spec.decoder +
                  ") is not a detector; eval precision scores detections";
    return;
  }
  row->model = *model;
  row->context = std::move(*context);
  row->status = "ok";
}

// Whether the config's model file carries an `iris quantize` calibration for int8, the one the
// backend runs in int8 (choose_precision).
Result<bool> calibrated(const std::string& path) {
  auto graph = runtime::import_onnx_file(path);
  if (!graph.ok()) return graph.status();
  auto q = runtime::quantization_of(*graph);
  if (!q.ok()) return q.status();
  return q->has_value() && (*q)->precision == runtime::Precision::kInt8;
}

// COCO category ids: the gt's, by name, when --gt is given; else class index + 1 (a model without
// class names labels its classes "0", "1", ...).
class Categories {
 public:
  Categories(const infer::ModelSpec& spec, const GroundTruth* gt)
      : names_(spec.class_names), gt_(gt) {}

  std::optional<int64_t> id(const std::string& label) {
    if (gt_) {
      const auto it = gt_->category_ids.find(label);
      if (it != gt_->category_ids.end()) return it->second;
    } else if (!names_.empty()) {
      const auto it = std::find(names_.begin(), names_.end(), label);
      if (it != names_.end()) return it - names_.begin() + 1;
    } else if (int64_t index = 0; parse_int(label, &index) && index >= 0) {
      seen_[index + 1] = label;
      return index + 1;
    }
    unmatched_.insert(label);
    return std::nullopt;
  }

  // For the gt built from the fp32 detections.
  json list() const {
    json out = json::array();
    if (names_.empty()) {
      for (const auto& [id, name] : seen_) out.push_back({{"id", id}, {"name", name}});
    }
    for (size_t i = 0; i < names_.size(); ++i) {
      out.push_back({{"id", i + 1}, {"name", names_[i]}});
    }
    return out;
  }
  // Labels that have no category (with --gt: not a gt category name); their detections are left
  // out of the scores.
  const std::set<std::string>& unmatched() const { return unmatched_; }

 private:
  const std::vector<std::string> names_;
  const GroundTruth* gt_;
  std::map<int64_t, std::string> seen_;
  std::set<std::string> unmatched_;
};

json coco_box(const Box& b) {
  return json::array({rounded(b.x1, 2), rounded(b.y1, 2), rounded(std::max(0.0, b.width()), 2),
                      rounded(std::max(0.0, b.height()), 2)});
}

// A picture that ran, as the gt built from the fp32 detections lists it.
struct ImageRecord {
  int64_t id = 0;
  std::string file_name;
  int width = 0;
  int height = 0;
};

// The ground truth made of the fp32 detections: each one an annotation.
std::string gt_from(const Row& reference, const std::vector<ImageRecord>& images,
                    const Categories& categories) {
  json root;
  root["images"] = json::array();
  for (const ImageRecord& i : images) {
    root["images"].push_back(
        {{"id", i.id}, {"file_name", i.file_name}, {"width", i.width}, {"height", i.height}});
  }
  root["annotations"] = json::array();
  int64_t id = 1;
  for (const json& d : reference.detections) {
    const double area = d["bbox"][2].get<double>() * d["bbox"][3].get<double>();
    root["annotations"].push_back({{"id", id++},
                                   {"image_id", d["image_id"]},
                                   {"category_id", d["category_id"]},
                                   {"bbox", d["bbox"]},
                                   {"area", rounded(area, 2)},
                                   {"iscrowd", 0}});
  }
  root["categories"] = categories.list();
  return root.dump();
}

// Nearest rank, as `iris bench` takes it.
double p50(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return percentile(ms, 50);
}

double fps(const std::vector<double>& ms) {
  double sum = 0;
  for (double v : ms) sum += v;
  return ms.size() * 1000.0 / sum;
}

// Progress on stderr: one line rewritten in place on a terminal; otherwise a line every tenth of
// the run, once it has taken a few seconds.
class Progress {
 public:
  explicit Progress(size_t total) : total_(total), tty_(isatty(STDERR_FILENO) == 1) {}
  ~Progress() {
    if (shown_ && tty_) std::fprintf(stderr, "\r\033[K");
  }
  void update(size_t done) {
    const auto now = Clock::now();
    if (tty_) {
      if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
      std::fprintf(stderr, "\r\033[K%s: picture %zu/%zu", kCommand, done, total_);
    } else {
      if (now - start_ < std::chrono::seconds(3) || done * 10 / total_ == last_tenth_) return;
      last_tenth_ = done * 10 / total_;
      std::fprintf(stderr, "%s: picture %zu/%zu\n", kCommand, done, total_);
    }
    last_ = now;
    shown_ = true;
  }

 private:
  const size_t total_;
  const bool tty_;
  const Clock::time_point start_ = Clock::now();
  Clock::time_point last_;
  size_t last_tenth_ = 0;
  bool shown_ = false;
};

// Runs `row` on the picture `bgr`, COCO image `id`: preprocess, Context::infer (the one part
// timed), decode. The first picture gets an untimed run first, so that no row's time includes its
// context's setup.
Status run_row(int64_t id, const cv::Mat& bgr, bool first, Categories& categories, Row& row) {
  auto sample = row.model->preprocess(bgr);
  if (!sample.ok()) return sample.status();
  if (first) {
    if (auto warm = row.context->infer(sample->tensor); !warm.ok()) return warm.status();
  }
  const auto t0 = Clock::now();
  auto outputs = row.context->infer(sample->tensor);
  if (!outputs.ok()) return outputs.status();
  row.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  auto detections = row.model->detections(*outputs, sample->transform);
  if (!detections.ok()) return detections.status();
  row.count += detections->size();
  for (const Detection& d : *detections) {
    const auto category = categories.id(d.label);
    if (!category) continue;
    row.detections.push_back({{"image_id", id},
                              {"category_id", *category},
                              {"bbox", coco_box(d.box)},
                              {"score", rounded(d.score, 5)}});
  }
  return {};
}

json or_null(const std::optional<eval::CocoStats>& coco, size_t i) {
  if (!coco || coco->stats[i] < 0) return nullptr;
  return rounded(coco->stats[i]);
}

void print_json(const PrecisionArgs& a, const PictureSet& in, int threads, const std::string& truth,
                const Categories& categories, const std::vector<Row>& rows) {
  json j;
  j["config"] = a.config;
  j["model"] = a.model;
  j["backend"] = "iris";
  if (a.video.empty()) {
    j["images"] = a.images;
  } else {
    j["video"] = a.video;
    j["clip_frames"] = in.clip_frames;
  }
  j["frames"] = in.size();
  j["threads"] = threads;
  j["ground_truth"] = truth;
  j["unmatched_labels"] = categories.unmatched();
  j["rows"] = json::array();
  for (const Row& r : rows) {
    json row{{"precision", r.precision}, {"file", r.file}, {"status", r.status}};
    if (!r.reason.empty()) row["reason"] = r.reason;
    row["ap"] = or_null(r.coco, 0);
    row["ap50"] = or_null(r.coco, 1);
    row["ap75"] = or_null(r.coco, 2);
    const bool ran = (r.status == "ok" || r.status == "reference") && !r.ms.empty();
    row["detections"] = ran ? json(r.count) : json(nullptr);
    row["p50_ms"] = ran ? json(rounded(p50(r.ms))) : json(nullptr);
    row["fps"] = ran ? json(rounded(fps(r.ms), 1)) : json(nullptr);
    j["rows"].push_back(std::move(row));
  }
  std::printf("%s\n", j.dump(2).c_str());
}

void print_table(const PrecisionArgs& a, const PictureSet& in, int threads,
                 const std::string& truth, const Categories& categories,
                 const std::vector<Row>& rows) {
  const std::vector<std::string> head = {"precision", "file", "AP",     "AP50",
                                         "AP75",      "dets", "p50 ms", "fps"};
  std::vector<std::vector<std::string>> cells;
  for (const Row& r : rows) {
    std::vector<std::string> c = {r.precision, fs::path(r.file).filename().string()};
    for (size_t i = 0; i < 3; ++i) {
      const json v = or_null(r.coco, i);
      c.push_back(r.status == "reference" ? "ref"
                  : v.is_null()           ? (r.status == "ok" ? "-" : r.status)
                                          : fixed(v.get<double>(), 4));
    }
    if ((r.status == "ok" || r.status == "reference") && !r.ms.empty()) {
      c.push_back(std::to_string(r.count));
      c.push_back(fixed(p50(r.ms), 3));
      c.push_back(fixed(fps(r.ms), 1));
    } else {
      c.insert(c.end(), 3, r.status);
    }
    cells.push_back(std::move(c));
  }
  print_markdown_table(head, cells, 2);
  std::printf("\nmodel %s of %s on backend iris, %d thread%s; %zu pictures", a.model.c_str(),
              a.config.c_str(), threads, threads == 1 ? "" : "s", in.size());
  if (!a.video.empty()) {
    std::printf(" (of the %lld frames of %s)", static_cast<long long>(in.clip_frames),
                a.video.c_str());
  } else {
    std::printf(" of %s", a.images.c_str());
  }
  std::printf("\nAP: COCO mAP@[.5:.95] against %s; time: the backend's infer call only\n",
              truth.c_str());
  if (!categories.unmatched().empty()) {
    std::printf("left out of the scores (no such category): %s\n",
                join(categories.unmatched()).c_str());
  }
  for (const Row& r : rows) {
    if (r.status == "skipped" || r.status == "error") {
      std::printf("%s: %s: %s\n", r.status.c_str(), r.precision.c_str(), r.reason.c_str());
    }
  }
}

int fail(const Status& s) {
  std::fprintf(stderr, "%s: %s\n", kCommand, s.message().c_str());
  return 1;
}

}  // namespace

int eval_precision_main(const Args& args) {
  const auto a = parse(args);
  if (!a) return 2;
  auto config = pipeline::load_config(a->config, pipeline::Needs::kStreamsOrModels);
  if (!config.ok()) return fail(config.status());
  const auto spec = std::find_if(config->models.begin(), config->models.end(),
                                 [&a](const infer::ModelSpec& m) { return m.name == a->model; });
  if (spec == config->models.end()) {
    std::fprintf(stderr, "%s: --model '%s' is not a model of %s; fix: use one of: %s\n", kCommand,
                 a->model.c_str(), a->config.c_str(),
                 config->models.empty() ? "(none: the config has no models)"
                                        : join(config->models, ", ", [](const infer::ModelSpec& m) {
                                            return m.name;
                                          }).c_str());
    return 2;
  }
  if (a->threads > 0) cv::setNumThreads(a->threads);

  std::optional<GroundTruth> gt;
  if (!a->gt.empty()) {
    auto read = read_gt(a->gt);
    if (!read.ok()) return fail(read.status());
    gt = std::move(*read);
  }
  auto input = choose_pictures(a->images, a->video,
                               a->frames > 0      ? a->frames
                               : a->video.empty() ? 0
                                                  : kDefaultClipFrames);
  if (!input.ok())
    return fail(input.status().with_context(a->images.empty() ? "--video" : "--images"));
  std::set<int64_t> ran;  // gt image ids of the pictures run
  if (gt) {
    for (const std::string& file : input->files) {
      const auto it = gt->image_ids.find(file);
      if (it == gt->image_ids.end()) {
        return fail(Status::error(
            "image '" + file + "' of " + a->images + " is not an image of " + a->gt +
            " (matched by file_name); fix: add it to the gt, or move it out of the directory"));
      }
      ran.insert(it->second);
    }
  }

  std::vector<Row> rows;
  for (const std::string& precision : a->precisions) {
    Row row{.precision = precision, .file = spec->path};
    if (precision == "int8" && !a->int8.empty()) {
      row.file = a->int8;
    } else if (precision == "int8") {
      auto has = calibrated(spec->path);
      if (!has.ok()) return fail(has.status());
      if (!*has) {
        row.status = "skipped";
        row.reason = spec->path + " is not calibrated; fix: calibrate it with `iris quantize " +
                     spec->name + " --config " + a->config +
                     " --calib PICTURES --out FILE` and pass --int8 FILE";
        rows.push_back(std::move(row));
        continue;
      }
    }
    load_row(*spec, &row);
    rows.push_back(std::move(row));
  }
  const auto reference =
      std::find_if(rows.begin(), rows.end(), [](const Row& r) { return r.precision == "fp32"; });
  if (!gt && reference->status != "ok") {
    return fail(
        Status::error("fp32, the ground truth without --gt, did not load: " + reference->reason));
  }

  Categories categories(*spec, gt ? &*gt : nullptr);
  std::vector<ImageRecord> images;  // the pictures run, in order
  {
    Progress progress(input->size());
    const Status read =
        for_each_picture(*input, [&](const std::string& name, int64_t index, const cv::Mat& bgr) {
          // The COCO image id: the gt's, else the image's position or the frame index.
          const int64_t id = gt ? gt->image_ids.at(name) : index;
          for (Row& row : rows) {
            if (!row.model) continue;
            if (Status s = run_row(id, bgr, images.empty(), categories, row); !s.ok()) {
              row.status = "error";
              row.reason = name + ": " + s.message();
              row.model.reset();
            }
          }
          images.push_back({id, name, bgr.cols, bgr.rows});
          progress.update(images.size());
          return Status();
        });
    if (!read.ok()) return fail(read);
  }

  std::string truth_text;
  std::string truth;  // what the scores are against, for the report
  if (gt) {
    truth_text = gt_of_images(gt->text, ran);
    truth = a->gt;
  } else if (reference->status == "ok") {
    truth_text = gt_from(*reference, images, categories);
    truth = "the fp32 detections";
    reference->status = "reference";
  } else {
    truth = "the fp32 detections, which failed";
  }
  for (Row& row : rows) {
    if (row.status != "ok") continue;
    if (truth_text.empty()) {
      row.status = "error";
      row.reason = "no ground truth to score against: fp32 failed";
      continue;
    }
    auto coco = eval::evaluate_coco_json(truth_text, truth, row.detections.dump(),
                                         row.precision + " detections");
    if (!coco.ok()) {
      row.status = "error";
      row.reason = coco.status().message();
      continue;
    }
    row.coco = *coco;
  }

  const int threads = cv::getNumThreads();
  if (a->json) {
    print_json(*a, *input, threads, truth, categories, rows);
  } else {
    print_table(*a, *input, threads, truth, categories, rows);
  }
  const bool failed =
      std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.status == "error"; });
  if (failed) {
    std::fprintf(stderr, "%s: a precision failed to run or to be scored; see its reason\n",
                 kCommand);
  }
  return failed ? 1 : 0;
}

}  // namespace iris::app
