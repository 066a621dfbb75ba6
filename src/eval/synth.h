// Synthetic scenes with exact ground truth: a seeded, deterministic generator of video (objects
// of several classes on keyframed paths over a textured, changing background), per-frame boxes,
// rule events (line crossings, zone visits, loitering, crowds) and noisy detections to replay
// through a pipeline. Same options and seed give byte-identical text outputs. `iris synth` is
// its command; docs/synth.md describes the files.
#pragma once

#include <cstdint>
#include <functional>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/geometry.h"
#include "core/status.h"

namespace iris::eval {

// Class ids are COCO's category ids, in gt.txt, gt_coco.json and detections.txt alike.
enum class ObjectClass { kPerson = 1, kBicycle = 2, kCar = 3 };
inline constexpr ObjectClass kObjectClasses[] = {ObjectClass::kPerson, ObjectClass::kBicycle,
                                                 ObjectClass::kCar};
const char* class_name(ObjectClass c);

// Where an object's feet (the bottom centre of its box) are at media time t.
struct Keyframe {
  double t = 0;
  Point feet;
};

struct SceneObject {
  int id = 0;  // from 1, the MOT id in gt.txt
  ObjectClass cls = ObjectClass::kPerson;
  double width = 0, height = 0;  // box size in pixels where the perspective scale is 1
  cv::Scalar colour;             // BGR of the body, which covers the box centre
  cv::Scalar accent;             // BGR of the second part (legs, windows, bicycle frame)
  std::vector<Keyframe> path;    // times increasing; the object exists from first to last
};

// A static object of the scene (pillar, planter) that hides what passes behind it.
struct Occluder {
  Box box;
  cv::Scalar colour;
};

// Rules as iris evaluates them (docs/config.md), on the bottom-centre anchor of the box.
struct SynthZone {
  std::vector<Point> polygon;
  double min_dwell = 0;
  double exit_grace = 0.5;
};
struct SynthLine {
  Point a, b;  // side A is where signed_distance(a, b, p) > 0
  double margin = 4;
};
struct SynthLoiter {
  std::vector<Point> polygon;
  double min_time = 10;
  double max_gap = 1;
};
struct SynthCrowd {
  std::vector<Point> polygon;
  int max_count = 3;
  double min_time = 2;
};
struct SceneRule {
  std::string name;
  std::vector<std::string> classes;  // empty: every class
  std::variant<SynthZone, SynthLine, SynthLoiter, SynthCrowd> shape;
};

struct Scene {
  std::string scenario;
  uint64_t seed = 0;
  int width = 0, height = 0;
  double fps = 0;
  int64_t frames = 0;
  std::vector<SceneObject> objects;
  std::vector<Occluder> occluders;
  std::vector<SceneRule> rules;
  Box standee;  // a cardboard figure painted on the ground: the static false positive

  // Media time of a frame as the video stores it (milliseconds).
  double time_of(int64_t frame) const;
  // Perspective: objects lower in the frame are nearer and larger.
  double scale_at(double y) const;
  // The object's full box at t (it may reach outside the frame), if it exists then.
  std::optional<Box> box_at(const SceneObject& o, double t) const;
  // Brightness factor of the light at t and point p (global changes and a passing shadow).
  double lighting(double t, const Point& p) const;
};

struct SynthOptions {
  uint64_t seed = 1;
  double duration = 60;  // seconds
  double fps = 10;
  int width = 640, height = 480;
  double miss_rate = 0.05;    // share of detectable objects the detector misses, in short runs
  double fp_rate = 0.05;      // false positives per detectable object (flicker blips, standee)
  double jitter = 1.5;        // pixels: standard deviation of each box edge's noise
  double score_noise = 0.05;  // standard deviation of the detection score's noise
  std::string scenario = "mixed";
};

// The scene the options describe; an error names a bad option and its range.
Result<Scene> make_scene(const SynthOptions& options);

// An object in one frame: its box clipped to the frame and the share of its full box that is seen
// (not outside the frame nor behind a nearer object or occluder).
struct GtBox {
  int object_id = 0;
  ObjectClass cls = ObjectClass::kPerson;
  Box box;
  double visibility = 1;
};
// Objects at least this visible are found by the detector (unless missed by noise).
inline constexpr double kDetectableVisibility = 0.4;

// Per frame, the objects in it (boxes at least 2x2 pixels), by id.
std::vector<std::vector<GtBox>> ground_truth(const Scene& scene);

// What a rule raises, computed from the true boxes; fields as in docs/events.md.
struct TruthEvent {
  std::string rule;
  std::string type;
  double media_time = 0;
  int64_t frame = 0;
  int object_id = 0;  // 0 for crowd events
  std::string label;
  std::string direction;           // line_cross
  std::optional<double> duration;  // zone_exit, loiter_end: seconds since the visit began
  std::optional<int> count;        // crowd_start: objects counted
};
std::vector<TruthEvent> rule_truth(const Scene& scene,
                                   const std::vector<std::vector<GtBox>>& truth);

enum class DetectionKind { kTrue, kFlicker, kStandee };
struct SynthDetection {
  Box box;
  float score = 0;
  ObjectClass cls = ObjectClass::kPerson;
  DetectionKind kind = DetectionKind::kTrue;
};
// Per frame, what a noisy detector reports.
std::vector<std::vector<SynthDetection>> noisy_detections(
    const Scene& scene, const SynthOptions& options, const std::vector<std::vector<GtBox>>& truth);

struct SynthSummary {
  int64_t frames = 0;
  int objects[4] = {0, 0, 0, 0};  // by class id
  int64_t gt_boxes = 0, detectable = 0;
  int64_t true_detections = 0, flicker = 0, standee = 0;
  std::vector<TruthEvent> events;
};

// Writes video.mp4, gt.txt, gt_coco.json, truth.json, detections.txt and pipeline.yaml into
// `dir` (created if missing). `progress` is called after each rendered frame.
Result<SynthSummary> synthesize(const SynthOptions& options, const std::string& dir,
                                const std::function<void(int64_t done, int64_t total)>& progress);

}  // namespace iris::eval
