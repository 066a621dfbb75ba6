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
#include "pipeline/config_events.h"
#include "pipeline/config_models.h"
#include "pipeline/yaml_reader.h"
#include "video/source.h"

namespace iris::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTopKeys[] = {"models", "defaults", "streams", "events"};
// Keys a stream may inherit from `defaults`; a stream also has name, url, rules and outputs.
#define IRIS_STREAM_SETTINGS                                                                     \
  "loop", "realtime", "timeout", "rtsp_transport", "reconnect", "stall_after", "keyframes_only", \
      "max_fps", "emulate_live", "detect_interval", "gate", "detector", "secondary", "tracker",  \
      "suppression"
constexpr std::string_view kDefaultsKeys[] = {IRIS_STREAM_SETTINGS};
constexpr std::string_view kStreamKeys[] = {"name", "url", "rules", "outputs",
                                            IRIS_STREAM_SETTINGS};
#undef IRIS_STREAM_SETTINGS
constexpr std::string_view kTransports[] = {"tcp", "udp"};
constexpr std::string_view kReconnectKeys[] = {"initial_delay", "max_delay", "multiplier", "jitter",
                                               "max_attempts"};
constexpr std::string_view kGateKeys[] = {"thumbnail_width", "threshold", "learning_rate",
                                          "min_area",        "hold",      "refresh",
                                          "region",          "padding"};

constexpr std::string_view kDetectorTypes[] = {"hog", "motion", "replay", "dnn"};
constexpr std::string_view kHogKeys[] = {"type",   "upscale",        "hit_threshold", "scale_step",
                                         "stride", "min_confidence", "label"};
constexpr std::string_view kMotionKeys[] = {"type",          "thumbnail_width", "threshold",
                                            "learning_rate", "min_area",        "label"};
constexpr std::string_view kReplayKeys[] = {"type", "path", "classes"};

constexpr std::string_view kTrackerTypes[] = {"sort", "bytetrack"};
constexpr std::string_view kSortKeys[] = {"type", "max_age", "min_hits", "iou_threshold"};
constexpr std::string_view kByteTrackKeys[] = {"type",
                                               "high_score",
                                               "low_score",
                                               "new_track_score",
                                               "match_iou",
                                               "low_match_iou",
                                               "unconfirmed_match_iou",
                                               "max_age",
                                               "min_hits",
                                               "appearance_weight"};

constexpr std::string_view kRuleTypes[] = {"zone", "line", "loiter", "crowd"};
constexpr std::string_view kAnchors[] = {"bottom_center", "center", "top_center"};
constexpr std::string_view kUnits[] = {"pixels", "normalized"};
// The keys every rule shares come first and last, so messages list a type's own keys together.
constexpr std::string_view kZoneKeys[] = {"name",   "type",       "classes",   "anchor",
                                          "units",  "polygon",    "min_dwell", "exit_grace",
                                          "active", "suppression"};
constexpr std::string_view kLineKeys[] = {"name",   "type",   "classes", "anchor",     "units",
                                          "points", "margin", "active",  "suppression"};
constexpr std::string_view kLoiterKeys[] = {"name",   "type",       "classes",  "anchor",
                                            "units",  "polygon",    "min_time", "max_gap",
                                            "active", "suppression"};
constexpr std::string_view kCrowdKeys[] = {"name",      "type",    "classes",    "anchor",
                                           "units",     "polygon", "max_count",  "min_time",
                                           "end_grace", "active",  "suppression"};
struct RuleKeys {
  std::string_view type;
  std::span<const std::string_view> keys;
};
constexpr RuleKeys kRuleKeys[] = {
    {"zone", kZoneKeys}, {"line", kLineKeys}, {"loiter", kLoiterKeys}, {"crowd", kCrowdKeys}};
constexpr std::string_view kSuppressionKeys[] = {"min_age",         "min_hits",   "min_area",
                                                 "score_enter",     "score_stay", "static_time",
                                                 "static_distance", "cooldown"};

constexpr std::string_view kOutputTypes[] = {"jsonl", "mp4", "mot"};
// Seconds of clip on either side of an event: clips are for a look at what happened.
constexpr double kMaxRoll = 60;
constexpr std::string_view kJsonlKeys[] = {"type",  "path",     "snapshots",
                                           "clips", "pre_roll", "post_roll"};
