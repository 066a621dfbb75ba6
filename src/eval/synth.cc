// The generator's command: the scene, its truth and detections written to files, and the video.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "eval/synth_internal.h"
#include "video/video_writer.h"

namespace iris::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;
using synth_internal::render_background;
using synth_internal::render_frame;
using synth_internal::round_to;

constexpr char kStream[] = "synth";

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

Status write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    return Status::error("cannot write " + path.string() + ": " + std::strerror(errno) +
                         "; check that the directory is writable and the disk has room");
  }
  return Status();
}

std::string gt_txt(const std::vector<std::vector<GtBox>>& gt) {
  std::string out;
  for (size_t f = 0; f < gt.size(); ++f) {
    for (const GtBox& g : gt[f]) {
      char line[160];
      std::snprintf(line, sizeof line, "%zu,%d,%.0f,%.0f,%.0f,%.0f,1,%d,%.3f\n", f + 1, g.object_id,
                    g.box.x1, g.box.y1, g.box.width(), g.box.height(), static_cast<int>(g.cls),
                    g.visibility);
      out += line;
    }
  }
  return out;
}

ordered_json categories() {
  ordered_json list = ordered_json::array();
  for (const ObjectClass c : kObjectClasses) {
    list.push_back({{"id", static_cast<int>(c)}, {"name", class_name(c)}});
  }
  return list;
}

// One record a line, so the file diffs and greps well.
std::string json_list(const std::vector<ordered_json>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ",\n  " : "\n  ") + items[i].dump();
  return out + (items.empty() ? "]" : "\n]");
}

std::string gt_coco(const Scene& s, const std::vector<std::vector<GtBox>>& gt) {
  std::vector<ordered_json> images, annotations;
  for (size_t f = 0; f < gt.size(); ++f) {
    images.push_back({{"id", f + 1},
                      {"file_name", "video.mp4#" + std::to_string(f + 1)},
                      {"width", s.width},
                      {"height", s.height}});
    for (const GtBox& g : gt[f]) {
      if (g.visibility < kDetectableVisibility) continue;
      annotations.push_back({{"id", annotations.size() + 1},
                             {"image_id", f + 1},
                             {"category_id", static_cast<int>(g.cls)},
                             {"bbox", {g.box.x1, g.box.y1, g.box.width(), g.box.height()}},
                             {"area", g.box.area()},
                             {"iscrowd", 0},
                             {"track_id", g.object_id},
                             {"visibility", round_to(g.visibility, 0.001)}});
    }
  }
  return "{\"info\": " +
         ordered_json{{"description", "iris synth, scenario " + s.scenario}, {"seed", s.seed}}
             .dump() +
         ",\n\"categories\": " + categories().dump() + ",\n\"images\": " + json_list(images) +
         ",\n\"annotations\": " + json_list(annotations) + "}\n";
}

ordered_json points_json(const std::vector<Point>& points) {
  ordered_json list = ordered_json::array();
  for (const Point& p : points) list.push_back({p.x, p.y});
  return list;
}

const char* type_name(const SceneRule& r) {
  static const char* const kTypes[] = {"zone", "line", "loiter", "crowd"};
  return kTypes[r.shape.index()];
}

// The rule as pipeline.yaml writes it, keys and values alike.
ordered_json rule_json(const SceneRule& r) {
  ordered_json j{{"name", r.name}, {"type", type_name(r)}};
  std::visit(
      [&j](const auto& shape) {
        using T = std::decay_t<decltype(shape)>;
        if constexpr (std::is_same_v<T, SynthZone>) {
          j["polygon"] = points_json(shape.polygon);
          j["min_dwell"] = shape.min_dwell;
          j["exit_grace"] = shape.exit_grace;
        } else if constexpr (std::is_same_v<T, SynthLine>) {
          j["points"] = points_json({shape.a, shape.b});
          j["margin"] = shape.margin;
        } else if constexpr (std::is_same_v<T, SynthLoiter>) {
          j["polygon"] = points_json(shape.polygon);
          j["min_time"] = shape.min_time;
          j["max_gap"] = shape.max_gap;
        } else {
          j["polygon"] = points_json(shape.polygon);
          j["max_count"] = shape.max_count;
          j["min_time"] = shape.min_time;
        }
      },
      r.shape);
  if (!r.classes.empty()) j["classes"] = r.classes;
  return j;
}

std::string truth_json(const Scene& s, const std::vector<TruthEvent>& events) {
  ordered_json stream{{"name", kStream},
                      {"duration", s.frames / s.fps},
                      {"frames", s.frames},
                      {"fps", s.fps},
                      {"width", s.width},
                      {"height", s.height},
                      {"rules", ordered_json::array()}};
  for (const SceneRule& r : s.rules) stream["rules"].push_back(rule_json(r));
  std::vector<ordered_json> list;
  for (const TruthEvent& e : events) {
    ordered_json j{{"stream", kStream}, {"rule", e.rule},
                   {"type", e.type},    {"media_time", round_to(e.media_time, 0.001)},
                   {"frame", e.frame},  {"object_id", e.object_id},
                   {"class", e.label}};
    if (!e.direction.empty()) j["direction"] = e.direction;
    if (e.duration) j["duration"] = round_to(*e.duration, 0.001);
    if (e.count) j["count"] = *e.count;
    list.push_back(std::move(j));
  }
  return "{\"schema\": \"iris.truth.v1\",\n\"scenario\": " + ordered_json(s.scenario).dump() +
         ",\n\"seed\": " + std::to_string(s.seed) + ",\n\"streams\": [" + stream.dump() +
         "],\n\"events\": " + json_list(list) + "}\n";
}

