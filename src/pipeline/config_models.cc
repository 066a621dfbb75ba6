#include "pipeline/config_models.h"

#include <filesystem>
#include <fstream>
#include <ranges>

#include "core/text.h"
#include "runtime/model.h"

namespace iris::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kModelKeys[] = {"name",
                                           "path",
                                           "backend",
                                           "precision",
                                           "input_size",
                                           "layout",
                                           "channels",
                                           "scale",
                                           "mean",
                                           "std",
                                           "resize",
                                           "pad_value",
                                           "decoder",
                                           "classes",
                                           "score_threshold",
                                           "class_thresholds",
                                           "nms_iou",
                                           "max_detections",
                                           "top_k",
                                           "max_batch",
                                           "max_delay_us",
                                           "queue_capacity",
                                           "instances"};
constexpr std::string_view kBackends[] = {"opencv", "iris"};
constexpr std::string_view kLayouts[] = {"nchw", "nhwc"};
constexpr std::string_view kChannels[] = {"rgb", "bgr"};
constexpr std::string_view kResizes[] = {"letterbox", "stretch"};
constexpr std::string_view kDetectionDecoders[] = {"yolov5", "yolov8",    "yolox",
                                                   "ssd",    "blazeface", "end2end"};
constexpr std::string_view kSecondaryDecoders[] = {"classifier", "embedding"};
constexpr std::string_view kDecoders[] = {"yolov5",    "yolov8",  "yolox",      "ssd",
                                          "blazeface", "end2end", "classifier", "embedding"};
constexpr std::string_view kDnnDetectorKeys[] = {"type", "model", "tiles"};
constexpr std::string_view kTileKeys[] = {"grid", "overlap", "full_frame"};
constexpr std::string_view kSecondaryKeys[] = {"model", "classes", "min_size", "interval",
                                               "padding"};

// A list of exactly `n` numbers in `range`, e.g. mean: [0.485, 0.456, 0.406]; `whole` refuses
// fractions (sizes and counts).
std::optional<std::vector<double>> read_numbers(Diagnostics& diag, const Item& item, size_t n,
                                                const Range& range, std::string_view example,
                                                bool whole = false) {
  const auto items = read_list(diag, item, example);
  if (!items) return std::nullopt;
  if (items->size() != n) {
    diag.error(item.mark, item.path,
               "expected " + std::to_string(n) + " numbers, got " + std::to_string(items->size()) +
                   "; e.g. " + std::string(example));
    return std::nullopt;
  }
  std::vector<double> out;
  for (const Item& i : *items) {
    const std::optional<double> v =
        whole ? std::optional<double>(read_int(diag, i, range)) : read_number(diag, i, range);
    if (!v) return std::nullopt;
    out.push_back(*v);
  }
  return out;
}

void check_model_file(Diagnostics& diag, const Item& item, const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  const std::string where = relative_note(path);
  if (!fs::exists(status)) {
    diag.error(item.mark, item.path,
               "model file '" + path + "' does not exist" + where +
                   "; give the path of an .onnx file (the bundled ones are fetched into models/ "
                   "by scripts/fetch_models.sh)");
  } else if (!fs::is_regular_file(status)) {
    diag.error(item.mark, item.path, "'" + path + "' is not a regular file" + where);
  } else if (!std::ifstream(path, std::ios::binary)) {
    diag.error(item.mark, item.path, "model file '" + path + "' is not readable");
  }
}

