#include "pipeline/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/geometry.h"
#include "pipeline/yaml_reader.h"
#include "video/source.h"

namespace iris::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTopKeys[] = {"defaults", "streams"};
constexpr std::string_view kDefaultsKeys[] = {"loop",     "realtime", "timeout", "detect_interval",
                                              "detector", "tracker"};
constexpr std::string_view kStreamKeys[] = {
    "name",     "url",     "loop",  "realtime", "timeout", "detect_interval",
    "detector", "tracker", "rules", "outputs"};

constexpr std::string_view kDetectorTypes[] = {"hog", "motion"};
constexpr std::string_view kHogKeys[] = {"type",   "upscale",        "hit_threshold", "scale_step",
                                         "stride", "min_confidence", "label"};
constexpr std::string_view kMotionKeys[] = {"type",          "thumbnail_width", "threshold",
                                            "learning_rate", "min_area",        "label"};

constexpr std::string_view kTrackerTypes[] = {"sort"};
constexpr std::string_view kSortKeys[] = {"type", "max_age", "min_hits", "iou_threshold"};

constexpr std::string_view kRuleTypes[] = {"zone", "line"};
constexpr std::string_view kAnchors[] = {"bottom_center", "center", "top_center"};
constexpr std::string_view kUnits[] = {"pixels", "normalized"};
constexpr std::string_view kZoneKeys[] = {"name",  "type",    "classes",   "anchor",
                                          "units", "polygon", "min_dwell", "exit_grace"};
constexpr std::string_view kLineKeys[] = {"name",  "type",   "classes", "anchor",
                                          "units", "points", "margin"};

constexpr std::string_view kOutputTypes[] = {"jsonl", "mp4"};
constexpr std::string_view kJsonlKeys[] = {"type", "path", "snapshots"};
constexpr std::string_view kMp4Keys[] = {"type", "path"};

constexpr std::string_view kUrlHint =
    "give a path to a video file or an http://, https:// or rtsp:// URL";