std::string detections_txt(const std::vector<std::vector<SynthDetection>>& dets) {
  std::string out;
  for (size_t f = 0; f < dets.size(); ++f) {
    for (const SynthDetection& d : dets[f]) {
      char line[160];
      std::snprintf(line, sizeof line, "%zu,-1,%.2f,%.2f,%.2f,%.2f,%.3f,%d\n", f + 1, d.box.x1,
                    d.box.y1, d.box.width(), d.box.height(), d.score, static_cast<int>(d.cls));
      out += line;
    }
  }
  return out;
}

// A value of rule_json() as YAML's flow style writes it: [[1, 2], [3, 4]], [person, car], 0.5.
std::string yaml_value(const ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) return fmt("%g", v.get<double>());
  return "[" + join(v, ", ", yaml_value) + "]";
}

// A pipeline that replays the detections over the video with the scene's rules. One key a line,
// so scripts can swap the tracker or add keys (bench/track_matrix.sh does).
std::string pipeline_yaml(const Scene& s, const fs::path& dir) {
  std::string y = "# Written by `iris synth --scenario " + s.scenario + " --seed " +
                  std::to_string(s.seed) + "`: the noisy detections of detections.txt replayed\n" +
                  "# over video.mp4 with the scene's rules. Run it with `iris run " +
                  (dir / "pipeline.yaml").string() + "`.\n";
  y += "streams:\n  - name: " + std::string(kStream) +
       "\n    url: " + (dir / "video.mp4").string() +
       "\n    detector:\n      type: replay\n      path: " + (dir / "detections.txt").string() +
       "\n      classes: [";
  y += join(kObjectClasses, ", ", class_name);
  y += "]\n    tracker: {type: sort}\n    rules:\n";
  for (const SceneRule& r : s.rules) {
    // The keys and values of truth.json's rule, with the classes before the shape's.
    const ordered_json j = rule_json(r);
    y += "      - name: " + r.name + "\n        type: " + type_name(r) + "\n";
    if (!r.classes.empty()) y += "        classes: " + yaml_value(j.at("classes")) + "\n";
    for (const auto& [key, value] : j.items()) {
      if (key == "name" || key == "type" || key == "classes") continue;
      y += "        " + key + ": " + yaml_value(value) + "\n";
    }
  }
  y += "    outputs:\n      - type: jsonl\n        path: " + (dir / "events.jsonl").string() +
       "\n      - type: mot\n        path: " + (dir / "tracks.txt").string() + "\n";
  return y;
}

}  // namespace

Result<SynthSummary> synthesize(const SynthOptions& options, const std::string& dir_name,
                                const std::function<void(int64_t, int64_t)>& progress) {
  auto scene = make_scene(options);
  if (!scene.ok()) return scene.status();
  std::error_code ec;
  fs::create_directories(dir_name, ec);
  if (ec) {
    return Status::error("cannot create directory '" + dir_name + "': " + ec.message() +
                         "; give a writable --out directory");
  }
  const fs::path dir = fs::absolute(dir_name, ec).lexically_normal();

  SynthSummary summary;
  const auto gt = ground_truth(*scene);
  summary.events = rule_truth(*scene, gt);
  const auto dets = noisy_detections(*scene, options, gt);
  summary.frames = scene->frames;
  for (const SceneObject& o : scene->objects) ++summary.objects[static_cast<int>(o.cls)];
  for (const auto& frame : gt) {
    summary.gt_boxes += static_cast<int64_t>(frame.size());
    for (const GtBox& g : frame) summary.detectable += g.visibility >= kDetectableVisibility;
  }
  for (const auto& frame : dets) {
    for (const SynthDetection& d : frame) {
      ++(d.kind == DetectionKind::kTrue      ? summary.true_detections
         : d.kind == DetectionKind::kFlicker ? summary.flicker
                                             : summary.standee);
    }
  }

  const std::pair<const char*, std::string> files[] = {
      {"gt.txt", gt_txt(gt)},
      {"gt_coco.json", gt_coco(*scene, gt)},
      {"truth.json", truth_json(*scene, summary.events)},
      {"detections.txt", detections_txt(dets)},
      {"pipeline.yaml", pipeline_yaml(*scene, dir)},
  };
  for (const auto& [name, text] : files) {
    if (Status s = write_file(dir / name, text); !s) return s;
  }

  video::WriterOptions wo;
  wo.width = scene->width;
  wo.height = scene->height;
  wo.fps = scene->fps;
  wo.crf = 20;
  const std::string video_path = (dir / "video.mp4").string();
  auto writer = video::VideoWriter::open(video_path, wo);
  if (!writer.ok()) return writer.status();
  const cv::Mat background = render_background(*scene);
  for (int64_t f = 0; f < scene->frames; ++f) {
    if (Status s = (*writer)->write(render_frame(*scene, background, f), scene->time_of(f)); !s) {
      return s;
    }
    if (progress) progress(f + 1, scene->frames);
  }
  if (Status s = (*writer)->close(); !s) return s;
  return summary;
}

}  // namespace iris::eval