std::optional<infer::ModelSpec> read_model(Diagnostics& diag, const MapReader& map) {
  map.check_keys(kModelKeys);
  infer::ModelSpec m;
  if (!map.get("name")) map.missing("name", "give the model a unique name, e.g. name: yolo");
  map.read("name", &m.name);
  if (!map.get("path")) {
    map.missing("path", "give the .onnx file, e.g. path: models/yolov8n.onnx");
  } else if (map.read("path", &m.path)) {
    check_model_file(diag, *map.get("path"), m.path);
  }
  bool backend_ok = true;  // a wrong backend is reported once, not again by precision
  if (const auto item = map.get("backend")) {
    const auto b = read_choice(diag, *item, "backend", kBackends);
    backend_ok = b.has_value();
    if (b) m.backend = *b;
  }
  if (const auto item = map.get("precision")) {
    const auto p = read_choice(diag, *item, "precision", runtime::kPrecisionNames);
    if (p && m.backend == "iris") {
      m.precision = *p;
    } else if (p && backend_ok) {
      diag.error(
          item->mark, item->path,
          "precision applies to backend: iris, and this model runs on backend: " + m.backend +
              ", which computes in fp32; fix: add backend: iris, or drop precision");
    }
  }
  if (const auto item = map.get("input_size")) {
    if (auto wh = read_numbers(diag, *item, 2, Range::closed(1, 8192),
                               "input_size: [640, 640] (width, height)", true)) {
      m.input_width = static_cast<int>((*wh)[0]);
      m.input_height = static_cast<int>((*wh)[1]);
    }
  }
  if (const auto item = map.get("layout")) {
    if (auto l = read_choice(diag, *item, "layout", kLayouts)) {
      m.layout = *l == "nhwc" ? infer::Layout::kNHWC : infer::Layout::kNCHW;
    }
  }
  if (const auto item = map.get("channels")) {
    if (auto c = read_choice(diag, *item, "channel order", kChannels)) m.rgb = *c == "rgb";
  }
  map.read("scale", &m.scale, Range::above(0));
  if (const auto item = map.get("mean")) {
    if (auto v = read_numbers(diag, *item, 3, {}, "mean: [0.485, 0.456, 0.406]")) {
      std::copy(v->begin(), v->end(), m.mean.begin());
    }
  }
  if (const auto item = map.get("std")) {
    if (auto v = read_numbers(diag, *item, 3, Range::above(0), "std: [0.229, 0.224, 0.225]")) {
      std::copy(v->begin(), v->end(), m.std.begin());
    }
  }
  if (const auto item = map.get("resize")) {
    if (auto r = read_choice(diag, *item, "resize mode", kResizes)) {
      m.resize = *r == "stretch" ? infer::Resize::kStretch : infer::Resize::kLetterbox;
    }
  }
  map.read("pad_value", &m.pad_value, Range::closed(0, 255));
  if (!map.get("decoder")) {
    map.missing("decoder", "choose one of: " + join(kDecoders));
  } else if (auto d = read_choice(diag, *map.get("decoder"), "decoder", kDecoders)) {
    m.decoder = *d;
  }
  if (const auto item = map.get("classes")) {
    m.class_names = read_strings(diag, *item, "classes: [person, bicycle, car]");
  }
  double score = m.score_threshold;
  if (map.read("score_threshold", &score, Range::closed(0, 1))) m.score_threshold = score;
  if (const auto item = map.get("class_thresholds")) {
    const MapReader per_class(diag, *item);
    if (per_class.is_map()) {
      for (auto it = item->node.begin(); it != item->node.end(); ++it) {
        const std::string name = it->first.as<std::string>("");
        double v = 0;
        if (name.empty() || !per_class.read(name, &v, Range::closed(0, 1))) continue;
        if (!m.class_names.empty() &&
            std::find(m.class_names.begin(), m.class_names.end(), name) == m.class_names.end()) {
          const Item entry = *per_class.get(name);
          diag.error(entry.mark, entry.path,
                     "'" + name + "' is not one of this model's classes; check `classes:`");
          continue;
        }
        m.class_thresholds[name] = static_cast<float>(v);
      }
    }
  }
  double iou = m.nms_iou;
  if (map.read("nms_iou", &iou, Range::open_closed(0, 1))) m.nms_iou = static_cast<float>(iou);
  map.read("max_detections", &m.max_detections, Range::closed(1, 100000));
  map.read("top_k", &m.top_k, Range::closed(1, 1000));
  map.read("max_batch", &m.server.max_batch, Range::closed(1, 1024));
  map.read("max_delay_us", &m.server.max_delay_us, Range::closed(0, 10'000'000));
  map.read("queue_capacity", &m.server.queue_capacity, Range::closed(1, 1'000'000));
  map.read("instances", &m.server.instances, Range::closed(1, 64));
  if (m.name.empty() || m.path.empty() || m.decoder.empty()) return std::nullopt;
  return m;
}

