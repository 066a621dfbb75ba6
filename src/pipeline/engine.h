// Engine: owns every thread of a running pipeline. Each stream has a decode thread feeding a
// bounded frame queue (a file blocks when it is full, a live camera drops its oldest frame), and
// a strand on the Engine's worker pool that processes the stream's frames in order, one at a
// time. request_stop() drains: sources stop reading, frames in flight finish, events are flushed
// and videos are finalized.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "infer/model_server.h"
#include "pipeline/config.h"
#include "pipeline/stream_worker.h"

namespace iris::pipeline {

struct EngineOptions {
  int threads = 0;          // worker pool size; 0 = one per core
  size_t queue_frames = 8;  // frames buffered between a stream's decoder and its strand
};

enum class StreamState { kStarting, kRunning, kEnded, kFailed };
const char* state_name(StreamState s);

struct StreamStats {
  std::string name;
  StreamState state = StreamState::kStarting;
  std::string error;  // why it failed, if it did
  uint64_t decode_errors = 0;
  uint64_t dropped = 0;  // frames a live stream dropped because processing fell behind
  StreamCounters counters;
};

struct ModelStats {
  std::string name;
  int max_batch = 0;  // effective: 1 for models with a fixed batch of 1
  infer::ServerStats stats;
};

class Engine {
 public:
  // Opens every source and output first, so that a bad camera or path fails before anything
  // runs. The message names the stream.
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
  std::vector<StreamStats> stats() const;
  std::vector<ModelStats> model_stats() const;

 private:
  struct Stream;
  Engine() = default;
  void decode_loop(Stream* s);
  void schedule(Stream* s);
  void step(Stream* s);
  void finish(Stream* s);

  // Declared before the pool and the streams, so they go last: frames in flight need them.
  std::vector<std::unique_ptr<infer::ModelServer>> servers_;
  infer::ServedModels served_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::atomic<bool> stop_{false};
  bool started_ = false;
};

}  // namespace iris::pipeline
