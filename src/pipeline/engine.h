// Engine: owns every thread of a running pipeline and the core budget. Each stream has a decode
// thread (a video::Camera, which reconnects live sources) feeding a bounded frame queue (a file
// blocks when it is full, a live camera drops its oldest frame and counts it), and a strand on
// the Engine's worker pool that processes the stream's frames in order, one at a time. Model
// servers batch the requests of every stream. Streams can be added, removed, paused and resumed
// while the others run. request_stop() drains: sources stop reading, frames in flight finish,
// events are flushed and videos are finalized.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/histogram.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "events/delivery.h"
#include "infer/model_server.h"
#include "pipeline/config.h"
#include "pipeline/stream_worker.h"
#include "video/clip_recorder.h"

namespace iris::pipeline {

struct EngineOptions {
  int threads = 0;          // worker pool size; 0 = one per core
  size_t queue_frames = 8;  // frames buffered between a file's decoder and its strand
  size_t live_frames = 4;   // the same for live cameras: at 15 fps, ~270 ms of backlog at most
};

// connecting, live (frames flowing), stalled (no frame for a while), reconnecting, paused,
// ended, failed. Files go connecting -> live -> ended.
enum class StreamState { kConnecting, kLive, kStalled, kReconnecting, kPaused, kEnded, kFailed };
const char* state_name(StreamState s);

struct StreamStats {
  std::string name;
  std::string url;
  StreamState state = StreamState::kConnecting;
  std::string reason;  // why it is not live, or why it failed
  bool live = false;   // a camera (drops when behind), not a file
  int width = 0;       // of the latest frame
  int height = 0;
  uint64_t decode_errors = 0;
  // Frames a live stream lost because it fell behind: in processing (its frame queue kept the
  // newest) or, for emulate_live, in decoding (`skipped`, a part of `dropped`).
  uint64_t dropped = 0;
  uint64_t skipped = 0;
  uint64_t reconnects = 0;  // successful reconnects
  StreamCounters counters;
  std::optional<video::ClipStats> clips;  // for a stream that records event clips
};

struct ModelStats {
  std::string name;
  int max_batch = 0;  // effective: 1 for models with a fixed batch of 1
  infer::ServerStats stats;
};

class Engine {
 public:
  // Loads every model, then opens every stream's source and outputs, so that a bad model, file
  // or path fails before anything runs (live cameras connect once started). The message names
  // the stream. `spec.streams` may be empty.
  static Result<std::unique_ptr<Engine>> create(const PipelineSpec& spec,
                                                const EngineOptions& options = {});
  ~Engine();  // stops, drains and joins
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start();
  // Asks every stream to stop reading; the frames already read are still processed.
  void request_stop();
  // Waits up to `timeout` for every stream to finish; true when all have.
  bool wait_for(std::chrono::milliseconds timeout);

  // Runtime changes; any thread, while the other streams run. Errors name the stream.
  // Adds a stream (its name must be new; its models must be among the engine's) and, if the
  // engine is started, starts it.
  Status add_stream(const StreamSpec& spec);
  // Stops the stream's input, lets its queued frames finish, closes its outputs and forgets it.
  // Returns when that is done (about one frame's processing, or a blocked read's timeout).
  Status remove_stream(const std::string& name);
  // A paused file holds its position; a paused camera disconnects and reconnects on resume.
  // Frames already queued are still processed.
  Status pause_stream(const std::string& name);
  Status resume_stream(const std::string& name);
  // Replaces the stream's rules from its next frame on (StreamWorker::replace_rules); returns
  // once they are in place.
  Status replace_rules(const std::string& name, std::vector<rules::RuleSpec> rules);
  // The stream's latest frames for the live view; null when there is no such stream.
  std::shared_ptr<FrameTap> frame_tap(const std::string& name) const;
  // The models and the servers that batch them, for clients other than the streams (HTTP).
  const infer::ServedModels& models() const { return served_; }

  std::vector<StreamStats> stats() const;
  std::vector<ModelStats> model_stats() const;
  // The remote sinks of `events:` in config order; empty when the config has none.
  std::vector<events::SinkStats> delivery_stats() const;
  // Gives the remote sinks up to 2 s to take what waits in the event log, then stops them; the
  // rest stays in the log for the next run. Call after the streams ended (the destructor does);
  // events raised later stay in the log too.
  void stop_delivery();
  // Seconds from a frame's decode to the end of its processing (tracking, rules, events,
  // outputs), over every frame of every stream; and from decode to each event's delivery.
  const Histogram& frame_latency() const { return frame_latency_; }
  const Histogram& event_latency() const { return event_latency_; }

 private:
  struct Stream;
  Engine() = default;
  Result<std::unique_ptr<Stream>> make_stream(const StreamSpec& spec);
  void launch(Stream* s);
  void decode_loop(Stream* s);
  void schedule(Stream* s);
  void step(Stream* s);
  void finish(Stream* s);
  std::shared_ptr<Stream> find(const std::string& name) const;
  void set_threads();

  EngineOptions options_;
  // Declared before the pool and the streams, so they go last: frames in flight need them.
  std::vector<std::unique_ptr<infer::ModelServer>> servers_;
  infer::ServedModels served_;
  Histogram frame_latency_;
  Histogram event_latency_;
  std::unique_ptr<events::Delivery> delivery_;  // null without `events:`
  std::unique_ptr<ThreadPool> pool_;
  mutable std::mutex streams_mu_;  // guards streams_ (not the streams themselves)
  std::vector<std::shared_ptr<Stream>> streams_;
  int next_id_ = 0;  // Frame::stream of the next stream added (guarded by streams_mu_)
  std::atomic<bool> stop_{false};
  bool started_ = false;
};

}  // namespace iris::pipeline