// The model a stream refers to, if it exists and its decoder is of the wanted kind.
bool check_model_ref(Diagnostics& diag, const Item& item, const std::string& name,
                     const ModelSpecs& models, std::span<const std::string_view> decoders,
                     std::string_view role) {
  const auto it = models.find(name);
  if (it == models.end()) {
    const std::string known = join(std::views::keys(models));
    diag.error(item.mark, item.path,
               "no model named '" + name + "' in models:" +
                   (known.empty() ? "; add it there" : "; known models: " + known) +
                   " (a model with errors reported above does not count)");
    return false;
  }
  if (!is_one_of(decoders, it->second.decoder)) {
    diag.error(item.mark, item.path,
               "model '" + name + "' has decoder " + it->second.decoder + ", which is not a " +
                   std::string(role) + "; a " + std::string(role) +
                   " needs one of: " + join(decoders));
    return false;
  }
  return true;
}

}  // namespace

ModelSpecs read_models(Diagnostics& diag, const Item& item) {
  ModelSpecs out;
  const auto items =
      read_list(diag, item, "models: [{name: yolo, path: yolo.onnx, decoder: yolov8}]");
  if (!items) return out;
  for (const Item& model_item : *items) {
    const MapReader map(diag, model_item);
    if (!map.is_map()) continue;
    auto spec = read_model(diag, map);
    if (!spec) continue;
    const Item name = *map.get("name");
    if (out.count(spec->name)) {
      diag.error(name.mark, name.path,
                 "duplicate model name '" + spec->name + "'; model names must be unique");
      continue;
    }
    out.emplace(spec->name, std::move(*spec));
  }
  return out;
}

std::optional<detect::DnnSpec> read_dnn_detector(Diagnostics& diag, const MapReader& map,
                                                 const ModelSpecs& models) {
  map.check_keys(kDnnDetectorKeys);
  detect::DnnSpec dnn;
  if (!map.get("model")) {
    map.missing("model", "name a model from the models: section, e.g. model: yolo");
    return std::nullopt;
  }
  if (!map.read("model", &dnn.model)) return std::nullopt;
  const bool model_ok =
      check_model_ref(diag, *map.get("model"), dnn.model, models, kDetectionDecoders, "detector");
  if (const auto item = map.get("tiles")) {
    const MapReader tiles(diag, *item);
    if (!tiles.is_map()) return std::nullopt;
    tiles.check_keys(kTileKeys);
    detect::TileSpec t;
    if (const auto grid = tiles.get("grid")) {
      if (auto cr = read_numbers(diag, *grid, 2, Range::closed(1, 16), "grid: [2, 2] (cols, rows)",
                                 true)) {
        t.cols = static_cast<int>((*cr)[0]);
        t.rows = static_cast<int>((*cr)[1]);
      }
    }
    tiles.read("overlap", &t.overlap, Range::closed_open(0, 0.9));
    tiles.read("full_frame", &t.full_frame);
    dnn.tiles = t;
  }
  return model_ok ? std::optional(dnn) : std::nullopt;
}

std::vector<SecondarySpec> read_secondary(Diagnostics& diag, const Item& item,
                                          const ModelSpecs& models) {
  std::vector<SecondarySpec> out;
  const auto items =
      read_list(diag, item, "secondary: [{model: color, classes: [car], interval: 1}]");
  if (!items) return out;
  for (const Item& s_item : *items) {
    const MapReader map(diag, s_item);
    if (!map.is_map()) continue;
    map.check_keys(kSecondaryKeys);
    SecondarySpec s;
    if (!map.get("model")) {
      map.missing("model", "name a classifier or embedding model from models:");
      continue;
    }
    if (!map.read("model", &s.model) || !check_model_ref(diag, *map.get("model"), s.model, models,
                                                         kSecondaryDecoders, "secondary model")) {
      continue;
    }
    if (const auto classes = map.get("classes")) {
      s.classes = read_strings(diag, *classes, "classes: [car, truck]");
    }
    map.read("min_size", &s.min_size, Range::closed(1, 100000));
    map.read("interval", &s.interval, Range::at_least(0));
    map.read("padding", &s.padding, Range::closed(0, 2));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace iris::pipeline