bool contains(std::span<const std::string_view> words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

// Explains a key that is valid for the other variant of a typed section, so "polygon" on a line
// rule says why instead of just "unknown".
std::function<std::string(std::string_view)> belongs_to(std::span<const std::string_view> keys,
                                                        std::string kind, std::string type) {
  return [keys, kind = std::move(kind), type = std::move(type)](std::string_view key) {
    return contains(keys, key) ? "it is a " + kind + " key and this one has type: " + type
                               : std::string();
  };
}

// The `type` key of a typed section, if present and known.
std::optional<std::string> read_type(Diagnostics& diag, const MapReader& map, std::string_view what,
                                     std::span<const std::string_view> types) {
  const std::optional<Item> item = map.get("type");
  if (!item) {
    map.missing("type", "choose one of: " + join(types));
    return std::nullopt;
  }
  return read_choice(diag, *item, what, types);
}

std::optional<detect::DetectorSpec> read_detector(Diagnostics& diag, const Item& item) {
  const MapReader map(diag, item);
  if (!map.is_map()) return std::nullopt;
  const std::optional<std::string> type = read_type(diag, map, "detector type", kDetectorTypes);
  if (!type) return std::nullopt;
  if (*type == "hog") {
    map.check_keys(kHogKeys, belongs_to(kMotionKeys, "motion detector", "hog"));
    detect::HogSpec hog;
    map.read("upscale", &hog.upscale, Range::above(0));
    map.read("hit_threshold", &hog.hit_threshold);
    map.read("scale_step", &hog.scale_step, Range::above(1));
    map.read("stride", &hog.stride, Range::at_least(1));
    map.read("min_confidence", &hog.min_confidence, Range::closed(0, 1));
    map.read("label", &hog.label);
    return hog;
  }
  map.check_keys(kMotionKeys, belongs_to(kHogKeys, "hog detector", "motion"));
  detect::MotionSpec motion;
  map.read("thumbnail_width", &motion.thumbnail_width, Range::at_least(16));
  map.read("threshold", &motion.threshold, Range::closed(0, 255));
  map.read("learning_rate", &motion.learning_rate, Range::open_closed(0, 1));
  map.read("min_area", &motion.min_area, Range::closed_open(0, 1));
  map.read("label", &motion.label);
  return motion;
}

std::optional<track::SortSpec> read_tracker(Diagnostics& diag, const Item& item) {
  const MapReader map(diag, item);
  if (!map.is_map()) return std::nullopt;
  if (!read_type(diag, map, "tracker type", kTrackerTypes)) return std::nullopt;
  map.check_keys(kSortKeys);
  track::SortSpec sort;
  map.read("max_age", &sort.max_age, Range::above(0));
  map.read("min_hits", &sort.min_hits, Range::at_least(1));
  map.read("iou_threshold", &sort.iou_threshold, Range::open_closed(0, 1));
  return sort;
}

// Keys a stream may inherit from defaults; returns whether a detector was given.
bool read_stream_settings(Diagnostics& diag, const MapReader& map, StreamSpec* spec) {
  map.read("loop", &spec->loop);
  map.read("realtime", &spec->realtime);
  map.read("timeout", &spec->timeout, Range::open_closed(0, 86400));
  map.read("detect_interval", &spec->detect_interval, Range::at_least(1));
  if (const std::optional<Item> tracker = map.get("tracker")) {
    if (auto sort = read_tracker(diag, *tracker)) spec->tracker = *sort;
  }
  const std::optional<Item> detector = map.get("detector");
  if (!detector) return false;
  if (auto parsed = read_detector(diag, *detector)) spec->detector = std::move(*parsed);
  return true;
}

struct LocatedPoint {
  Point point;
  Item item;
};

std::optional<Point> read_point(Diagnostics& diag, const Item& item) {
  if (!item.node.IsSequence() || item.node.size() != 2) {
    const std::string got = item.node.IsSequence()
                                ? "a list of " + std::to_string(item.node.size()) + " values"
                                : describe(item.node);
    diag.error(item.mark, item.path,
               "expected a point [x, y], got " + got + "; write two numbers, e.g. [120, 40]");
    return std::nullopt;
  }
  // Far beyond any frame, yet safe to round to int pixels when drawing.
  const Range coordinate = Range::closed(-1e6, 1e6);
  const std::optional<double> x = read_number(diag, list_item(item, 0), coordinate);
  const std::optional<double> y = read_number(diag, list_item(item, 1), coordinate);
  if (!x || !y) return std::nullopt;
  return Point{*x, *y};
}

// A list of [x, y] points; nullopt if the list or any point is malformed (all are reported).
std::optional<std::vector<LocatedPoint>> read_points(Diagnostics& diag, const Item& item,
                                                     std::string_view example) {
  if (!item.node.IsSequence()) {
    diag.error(item.mark, item.path,
               "expected a list of [x, y] points, got " + describe(item.node) + "; write e.g. " +
                   std::string(example));
    return std::nullopt;
  }
  std::vector<LocatedPoint> points;
  bool ok = true;
  for (size_t i = 0; i < item.node.size(); ++i) {
    const Item point_item = list_item(item, i);
    if (const std::optional<Point> p = read_point(diag, point_item)) {
      points.push_back({*p, point_item});
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return points;
}

std::string format_point(const Point& p) {
  std::ostringstream os;
  os << "[" << p.x << ", " << p.y << "]";
  return os.str();
}

void check_normalized(Diagnostics& diag, const std::vector<LocatedPoint>& points) {
  for (const LocatedPoint& p : points) {
    if (p.point.x < 0 || p.point.x > 1 || p.point.y < 0 || p.point.y > 1) {
      diag.error(p.item.mark, p.item.path,
                 format_point(p.point) +
                     " is outside [0, 1] but units is normalized; give fractions of the frame "
                     "size, or set units: pixels");
    }
  }
}

std::vector<Point> plain(const std::vector<LocatedPoint>& points) {
  std::vector<Point> out;
  for (const LocatedPoint& p : points) out.push_back(p.point);
  return out;
}

std::optional<rules::ZoneSpec> read_zone(Diagnostics& diag, const MapReader& map,
                                         rules::RuleCommon common) {
  map.check_keys(kZoneKeys, belongs_to(kLineKeys, "line rule", "zone"));
  rules::ZoneSpec zone;
  zone.common = std::move(common);
  map.read("min_dwell", &zone.min_dwell, Range::at_least(0));
  map.read("exit_grace", &zone.exit_grace, Range::at_least(0));
  constexpr std::string_view kExample = "polygon: [[0, 0], [100, 0], [100, 100]]";
  const std::optional<Item> item = map.get("polygon");
  if (!item) {
    map.missing("polygon", "a zone needs at least 3 [x, y] points, e.g. " + std::string(kExample));
    return std::nullopt;
  }
  const auto points = read_points(diag, *item, kExample);
  if (!points) return std::nullopt;
  if (points->size() < 3) {
    diag.error(item->mark, item->path,
               "has " + std::to_string(points->size()) +
                   " point(s); a zone needs at least 3, e.g. " + std::string(kExample));
    return std::nullopt;
  }
  bool ok = true;
  for (size_t i = 0; i < points->size(); ++i) {
    const size_t next = (i + 1) % points->size();
    const LocatedPoint& a = (*points)[i];
    const LocatedPoint& b = (*points)[next];
    if (a.point != b.point) continue;
    ok = false;
    if (next == 0) {
      diag.error(a.item.mark, a.item.path,
                 "the last point repeats the first; the polygon closes itself, drop the last "
                 "point");
    } else {
      diag.error(b.item.mark, b.item.path,
                 "point " + std::to_string(next) + " repeats point " + std::to_string(i) + " " +
                     format_point(a.point) + "; remove one of them");
    }
  }
  if (zone.common.normalized) check_normalized(diag, *points);
  if (!ok) return std::nullopt;
  zone.polygon = plain(*points);
  return zone;
}

std::optional<rules::LineSpec> read_line(Diagnostics& diag, const MapReader& map,
                                         rules::RuleCommon common) {
  map.check_keys(kLineKeys, belongs_to(kZoneKeys, "zone rule", "line"));
  rules::LineSpec line;
  line.common = std::move(common);
  map.read("margin", &line.margin, Range::at_least(0));
  constexpr std::string_view kExample = "points: [[0, 300], [640, 300]]";
  const std::optional<Item> item = map.get("points");
  if (!item) {
    map.missing("points", "a line needs its 2 endpoints, e.g. " + std::string(kExample));
    return std::nullopt;
  }
  const auto points = read_points(diag, *item, kExample);
  if (!points) return std::nullopt;
  if (points->size() != 2) {
    diag.error(item->mark, item->path,
               "has " + std::to_string(points->size()) +
                   " point(s); a line needs exactly 2 endpoints, e.g. " + std::string(kExample));
    return std::nullopt;
  }
  if ((*points)[0].point == (*points)[1].point) {
    diag.error(item->mark, item->path,
               "both endpoints are " + format_point((*points)[0].point) +
                   "; a line needs two different points");
    return std::nullopt;
  }
  if (line.common.normalized) check_normalized(diag, *points);
  line.a = (*points)[0].point;
  line.b = (*points)[1].point;
  return line;
}

std::optional<rules::RuleSpec> read_rule(Diagnostics& diag, const MapReader& map) {
  rules::RuleCommon common;
  if (!map.get("name")) {
    map.missing("name", "give the rule a name that is unique within the stream, e.g. name: door");
  }
  map.read("name", &common.name);
  if (const std::optional<Item> classes = map.get("classes")) {
    if (const auto items = read_list(diag, *classes, "classes: [person, car]")) {
      for (const Item& c : *items) {
        if (auto label = read_string(diag, c)) common.classes.push_back(std::move(*label));
      }
    }
  }
  if (const std::optional<Item> anchor = map.get("anchor")) {
    if (const auto name = read_choice(diag, *anchor, "anchor", kAnchors)) {
      parse_anchor(*name, &common.anchor);
    }
  }
  bool units_ok = true;
  if (const std::optional<Item> units = map.get("units")) {
    const auto name = read_choice(diag, *units, "units", kUnits);
    units_ok = name.has_value();
    common.normalized = name == "normalized";
  }
  const std::optional<std::string> type = read_type(diag, map, "rule type", kRuleTypes);
  if (!type) return std::nullopt;
  std::optional<rules::RuleSpec> rule;
  if (*type == "zone") {
    if (auto zone = read_zone(diag, map, std::move(common))) rule = std::move(*zone);
  } else if (auto line = read_line(diag, map, std::move(common))) {
    rule = std::move(*line);
  }
  return units_ok ? rule : std::nullopt;
}

void read_rules(Diagnostics& diag, const Item& item, StreamSpec* stream) {
  const auto items = read_list(diag, item, "rules: [{name: door, type: zone, polygon: ...}]");
  if (!items) return;
  std::map<std::string, YAML::Mark> first_mark;
  for (const Item& rule_item : *items) {
    const MapReader map(diag, rule_item);
    if (!map.is_map()) continue;
    std::optional<rules::RuleSpec> rule = read_rule(diag, map);
    // Names are compared even when a rule is invalid, so every problem shows in one pass.
    const std::optional<Item> name = map.get("name");
    if (name && name->node.IsScalar() && !name->node.Scalar().empty()) {
      const auto [it, inserted] = first_mark.emplace(name->node.Scalar(), name->mark);
      if (!inserted) {
        diag.error(name->mark, name->path,
                   "duplicate rule name '" + it->first + "' (first given at " +
                       diag.where(it->second) + "); rule names must be unique within a stream");
        continue;
      }
    }
    if (rule) stream->rules.push_back(std::move(*rule));
  }
}

// Every output path in the pipeline, to refuse two outputs writing one file.
// A file the pipeline touches: an output it writes, or an input video it reads.
struct OutputPath {
  std::string path;
  std::string where;
  bool input = false;
};

std::string path_key(const std::string& path) {
  std::error_code ec;
  const std::string key = fs::absolute(path, ec).lexically_normal().string();
  return ec ? path : key;
}

bool ends_with_mp4(std::string_view path) {
  constexpr std::string_view kExt = ".mp4";
  if (path.size() < kExt.size()) return false;
  return std::equal(kExt.begin(), kExt.end(), path.end() - kExt.size(), [](char a, char b) {
    return a == std::tolower(static_cast<unsigned char>(b));
  });
}

// Returns the path of an output when it is valid and unique, and records it in *seen.
std::optional<std::string> read_output_path(Diagnostics& diag, const MapReader& map,
                                            std::string_view example,
                                            std::map<std::string, OutputPath>* seen) {
  const std::optional<Item> item = map.get("path");
  if (!item) {
    map.missing("path", "give the file to write, e.g. path: " + std::string(example));
    return std::nullopt;
  }
  std::optional<std::string> path = read_string(diag, *item);
  if (!path) return std::nullopt;
  const auto [it, inserted] =
      seen->emplace(path_key(*path), OutputPath{item->path, diag.where(item->mark)});
  if (!inserted) {
    diag.error(item->mark, item->path,
               "'" + *path + "' is also " +
                   (it->second.input ? "the input video of " : "written by ") + it->second.path +
                   " (" + it->second.where +
                   "); give each output its own file, apart from the input videos");
    return std::nullopt;
  }
  return path;
}

void read_outputs(Diagnostics& diag, const Item& item, StreamSpec* stream,
                  std::map<std::string, OutputPath>* seen) {
  const auto items = read_list(diag, item, "outputs: [{type: jsonl, path: out/events.jsonl}]");
  if (!items) return;
  for (const Item& output_item : *items) {
    const MapReader map(diag, output_item);
    if (!map.is_map()) continue;
    const std::optional<std::string> type = read_type(diag, map, "output type", kOutputTypes);
    if (!type) continue;
    if (*type == "jsonl") {
      map.check_keys(kJsonlKeys);
      JsonlOutput jsonl;
      map.read("snapshots", &jsonl.snapshots);
      if (auto path = read_output_path(diag, map, "out/events.jsonl", seen)) {
        jsonl.path = std::move(*path);
        stream->jsonl.push_back(std::move(jsonl));
      }
      continue;
    }
    map.check_keys(kMp4Keys);
    Mp4Output mp4;
    auto path = read_output_path(diag, map, "out/annotated.mp4", seen);
    if (!path) continue;
    if (!ends_with_mp4(*path)) {
      const Item path_item = *map.get("path");
      diag.error(path_item.mark, path_item.path,
                 "'" + *path +
                     "' does not end in .mp4; an mp4 output writes an MP4 file, e.g. "
                     "path: out/annotated.mp4");
      continue;
    }
    mp4.path = std::move(*path);
    stream->mp4.push_back(std::move(mp4));
  }
}

void check_video_file(Diagnostics& diag, const Item& item, const std::string& path) {
  std::string where;
  if (fs::path(path).is_relative()) {
    std::error_code ec;
    where = " (relative to the working directory " + fs::current_path(ec).string() + ")";
  }
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {
    diag.error(item.mark, item.path,
               "file '" + path + "' does not exist" + where + "; " + std::string(kUrlHint));
    return;
  }
  if (fs::is_directory(status)) {
    diag.error(item.mark, item.path,
               "'" + path + "' is a directory" + where + "; " + std::string(kUrlHint));
    return;
  }
  // A FIFO or device would block the check (and the run) until something writes to it.
  if (!fs::is_regular_file(status)) {
    diag.error(item.mark, item.path,
               "'" + path + "' is not a regular file" + where + "; " + std::string(kUrlHint));
    return;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diag.error(item.mark, item.path,
               "file '" + path + "' is not readable (" + std::strerror(errno) +
                   "); check its permissions, or " + std::string(kUrlHint));
  }
}

bool valid_stream_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

struct StreamDefaults {
  StreamSpec spec;
  bool has_detector = false;
};

StreamSpec read_stream(Diagnostics& diag, const MapReader& map, const StreamDefaults& defaults,
                       std::map<std::string, OutputPath>* outputs) {
  map.check_keys(kStreamKeys);
  StreamSpec stream = defaults.spec;
  if (!map.get("name")) {
    map.missing("name", "give the stream a unique name, e.g. name: lobby");
  } else if (map.read("name", &stream.name) && !valid_stream_name(stream.name)) {
    const Item name = *map.get("name");
    diag.error(name.mark, name.path,
               "'" + stream.name +
                   "' may only have letters, digits, '_' and '-'; e.g. name: front_door-1");
  }
  if (!map.get("url")) {
    map.missing("url", kUrlHint);
  } else if (map.read("url", &stream.url) && !video::is_url(stream.url)) {
    const Item url = *map.get("url");
    check_video_file(diag, url, stream.url);
    // Several streams may read one file, but no output may overwrite an input.
    const auto [it, inserted] =
        outputs->emplace(path_key(stream.url), OutputPath{url.path, diag.where(url.mark), true});
    if (!inserted && !it->second.input) {
      diag.error(url.mark, url.path,
                 "'" + stream.url + "' is written by " + it->second.path + " (" + it->second.where +
                     "); an output must not overwrite an input video");
    }
  }
  const bool has_detector = read_stream_settings(diag, map, &stream);
  if (!has_detector && !defaults.has_detector) {
    map.missing("detector", "add e.g. detector: {type: hog} here or under defaults:");
  }
  if (const std::optional<Item> rules = map.get("rules")) read_rules(diag, *rules, &stream);
  if (const std::optional<Item> outs = map.get("outputs")) {
    read_outputs(diag, *outs, &stream, outputs);
  }
  return stream;
}

PipelineSpec read_pipeline(Diagnostics& diag, const YAML::Node& root) {
  PipelineSpec pipeline;
  const MapReader top(diag, Item{root, "", root.Mark()});
  if (!top.is_map()) return pipeline;
  top.check_keys(kTopKeys);

  StreamDefaults defaults;
  if (const std::optional<Item> item = top.get("defaults")) {
    const MapReader map(diag, *item);
    if (map.is_map()) {
      map.check_keys(kDefaultsKeys);
      defaults.has_detector = read_stream_settings(diag, map, &defaults.spec);
    }
  }

  const std::optional<Item> streams = top.get("streams");
  if (!streams) {
    top.missing("streams", "add a streams: list with at least one stream (name, url, detector)");
    return pipeline;
  }
  const auto items = read_list(diag, *streams, "streams: [{name: lobby, url: clip.mp4, ...}]");
  if (!items) return pipeline;
  if (items->empty()) {
    diag.error(streams->mark, streams->path,
               "the list is empty; add at least one stream with name, url and detector");
    return pipeline;
  }
  std::map<std::string, OutputPath> outputs;
  std::map<std::string, YAML::Mark> names;
  for (const Item& item : *items) {
    const MapReader map(diag, item);
    if (!map.is_map()) continue;
    StreamSpec stream = read_stream(diag, map, defaults, &outputs);
    if (stream.name.empty()) continue;
    const Item name = *map.get("name");
    const auto [it, inserted] = names.emplace(stream.name, name.mark);
    if (!inserted) {
      diag.error(name.mark, name.path,
                 "duplicate stream name '" + stream.name + "' (first given at " +
                     diag.where(it->second) + "); stream names must be unique");
      continue;
    }
    pipeline.streams.push_back(std::move(stream));
  }
  return pipeline;
}

}  // namespace

Result<PipelineSpec> parse_config(const std::string& yaml, const std::string& source) {
  Diagnostics diag(source);
  // yaml-cpp reports bad input by throwing; nothing may escape to the caller.
  try {
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(yaml);
    } catch (const YAML::ParserException& e) {
      diag.error(e.mark, "",
                 "YAML syntax error: " + e.msg +
                     "; fix the YAML here (check indentation, brackets, quotes and the space "
                     "after each ':')");
      return diag.status();
    }
    if (docs.empty() || docs[0].IsNull()) {
      diag.error(YAML::Mark::null_mark(), "",
                 "the config is empty; it needs a streams: list (see docs/config.md)");
      return diag.status();
    }
    if (docs.size() > 1) {
      diag.error(docs[1].Mark(), "",
                 "a second YAML document starts here; put the whole pipeline in one document");
    }
    PipelineSpec pipeline = read_pipeline(diag, docs[0]);
    if (!diag.ok()) return diag.status();
    pipeline.source = source;
    return pipeline;
  } catch (const std::exception& e) {
    return Status::error(source + ": internal error while reading the config (" + e.what() +
                         "); please report it with the config file");
  }
}

Result<PipelineSpec> load_config(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return Status::error("cannot read config file '" + path +
                         "': it is a directory; give the path of a YAML file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::error("cannot read config file '" + path + "': " + std::strerror(errno) +
                         "; check the path and its permissions");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Status::error("cannot read config file '" + path + "': " + std::strerror(errno) +
                         "; check the file");
  }
  return parse_config(text.str(), path);
}

}  // namespace iris::pipeline
