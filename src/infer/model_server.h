// ModelServer: one per model, shared by every stream (and HTTP client) that uses it. Requests
// are single samples; the server batches them across callers with Triton's two knobs: a batch
// runs as soon as it has `max_batch` samples, or when its oldest request has waited
// `max_delay_us`, whichever comes first. A partial batch never waits longer than that.
//
// Ownership and threads:
// - submit() is thread-safe and never blocks: callers (stream strands) hand over their tensor and
//   resume in `done`, which the server calls exactly once, on one of its worker threads, with
//   that sample's outputs (batch dimension 1). `done` must be quick: post the rest of the work
//   elsewhere (a stream posts it to its strand).
// - Each worker thread owns one Context of the shared LoadedModel.
// - The queue is bounded for callers that may drop (live cameras): such a request finding it full
//   is rejected and counted. Callers that must not drop (files) are always queued; each has at
//   most one request in flight, so the queue stays bounded by the number of callers.
// - The destructor runs every request already accepted, then joins the workers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/histogram.h"
#include "core/status.h"
#include "infer/backend.h"
#include "infer/model.h"
#include "infer/model_spec.h"
#include "infer/tensor.h"

namespace iris::infer {

struct ServerStats {
  int64_t requests = 0;  // accepted
  int64_t rejected = 0;  // refused because the queue was full
  int64_t failed = 0;    // samples whose batch failed to run
  int64_t batches = 0;
  int64_t max_batch_seen = 0;
  std::vector<int64_t> batch_sizes;  // [n] = batches of n samples run, n = 0..max_batch
  double infer_seconds = 0;          // summed over batches
  size_t queued = 0;                 // waiting now
};

class ModelServer {
 public:
  using Done = std::function<void(Result<std::vector<Tensor>>)>;

  static Result<std::unique_ptr<ModelServer>> create(std::string name,
                                                     std::shared_ptr<const LoadedModel> model,
                                                     const ServerOptions& options);
  ~ModelServer();
  ModelServer(const ModelServer&) = delete;
  ModelServer& operator=(const ModelServer&) = delete;

  // `input` is one sample: shape[0] == 1. Returns an error, without calling `done`, when
  // `may_drop` and the queue is full, or when the server is shutting down.
  Status submit(Tensor input, bool may_drop, Done done);
  // Runs waiting partial batches now instead of at their deadline (a stream ended).
  void flush();

  const std::string& name() const { return name_; }
  int max_batch() const { return max_batch_; }  // effective
  ServerStats stats() const;
  // Seconds each sample waited in the queue before its batch ran, and each batch took to run.
  const Histogram& queue_delay() const { return queue_delay_; }
  const Histogram& batch_seconds() const { return batch_seconds_; }

 private:
  struct Request {
    Tensor input;
    Done done;
    std::chrono::steady_clock::time_point arrived;
  };
  ModelServer(std::string name, int max_batch, const ServerOptions& options)
      : name_(std::move(name)), max_batch_(max_batch), options_(options) {}
  void run(Context* context);
  std::vector<Request> next_batch();
  void execute(Context* context, std::vector<Request>& batch);

  const std::string name_;
  const int max_batch_;
  const ServerOptions options_;
  std::vector<std::unique_ptr<Context>> contexts_;
  std::vector<std::thread> workers_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request> queue_;
  std::chrono::steady_clock::time_point flushed_;  // requests that arrived by then are due
  bool stopping_ = false;
  ServerStats stats_;
  Histogram queue_delay_;
  Histogram batch_seconds_;
};

// A model as the pipeline uses it: how to feed it and read it, and the server that runs it.
struct ServedModel {
  std::shared_ptr<const Model> model;
  ModelServer* server = nullptr;  // owned by the Engine, outlives every stream
};
using ServedModels = std::map<std::string, ServedModel>;  // by name in `models:`

}  // namespace iris::infer