constexpr std::string_view kMp4Keys[] = {"type", "path"};
constexpr std::string_view kMotKeys[] = {"type", "path"};

constexpr std::string_view kUrlHint =
    "give a path to a video file or an http://, https:// or rtsp:// URL";

// Explains a key that is valid for the other variant of a typed section, so "polygon" on a line
// rule says why instead of just "unknown".
std::function<std::string(std::string_view)> belongs_to(std::span<const std::string_view> keys,
                                                        std::string kind, std::string type) {
  return [keys, kind = std::move(kind), type = std::move(type)](std::string_view key) {
    return is_one_of(keys, key) ? "it is a " + kind + " key and this one has type: " + type
                                : std::string();
  };
}

// The same for rules, which have more than two types: "it is a zone or loiter rule key ...".
std::function<std::string(std::string_view)> belongs_to_rule(std::string type) {
  return [type = std::move(type)](std::string_view key) {
    std::vector<std::string_view> owners;
    for (const RuleKeys& r : kRuleKeys) {
      if (r.type != type && is_one_of(r.keys, key)) owners.push_back(r.type);
    }
    if (owners.empty()) return std::string();
    std::string kinds(owners[0]);
    for (size_t i = 1; i < owners.size(); ++i) {
      kinds += (i + 1 == owners.size() ? " or " : ", ") + std::string(owners[i]);
    }
    return "it is a " + kinds + " rule key and this one has type: " + type;
  };
}

