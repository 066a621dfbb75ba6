// StreamWorker: everything one stream does to a frame, in order: gate, detect, track, rules,
// events, annotated video. It holds all per-stream state and runs on the stream's strand, one
// frame at a time, so it takes no locks except around the counters others read.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/frame.h"
#include "core/status.h"
#include "detect/detector.h"
#include "events/sink.h"
#include "pipeline/config.h"
#include "pipeline/osd.h"
#include "rules/rule.h"
#include "track/tracker.h"
#include "video/video_writer.h"

namespace iris::pipeline {

struct StreamCounters {
  int64_t frames = 0;
  int64_t detector_runs = 0;
  int64_t events = 0;
  int64_t event_errors = 0;  // deliveries that failed (logged)
  int64_t frame_errors = 0;  // frames whose processing failed (logged), skipped
  std::map<std::string, std::map<std::string, int64_t>> by_rule;        // rule -> event type -> n
  std::map<std::string, std::map<std::string, int64_t>> rule_counters;  // rule -> counters()
};

class StreamWorker {
 public:
  // Opens the event sinks and video writers (frames of another size are scaled to this one),
  // so that an unwritable path fails before the stream runs.
  static Result<std::unique_ptr<StreamWorker>> create(const StreamSpec& spec, int width, int height,
                                                      double fps);

  // Never throws: a frame that fails is logged and counted, and the stream goes on.
  void process(const Frame& frame);
  // Closes the videos (so the MP4 plays) and the sinks. Fails if any output failed on the way.
  Status finish();

  StreamCounters counters() const;

 private:
  explicit StreamWorker(const StreamSpec& spec) : spec_(spec) {}
  void process_frame(const Frame& frame);
  void deliver(events::Event& e, const Frame& frame);
  void write_video(const Frame& frame, const track::TrackUpdate& tracks);

  StreamSpec spec_;
  std::unique_ptr<detect::Detector> detector_;
  std::unique_ptr<track::Tracker> tracker_;
  std::vector<std::unique_ptr<rules::Rule>> rules_;
  std::vector<std::unique_ptr<events::Sink>> sinks_;
  std::vector<std::string> snapshot_dirs_;  // one per jsonl sink that asked for snapshots
  std::vector<std::unique_ptr<video::VideoWriter>> writers_;  // one per mp4 output
  std::string output_error_;  // first failure of a video output; the stream then ends failed
  bool detector_failed_ = false;
  OsdState osd_;
  int64_t frame_count_ = 0;

  mutable std::mutex counters_mu_;
  StreamCounters counters_;
};

}  // namespace iris::pipeline
