// StreamWorker: everything one stream does to a frame, in order: gate, detect, track, suppress,
// rules, events, annotated video. It holds all per-stream state and runs on the stream's strand,
// one frame at a time, so it takes no locks except around the counters others read.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/frame.h"
#include "core/histogram.h"
#include "core/status.h"
#include "detect/detector.h"
#include "events/delivery.h"
#include "events/sink.h"
#include "pipeline/config.h"
#include "pipeline/frame_tap.h"
#include "pipeline/mot_writer.h"
#include "pipeline/motion_gate.h"
#include "pipeline/osd.h"
#include "pipeline/secondary_stage.h"
#include "rules/rule.h"
#include "rules/suppression.h"
#include "track/tracker.h"
#include "video/clip_recorder.h"
#include "video/video_writer.h"

namespace iris::pipeline {

struct StreamCounters {
  int64_t frames = 0;
  int64_t detector_runs = 0;
  int64_t gated = 0;  // frames where the motion gate saw nothing move and no detector ran
  int64_t events = 0;
  int64_t event_errors = 0;        // deliveries that failed (logged)
  int64_t frame_errors = 0;        // frames whose processing failed (logged), skipped
  int64_t detector_errors = 0;     // detector runs that failed or were dropped (model queue full)
  int64_t secondary_failures = 0;  // crops a secondary model failed or dropped
  std::map<std::string, std::map<std::string, int64_t>> by_rule;        // rule -> event type -> n
  std::map<std::string, std::map<std::string, int64_t>> rule_counters;  // rule -> counters()
  std::map<std::string, int64_t> suppressed;  // reason -> n (rules::Suppression::counters())
};

// What the stream's source is, for the outputs and for how to treat a full model queue.
struct StreamInput {
  int width = 0;  // 0 while a camera has not connected: videos open at the first frame
  int height = 0;
  double fps = 0;
  bool live = false;  // a camera: requests may be dropped when a model falls behind
};

class StreamWorker {
 public:
  using Post = std::function<void(std::function<void()>)>;  // runs a task on the stream's strand

  // Opens the event sinks and video writers (frames of another size are scaled to this one),
  // so that an unwritable path fails before the stream runs. `models` must hold every model the
  // stream names, and outlive the worker; so must `event_latency` (decode to delivery) and
  // `delivery` (the process's event log, which every event is appended to), if given.
  // `recorder` gets the stream's packets (from its Source), for the jsonl outputs with clips.
  static Result<std::unique_ptr<StreamWorker>> create(
      const StreamSpec& spec, const StreamInput& input, const infer::ServedModels& models,
      Post post, Histogram* event_latency = nullptr, events::Delivery* delivery = nullptr,
      std::shared_ptr<video::ClipRecorder> recorder = nullptr);

  // Called on the strand, one frame at a time: the caller waits for `done` before the next
  // frame. `done` runs on the strand, when the frame is fully processed; a DNN detector's result
  // arrives in between, so the strand is free for other streams meanwhile. Never throws: a frame
  // that fails is logged and counted, and the stream goes on.
  void process(const Frame& frame, std::function<void()> done);
  // Closes the videos (so the MP4 plays) and the sinks. Fails if any output failed on the way.
  Status finish();

  StreamCounters counters() const;
  // On the strand: the rules (zones, lines, ...) from the next frame on. Their state and counters
  // start afresh; tracks already inside a zone count as entering it.
  void replace_rules(std::vector<rules::RuleSpec> rules);
  // The latest frame, plain and (while watched) annotated, for the live view.
  const std::shared_ptr<FrameTap>& tap() const { return tap_; }

 private:
  StreamWorker(const StreamSpec& spec, const infer::ServedModels& models, bool live, Post post)
      : spec_(spec),
        post_(std::move(post)),
        secondary_(spec.secondary, models, live, post_),
        suppression_(spec.suppression, spec.rules) {}
  // Runs the detector (on `region` only, if given) and then complete().
  void detect(const Frame& frame, std::optional<cv::Rect> region, std::function<void()> done);
  // Tracking, rules, events and outputs of a frame; `detections` is empty where no detector ran.
  // `held`: the gate kept the last detections, no detector ran.
  void complete(const Frame& frame, const std::optional<Result<std::vector<Detection>>>& detections,
                bool held = false);
  void complete_frame(const Frame& frame,
                      const std::optional<Result<std::vector<Detection>>>& detections, bool held);
  Status open_writers(int width, int height);
  void deliver(events::Event& e, const Frame& frame);
  // The annotated frame, for the mp4 outputs and any live viewer.
  void write_video(const Frame& frame, const track::TrackUpdate& tracks);

  StreamSpec spec_;
  Post post_;
  std::unique_ptr<detect::Detector> detector_;
  SecondaryStage secondary_;
  std::unique_ptr<track::Tracker> tracker_;
  rules::Suppression suppression_;
  std::vector<std::unique_ptr<rules::Rule>> rules_;  // rule i reads suppression_.input(i)
  std::vector<std::unique_ptr<events::Sink>> sinks_;
  std::vector<std::string> snapshot_dirs_;  // one per jsonl sink that asked for snapshots
  std::vector<JsonlOutput> clip_outputs_;   // the jsonl sinks that asked for clips
  std::shared_ptr<video::ClipRecorder> recorder_;
  double event_lag_ = 0;  // seconds an event may be dated before the frame that raises it
  std::optional<Gate> gate_;
  // The last successful detections, which stand while the gate sees no motion.
  std::optional<std::vector<Detection>> last_detections_;
  std::vector<track::Track> gap_removed_;  // tracks forgotten at a gap, reported with its frame
  Histogram* event_latency_ = nullptr;
  events::Delivery* delivery_ = nullptr;
  double writer_fps_ = 25;
  std::vector<std::unique_ptr<video::VideoWriter>> writers_;  // one per mp4 output
  std::vector<std::unique_ptr<MotWriter>> track_writers_;     // one per mot output
  double last_detection_time_ = 0;  // media time of the last successful detector run
  std::string output_error_;  // first failed video or track output; the stream then ends failed
  bool detector_failed_ = false;
  OsdState osd_;
  int64_t frame_count_ = 0;
  std::shared_ptr<FrameTap> tap_ = std::make_shared<FrameTap>();

  mutable std::mutex counters_mu_;
  StreamCounters counters_;
  int64_t suppressed_total_ = 0;  // suppression_.total() when counters_.suppressed was copied
};

}  // namespace iris::pipeline