// A suppression: map read over *spec key by key: a rule's map over its stream's spec, a stream's
// over the built-in defaults. `base` names where keys the map leaves out come from, for messages.
void read_suppression(Diagnostics& diag, const Item& item, std::string_view base,
                      rules::SuppressionSpec* spec) {
  const MapReader map(diag, item);
  if (!map.is_map()) return;
  map.check_keys(kSuppressionKeys);
  map.read("min_age", &spec->min_age, Range::at_least(0));
  map.read("min_hits", &spec->min_hits, Range::at_least(0));
  map.read("min_area", &spec->min_area, Range::closed_open(0, 1));
  // A value already reported as wrong is not compared again.
  const bool enter_ok =
      map.read("score_enter", &spec->score_enter, Range::closed(0, 1)) || !map.get("score_enter");
  const bool stay_ok =
      map.read("score_stay", &spec->score_stay, Range::closed(0, 1)) || !map.get("score_stay");
  map.read("static_time", &spec->static_time, Range::at_least(0));
  map.read("static_distance", &spec->static_distance, Range::at_least(0));
  map.read("cooldown", &spec->cooldown, Range::at_least(0));
  if (!enter_ok || !stay_ok || spec->score_stay <= spec->score_enter) return;
  // The base was checked already, so this map set at least one of the two.
  const std::optional<Item> stay = map.get("score_stay");
  const Item at = stay ? *stay : *map.get("score_enter");
  auto source = [&](std::string_view key) {
    return map.get(key) ? std::string() : " (" + std::string(base) + ")";
  };
  diag.error(
      at.mark, at.path,
      "score_stay " + format_number(spec->score_stay) + source("score_stay") +
          " is above score_enter " + format_number(spec->score_enter) + source("score_enter") +
          "; a track must not need a higher score to stay eligible than to become "
          "eligible: make score_stay <= score_enter, e.g. score_enter: 0.6, score_stay: 0.4");
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

// The replay file is read here, so a missing or malformed file fails the config, not the run.
std::optional<detect::DetectorSpec> read_replay(Diagnostics& diag, const MapReader& map) {
  map.check_keys(kReplayKeys);
  detect::ReplaySpec replay;
  if (const std::optional<Item> classes = map.get("classes")) {
    replay.classes = read_strings(diag, *classes, "classes: [person, bicycle, car]");
  }
  const std::optional<Item> path = map.get("path");
  if (!path) {
    map.missing("path", "give the detections file to replay, e.g. path: detections.txt");
    return std::nullopt;
  }
  if (!map.read("path", &replay.path)) return std::nullopt;
  std::error_code ec;
  if (!fs::is_regular_file(replay.path, ec)) {
    diag.error(path->mark, path->path,
               "'" + replay.path + "' is not a file" + relative_note(replay.path) +
                   "; give the detections file to replay (format: docs/config.md, Detectors)");
    return std::nullopt;
  }
  auto frames = detect::load_replay(replay.path, replay.classes);
  if (!frames.ok()) {
    diag.error(path->mark, path->path,
               frames.status().message() + "; fix the file (format: docs/config.md, Detectors)");
    return std::nullopt;
  }
  replay.frames = std::move(*frames);
  return replay;
}

void read_motion(const MapReader& map, detect::MotionSpec* motion) {
  map.read("thumbnail_width", &motion->thumbnail_width, Range::at_least(16));
  map.read("threshold", &motion->threshold, Range::closed(0, 255));
  map.read("learning_rate", &motion->learning_rate, Range::open_closed(0, 1));
  map.read("min_area", &motion->min_area, Range::closed_open(0, 1));
}

std::optional<detect::DetectorSpec> read_detector(Diagnostics& diag, const Item& item,
                                                  const ModelSpecs& models) {
  const MapReader map(diag, item);
  if (!map.is_map()) return std::nullopt;
  const std::optional<std::string> type = read_type(diag, map, "detector type", kDetectorTypes);
  if (!type) return std::nullopt;
  if (*type == "replay") return read_replay(diag, map);
  if (*type == "dnn") return read_dnn_detector(diag, map, models);
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
  read_motion(map, &motion);
  map.read("label", &motion.label);
  return motion;
}

std::optional<MotionGate> read_gate(Diagnostics& diag, const Item& item) {
  const MapReader map(diag, item);
  if (!map.is_map()) return std::nullopt;
  map.check_keys(kGateKeys);
  MotionGate gate;
  read_motion(map, &gate.motion);
  map.read("hold", &gate.hold, Range::at_least(0));
  map.read("refresh", &gate.refresh, Range::at_least(0));
  map.read("region", &gate.region);
  map.read("padding", &gate.padding, Range::closed(0, 10));
  return gate;
}

// Two keys of one map whose values must satisfy lower <= upper: reports a violation at the key
// the document gives (at `lower_key` when it gives both), naming the other's value.
void check_order(Diagnostics& diag, const MapReader& map, std::string_view lower_key, double lower,
                 bool lower_given, std::string_view upper_key, double upper, bool upper_given) {
  if (lower <= upper) return;
  const auto other = [](std::string_view key, double v, bool given) {
    return std::string(key) + " " + format_number(v) + (given ? "" : " (the default)");
  };
  if (lower_given) {
    const Item item = *map.get(lower_key);
    diag.error(item.mark, item.path,
               format_number(lower) + " is above " + other(upper_key, upper, upper_given) + "; " +
                   std::string(lower_key) + " must be at most " + std::string(upper_key));
  } else {
    const Item item = *map.get(upper_key);
    diag.error(item.mark, item.path,
               format_number(upper) + " is below " + other(lower_key, lower, lower_given) + "; " +
                   std::string(upper_key) + " must be at least " + std::string(lower_key));
  }
}

void read_reconnect(Diagnostics& diag, const Item& item, video::ReconnectPolicy* policy) {
  const MapReader map(diag, item);
  if (!map.is_map()) return;
  map.check_keys(kReconnectKeys);
  const bool initial = map.read("initial_delay", &policy->initial_delay, Range::above(0));
  const bool max = map.read("max_delay", &policy->max_delay, Range::above(0));
  map.read("multiplier", &policy->multiplier, Range::at_least(1));
  map.read("jitter", &policy->jitter, Range::closed_open(0, 1));
  map.read("max_attempts", &policy->max_attempts, Range::at_least(0));
  check_order(diag, map, "initial_delay", policy->initial_delay, initial, "max_delay",
              policy->max_delay, max);
}

track::ByteTrackSpec read_bytetrack(Diagnostics& diag, const MapReader& map) {
  map.check_keys(kByteTrackKeys, belongs_to(kSortKeys, "sort tracker", "bytetrack"));
  track::ByteTrackSpec spec;
  const bool high = map.read("high_score", &spec.high_score, Range::open_closed(0, 1));
  const bool low = map.read("low_score", &spec.low_score, Range::closed(0, 1));
  const bool birth = map.read("new_track_score", &spec.new_track_score, Range::closed(0, 1));
  map.read("match_iou", &spec.match_iou, Range::open_closed(0, 1));
  map.read("low_match_iou", &spec.low_match_iou, Range::open_closed(0, 1));
  map.read("unconfirmed_match_iou", &spec.unconfirmed_match_iou, Range::open_closed(0, 1));
  map.read("max_age", &spec.max_age, Range::above(0));
  map.read("min_hits", &spec.min_hits, Range::at_least(1));
  map.read("appearance_weight", &spec.appearance_weight, Range::closed(0, 1));
  // Scores split detections into ignored < low_score <= weak < high_score <= strong, and only
  // strong ones start tracks: a new_track_score below high_score would silently mean high_score.
  check_order(diag, map, "low_score", spec.low_score, low, "high_score", spec.high_score, high);
  check_order(diag, map, "high_score", spec.high_score, high, "new_track_score",
              spec.new_track_score, birth);
  return spec;
}

std::optional<track::TrackerSpec> read_tracker(Diagnostics& diag, const Item& item) {
  const MapReader map(diag, item);
  if (!map.is_map()) return std::nullopt;
  const std::optional<std::string> type = read_type(diag, map, "tracker type", kTrackerTypes);
  if (!type) return std::nullopt;
  if (*type == "bytetrack") return read_bytetrack(diag, map);
  map.check_keys(kSortKeys, belongs_to(kByteTrackKeys, "bytetrack tracker", "sort"));
  track::SortSpec sort;
  map.read("max_age", &sort.max_age, Range::above(0));
  map.read("min_hits", &sort.min_hits, Range::at_least(1));
  map.read("iou_threshold", &sort.iou_threshold, Range::open_closed(0, 1));
  return sort;
}

// Keys a stream may inherit from defaults; returns whether a detector was given.
bool read_stream_settings(Diagnostics& diag, const MapReader& map, const ModelSpecs& models,
                          StreamSpec* spec) {
  map.read("loop", &spec->loop);
  map.read("realtime", &spec->realtime);
  map.read("timeout", &spec->timeout, Range::open_closed(0, 86400));
  if (const std::optional<Item> transport = map.get("rtsp_transport")) {
    if (auto t = read_choice(diag, *transport, "rtsp_transport", kTransports)) {
      spec->rtsp_transport = *t;
    }
  }
  if (const std::optional<Item> reconnect = map.get("reconnect")) {
    read_reconnect(diag, *reconnect, &spec->reconnect);
  }
  map.read("stall_after", &spec->stall_after, Range::above(0));
  map.read("keyframes_only", &spec->keyframes_only);
  map.read("max_fps", &spec->max_fps, Range::at_least(0));
  map.read("emulate_live", &spec->emulate_live);
  map.read("detect_interval", &spec->detect_interval, Range::at_least(1));
  if (const std::optional<Item> gate = map.get("gate")) spec->gate = read_gate(diag, *gate);
  if (const std::optional<Item> tracker = map.get("tracker")) {
    if (auto parsed = read_tracker(diag, *tracker)) spec->tracker = *parsed;
  }
  if (const std::optional<Item> suppression = map.get("suppression")) {
    spec->suppression = {};  // replaces the defaults' map as a whole, like every stream key
    read_suppression(diag, *suppression, "the default", &spec->suppression);
  }
  if (const std::optional<Item> secondary = map.get("secondary")) {
    spec->secondary = read_secondary(diag, *secondary, models);
  }
  const std::optional<Item> detector = map.get("detector");
  if (!detector) return false;
  if (auto parsed = read_detector(diag, *detector, models)) spec->detector = std::move(*parsed);
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

// The polygon of a zone, loiter or crowd rule; `what` names the rule in hints ("a zone").
std::optional<std::vector<Point>> read_polygon(Diagnostics& diag, const MapReader& map,
                                               bool normalized, std::string_view what) {
  constexpr std::string_view kExample = "polygon: [[0, 0], [100, 0], [100, 100]]";
  const std::optional<Item> item = map.get("polygon");
  if (!item) {
    map.missing("polygon", std::string(what) + " needs at least 3 [x, y] points, e.g. " +
                               std::string(kExample));
    return std::nullopt;
  }
  const auto points = read_points(diag, *item, kExample);
  if (!points) return std::nullopt;
  if (points->size() < 3) {
    diag.error(item->mark, item->path,
               "has " + std::to_string(points->size()) + " point(s); " + std::string(what) +
                   " needs at least 3, e.g. " + std::string(kExample));
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
  if (normalized) check_normalized(diag, *points);
  if (!ok) return std::nullopt;
  return plain(*points);
}

std::optional<rules::ZoneSpec> read_zone(Diagnostics& diag, const MapReader& map,
                                         rules::RuleCommon common) {
  map.check_keys(kZoneKeys, belongs_to_rule("zone"));
  rules::ZoneSpec zone;
  zone.common = std::move(common);
  map.read("min_dwell", &zone.min_dwell, Range::at_least(0));
  map.read("exit_grace", &zone.exit_grace, Range::at_least(0));
  auto polygon = read_polygon(diag, map, zone.common.normalized, "a zone");
  if (!polygon) return std::nullopt;
  zone.polygon = std::move(*polygon);
  return zone;
}

std::optional<rules::LoiterSpec> read_loiter(Diagnostics& diag, const MapReader& map,
                                             rules::RuleCommon common) {
  map.check_keys(kLoiterKeys, belongs_to_rule("loiter"));
  rules::LoiterSpec loiter;
  loiter.common = std::move(common);
  if (!map.get("min_time")) {
    map.missing("min_time", "give the seconds inside that count as loitering, e.g. min_time: 30");
  }
  const bool min_time_ok = map.read("min_time", &loiter.min_time, Range::at_least(0));
  map.read("max_gap", &loiter.max_gap, Range::at_least(0));
  auto polygon = read_polygon(diag, map, loiter.common.normalized, "a loiter rule");
  if (!polygon || !min_time_ok) return std::nullopt;
  loiter.polygon = std::move(*polygon);
  return loiter;
}

std::optional<rules::CrowdSpec> read_crowd(Diagnostics& diag, const MapReader& map,
                                           rules::RuleCommon common) {
  map.check_keys(kCrowdKeys, belongs_to_rule("crowd"));
  rules::CrowdSpec crowd;
  crowd.common = std::move(common);
  if (!map.get("max_count")) {
    map.missing("max_count",
                "give the most objects allowed inside; more is a crowd, e.g. max_count: 5");
  }
  const bool max_count_ok = map.read("max_count", &crowd.max_count, Range::at_least(0));
  map.read("min_time", &crowd.min_time, Range::at_least(0));
  map.read("end_grace", &crowd.end_grace, Range::at_least(0));
  auto polygon = read_polygon(diag, map, crowd.common.normalized, "a crowd rule");
  if (!polygon || !max_count_ok) return std::nullopt;
  crowd.polygon = std::move(*polygon);
  return crowd;
}

std::optional<rules::LineSpec> read_line(Diagnostics& diag, const MapReader& map,
                                         rules::RuleCommon common) {
  map.check_keys(kLineKeys, belongs_to_rule("line"));
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

// Minutes after midnight of "HH:MM" (24:00 included); nullopt when it is not that form, and
// *in_range false when it is but the hour or minute is too big.
std::optional<int> parse_clock(std::string_view text, bool* in_range) {
  const auto digit = [&text](size_t i) {
    return std::isdigit(static_cast<unsigned char>(text[i]));
  };
  if (text.size() != 5 || text[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4)) {
    return std::nullopt;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  *in_range = minutes < 60 && (hours < 24 || (hours == 24 && minutes == 0));
  return hours * 60 + minutes;
}

std::optional<rules::TimeWindow> read_window(Diagnostics& diag, const Item& item) {
  const std::optional<std::string> text = read_string(diag, item);
  if (!text) return std::nullopt;
  constexpr std::string_view kForm =
      "write \"HH:MM-HH:MM\" in 24-hour local time, e.g. \"22:00-06:00\" (a window may wrap "
      "midnight)";
  const size_t dash = text->find('-');
  bool start_in_range = true;
  bool end_in_range = true;
  std::optional<int> start, end;
  if (dash != std::string::npos) {
    start = parse_clock(std::string_view(*text).substr(0, dash), &start_in_range);
    end = parse_clock(std::string_view(*text).substr(dash + 1), &end_in_range);
  }
  std::string problem;
  if (!start || !end) {
    problem = "is not a time window; " + std::string(kForm);
  } else if (!start_in_range || !end_in_range) {
    problem =
        "has a time out of range (hours 00 to 23, minutes 00 to 59; 24:00 may end a "
        "window); " +
        std::string(kForm);
  } else if (*start == 24 * 60) {
    problem = "starts at 24:00; write 00:00 for midnight at the start of a window";
  } else if (*start == *end) {
    problem =
        "is empty (it starts where it ends); give two different times, or leave out active to "
        "be active all day";
  } else {
    return rules::TimeWindow{*start, *end};
  }
  diag.error(item.mark, item.path, "'" + *text + "' " + problem);
  return std::nullopt;
}

// Time windows in which a rule is active; nullopt after reporting any problem.
std::optional<std::vector<rules::TimeWindow>> read_windows(Diagnostics& diag, const Item& item) {
  const auto items = read_list(diag, item, "active: [\"22:00-06:00\"]");
  if (!items) return std::nullopt;
  if (items->empty()) {
    diag.error(item.mark, item.path,
               "the list is empty, so the rule would never be active; give windows such as "
               "[\"22:00-06:00\"], or leave out active to be active all day");
    return std::nullopt;
  }
  std::vector<rules::TimeWindow> windows;
  bool ok = true;
  for (const Item& w : *items) {
    if (const auto window = read_window(diag, w)) {
      windows.push_back(*window);
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return windows;
}

std::optional<rules::RuleSpec> read_rule(Diagnostics& diag, const MapReader& map,
                                         const rules::SuppressionSpec& stream_suppression) {
  rules::RuleCommon common;
  if (!map.get("name")) {
    map.missing("name", "give the rule a name that is unique within the stream, e.g. name: door");
  }
  map.read("name", &common.name);
  if (const std::optional<Item> classes = map.get("classes")) {
    common.classes = read_strings(diag, *classes, "classes: [person, car]");
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
  bool common_ok = units_ok;
  if (const std::optional<Item> active = map.get("active")) {
    auto windows = read_windows(diag, *active);
    common_ok = common_ok && windows.has_value();
    if (windows) common.active = std::move(*windows);
  }
  if (const std::optional<Item> suppression = map.get("suppression")) {
    common.suppression = stream_suppression;
    read_suppression(diag, *suppression, "from the stream", &*common.suppression);
  }
  const std::optional<std::string> type = read_type(diag, map, "rule type", kRuleTypes);
  if (!type) return std::nullopt;
  std::optional<rules::RuleSpec> rule;
  if (*type == "zone") {
    if (auto zone = read_zone(diag, map, std::move(common))) rule = std::move(*zone);
  } else if (*type == "line") {
    if (auto line = read_line(diag, map, std::move(common))) rule = std::move(*line);
  } else if (*type == "loiter") {
    if (auto loiter = read_loiter(diag, map, std::move(common))) rule = std::move(*loiter);
  } else if (auto crowd = read_crowd(diag, map, std::move(common))) {
    rule = std::move(*crowd);
  }
  return common_ok ? rule : std::nullopt;
}

// A stream's rules; `stream_suppression` is the stream's spec, which rules' own keys override.
std::vector<rules::RuleSpec> read_rules(Diagnostics& diag, const Item& item,
                                        const rules::SuppressionSpec& stream_suppression) {
  std::vector<rules::RuleSpec> out;
  const auto items = read_list(diag, item, "rules: [{name: door, type: zone, polygon: ...}]");
  if (!items) return out;
  std::map<std::string, YAML::Mark> first_mark;
  for (const Item& rule_item : *items) {
    const MapReader map(diag, rule_item);
    if (!map.is_map()) continue;
    std::optional<rules::RuleSpec> rule = read_rule(diag, map, stream_suppression);
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
    if (rule) out.push_back(std::move(*rule));
  }
  return out;
}

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
      map.read("clips", &jsonl.clips);
      for (const auto& [key, seconds] :
           {std::pair{"pre_roll", &jsonl.pre_roll}, std::pair{"post_roll", &jsonl.post_roll}}) {
        if (!map.read(key, seconds, Range::closed(0, kMaxRoll)) || jsonl.clips) continue;
        const Item item = *map.get(key);
        diag.error(item.mark, item.path,
                   std::string(key) + " is the length of event clips; add clips: true");
      }
      if (auto path = read_output_path(diag, map, "out/events.jsonl", seen)) {
        jsonl.path = std::move(*path);
        stream->jsonl.push_back(std::move(jsonl));
      }
      continue;
    }
    if (*type == "mot") {
      map.check_keys(kMotKeys);
      if (auto path = read_output_path(diag, map, "out/tracks.txt", seen)) {
        stream->mot.push_back({std::move(*path)});
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
  const std::string where = relative_note(path);
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

// `defaults` is what `defaults:` gave; `defaults_have_detector` whether it gave a detector.
StreamSpec read_stream(Diagnostics& diag, const MapReader& map, const StreamSpec& defaults,
                       bool defaults_have_detector, const ModelSpecs& models,
                       std::map<std::string, OutputPath>* outputs) {
  map.check_keys(kStreamKeys);
  StreamSpec stream = defaults;
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
  const bool has_detector = read_stream_settings(diag, map, models, &stream);
  if (stream.emulate_live && video::is_url(stream.url)) {
    const Item at = map.get("emulate_live") ? *map.get("emulate_live") : *map.get("url");
    diag.error(at.mark, at.path,
               "emulate_live plays a file as a camera; '" + stream.url +
                   "' is already a URL: remove emulate_live or give a file path");
  }
  if (stream.gate && std::holds_alternative<detect::MotionSpec>(stream.detector)) {
    const Item at = map.get("gate") ? *map.get("gate") : map.item();
    diag.error(at.mark, at.path,
               "the detector is already the motion detector, so a motion gate would only run it "
               "twice; remove gate, or gate a heavier detector (hog, dnn)");
  }
  if (!has_detector && !defaults_have_detector) {
    map.missing("detector", "add e.g. detector: {type: hog} here or under defaults:");
  }
  if (const std::optional<Item> rules = map.get("rules")) {
    stream.rules = read_rules(diag, *rules, stream.suppression);
  }
  if (const std::optional<Item> outs = map.get("outputs")) {
    read_outputs(diag, *outs, &stream, outputs);
  }
  return stream;
}

PipelineSpec read_pipeline(Diagnostics& diag, const YAML::Node& root, Needs needs) {
  PipelineSpec pipeline;
  const MapReader top(diag, Item{root, "", root.Mark()});
  if (!top.is_map()) return pipeline;
  top.check_keys(kTopKeys);

  // Models come first whatever the order in the file: streams refer to them by name.
  ModelSpecs models;
  if (const std::optional<Item> item = top.get("models")) models = read_models(diag, *item);
  for (const auto& [name, model] : models) pipeline.models.push_back(model);

  if (const std::optional<Item> item = top.get("events")) {
    pipeline.delivery = read_events(diag, *item);
  }

  if (const std::optional<Item> item = top.get("defaults")) {
    const MapReader map(diag, *item);
    if (map.is_map()) {
      map.check_keys(kDefaultsKeys);
      pipeline.defaults_have_detector = read_stream_settings(diag, map, models, &pipeline.defaults);
    }
  }

  const std::optional<Item> streams = top.get("streams");
  const bool optional = needs == Needs::kStreamsOrModels && !pipeline.models.empty();
  if (!streams) {
    if (optional) return pipeline;
    top.missing("streams",
                needs == Needs::kStreams
                    ? "add a streams: list with at least one stream (name, url, detector)"
                    : "add a streams: list (name, url, detector), or models: to serve");
    return pipeline;
  }
  const auto items = read_list(diag, *streams, "streams: [{name: lobby, url: clip.mp4, ...}]");
  if (!items) return pipeline;
  if (items->empty() && !optional) {
    diag.error(streams->mark, streams->path,
               "the list is empty; add at least one stream with name, url and detector");
    return pipeline;
  }
  std::map<std::string, OutputPath> outputs;
  std::map<std::string, YAML::Mark> names;
  for (const Item& item : *items) {
    const MapReader map(diag, item);
    if (!map.is_map()) continue;
    StreamSpec stream = read_stream(diag, map, pipeline.defaults, pipeline.defaults_have_detector,
                                    models, &outputs);
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

// The one YAML document of `yaml`, or nullopt after reporting why there is none; `empty` says
// what an empty document lacks.
std::optional<YAML::Node> load_document(Diagnostics& diag, const std::string& yaml,
                                        std::string_view empty) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(yaml);
  } catch (const YAML::ParserException& e) {
    diag.error(e.mark, "",
               "YAML syntax error: " + e.msg +
                   "; fix the YAML here (check indentation, brackets, quotes and the space "
                   "after each ':')");
    return std::nullopt;
  }
  if (docs.empty() || docs[0].IsNull()) {
    diag.error(YAML::Mark::null_mark(), "", empty);
    return std::nullopt;
  }
  if (docs.size() > 1) {
    diag.error(docs[1].Mark(), "",
               "a second YAML document starts here; put everything in one document");
  }
  return docs[0];
}

}  // namespace

std::string JsonlOutput::snapshot_dir() const {
  return (fs::path(path).parent_path() / "snapshots").string();
}

std::string JsonlOutput::clip_dir() const {
  return (fs::path(path).parent_path() / "clips").string();
}

Result<PipelineSpec> parse_config(const std::string& yaml, const std::string& source, Needs needs) {
  Diagnostics diag(source);
  // yaml-cpp reports bad input by throwing; nothing may escape to the caller.
  try {
    const std::optional<YAML::Node> doc =
        load_document(diag, yaml,
                      needs == Needs::kStreams
                          ? "the config is empty; it needs a streams: list (see docs/config.md)"
                          : "the config is empty; it needs a streams: list or models: to serve "
                            "(see docs/config.md)");
    if (!doc) return diag.status();
    PipelineSpec pipeline = read_pipeline(diag, *doc, needs);
    if (!diag.ok()) return diag.status();
    pipeline.source = source;
    return pipeline;
  } catch (const std::exception& e) {
    return Status::error(source + ": internal error while reading the config (" + e.what() +
                         "); please report it with the config file");
  }
}

Result<StreamSpec> parse_stream(const std::string& text, const std::string& source,
                                const PipelineSpec& pipeline) {
  Diagnostics diag(source);
  try {
    const std::optional<YAML::Node> doc = load_document(
        diag, text, "the stream is empty; give one stream's map: name, url, detector, ...");
    if (!doc) return diag.status();
    const MapReader map(diag, Item{*doc, "", doc->Mark()});
    if (!map.is_map()) return diag.status();
    ModelSpecs models;
    for (const auto& m : pipeline.models) models[m.name] = m;
    // The files of the running streams: a new stream may read their inputs, not overwrite them.
    std::map<std::string, OutputPath> files;
    for (const StreamSpec& s : pipeline.streams) {
      const std::string owner = "stream '" + s.name + "'";
      if (!video::is_url(s.url)) files.emplace(path_key(s.url), OutputPath{owner, "running", true});
      for (const auto& out : s.jsonl)
        files.emplace(path_key(out.path), OutputPath{owner, "running"});
      for (const auto& out : s.mp4) files.emplace(path_key(out.path), OutputPath{owner, "running"});
      for (const auto& out : s.mot) files.emplace(path_key(out.path), OutputPath{owner, "running"});
    }
    StreamSpec stream =
        read_stream(diag, map, pipeline.defaults, pipeline.defaults_have_detector, models, &files);
    if (!diag.ok()) return diag.status();
    return stream;
  } catch (const std::exception& e) {
    return Status::error(source + ": internal error while reading the stream (" + e.what() +
                         "); please report it with the stream's text");
  }
}

Result<std::vector<rules::RuleSpec>> parse_rules(const std::string& text, const std::string& source,
                                                 const StreamSpec& stream) {
  Diagnostics diag(source);
  try {
    const std::optional<YAML::Node> doc =
        load_document(diag, text, "the rules are empty; give a list, [] for none");
    if (!doc) return diag.status();
    Item item{*doc, "rules", doc->Mark()};
    if (doc->IsMap()) {
      constexpr std::string_view kKeys[] = {"rules"};
      const MapReader map(diag, Item{*doc, "", doc->Mark()});
      map.check_keys(kKeys);
      const std::optional<Item> rules = map.get("rules");
      if (!rules) {
        map.missing("rules", "give {rules: [...]} or the list itself");
        return diag.status();
      }
      item = *rules;
    }
    std::vector<rules::RuleSpec> parsed = read_rules(diag, item, stream.suppression);
    if (!diag.ok()) return diag.status();
    return parsed;
  } catch (const std::exception& e) {
    return Status::error(source + ": internal error while reading the rules (" + e.what() +
                         "); please report it with the rules' text");
  }
}

Result<PipelineSpec> load_config(const std::string& path, Needs needs) {
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
  return parse_config(text.str(), path, needs);
}

}  // namespace iris::pipeline
