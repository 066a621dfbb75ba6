// Config: a YAML pipeline file -> a validated PipelineSpec. Everything is checked before anything
// runs; every problem is reported with file:line:column, the key, and what would be right.
// Every key is documented in docs/config.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "detect/detector.h"
#include "events/delivery.h"
#include "infer/model_spec.h"
#include "rules/rule.h"
#include "track/tracker.h"
#include "video/camera.h"

namespace iris::pipeline {

struct JsonlOutput {
  std::string path;                  // events, one JSON object per line
  bool snapshots = false;            // write a JPEG per event beside the file (snapshots/<id>.jpg)
  std::string snapshot_dir() const;  // that snapshots/ directory
  // Record an MP4 clip per event beside the file (clips/<id>.mp4), cut from the camera's own
  // packets, from pre_roll seconds before the event to post_roll after it.
  bool clips = false;
  double pre_roll = 5;
  double post_roll = 5;
  std::string clip_dir() const;  // that clips/ directory
};

struct Mp4Output {
  std::string path;  // annotated H.264 MP4
};

struct MotOutput {
  std::string path;  // tracks, MOTChallenge text: frame,id,x,y,w,h,score,-1,-1,-1
};

// A classifier or embedding model run on the crops of detections (a car's colour, a face's
// identity vector); results ride on the detection, its track and its events.
struct SecondarySpec {
  std::string model;                 // name in `models:`, decoder classifier or embedding
  std::vector<std::string> classes;  // detections of these classes; empty: all
  int min_size = 32;                 // pixels: crops with a smaller side are not run
  double interval = 1.0;             // seconds: at most one run per tracked object this often
  double padding = 0.0;              // grow the crop by this fraction of the box on each side
};

// Motion-gated detection: a cheap background model decides whether the detector runs. While
// nothing moves, the last detections stand (a still scene keeps its tracks, no inference).
struct MotionGate {
  detect::MotionSpec motion;  // what counts as motion
  double hold = 1.0;          // seconds the detector keeps running after motion stops
  double refresh = 5.0;       // seconds: run the detector at least this often anyway (0: never)
  bool region = false;        // run the detector only on the moving region, not the whole frame
  double padding = 0.25;      // grow the moving region by this fraction of its size on each side
};

struct StreamSpec {
  std::string name;
  std::string url;        // file path, http(s)://, rtsp://
  bool loop = false;      // files: start again at the end
  bool realtime = false;  // files: pace at the stream's frame rate (live sources always are)
  double timeout = 10.0;  // seconds a network open or read may block
  std::string rtsp_transport = "tcp";  // or "udp"
  video::ReconnectPolicy reconnect;    // live sources: backoff between reconnect attempts
  double stall_after = 2.0;            // seconds without a frame before a camera is "stalled"
  bool keyframes_only = false;         // decode only key frames
  double max_fps = 0;                  // deliver at most this many frames a second (0: all)
  bool emulate_live = false;           // files: play as a camera would (looped, paced, may drop)
  int detect_interval = 1;  // run the detector on every Nth frame, the tracker predicts between
  std::optional<MotionGate> gate;
  detect::DetectorSpec detector;
  std::vector<SecondarySpec> secondary;
  track::TrackerSpec tracker;
  rules::SuppressionSpec suppression;  // for every rule; a rule's own keys override it key by key
  std::vector<rules::RuleSpec> rules;
  std::vector<JsonlOutput> jsonl;
  std::vector<Mp4Output> mp4;
  std::vector<MotOutput> mot;
};

struct PipelineSpec {
  std::string source;  // the config file it came from
  std::vector<infer::ModelSpec> models;
  std::vector<StreamSpec> streams;
  std::optional<events::DeliverySpec> delivery;  // `events:`: the event log and remote sinks
  // `defaults:`, which streams added later (parse_stream) inherit as the file's streams do.
  StreamSpec defaults;
  bool defaults_have_detector = false;
};

// What a config must hold: `iris run` needs streams; `iris serve` may serve models alone and have
// its streams added through its API.
enum class Needs { kStreams, kStreamsOrModels };

Result<PipelineSpec> load_config(const std::string& path, Needs needs = Needs::kStreams);
// Same, from text; `source` names it in messages. Files the config names are checked to exist.
Result<PipelineSpec> parse_config(const std::string& yaml, const std::string& source,
                                  Needs needs = Needs::kStreams);

// One stream from `text` (YAML or JSON, e.g. an API request's body): a map with the keys of one
// entry of `streams:`. It inherits `pipeline.defaults`, may name `pipeline.models`, and may not
// write a file that a stream of `pipeline.streams` reads or writes. Errors as the config's, with
// `source` in place of the file name.
Result<StreamSpec> parse_stream(const std::string& text, const std::string& source,
                                const PipelineSpec& pipeline);
// The rules of `stream` from `text`: a list as under a stream's `rules:`, or {rules: [...]}.
// Rules read their suppression keys over the stream's.
Result<std::vector<rules::RuleSpec>> parse_rules(const std::string& text, const std::string& source,
                                                 const StreamSpec& stream);

}  // namespace iris::pipeline
