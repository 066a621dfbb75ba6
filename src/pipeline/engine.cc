#include "pipeline/engine.h"

#include <condition_variable>
#include <mutex>
#include <opencv2/core.hpp>
#include <optional>
#include <thread>

#include "core/bounded_queue.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "video/source.h"

namespace iris::pipeline {

const char* state_name(StreamState s) {
  switch (s) {
    case StreamState::kStarting:
      return "starting";
    case StreamState::kRunning:
      return "running";
    case StreamState::kEnded:
      return "ended";
    case StreamState::kFailed:
      return "failed";
  }
  return "unknown";
}

struct Engine::Stream {
  Stream(ThreadPool* pool, size_t capacity, FullPolicy policy)
      : queue(capacity, policy), strand(pool) {}
  std::string name;
  std::unique_ptr<video::Source> source;
  std::unique_ptr<StreamWorker> worker;
  BoundedQueue<Frame> queue;
  Strand strand;
  std::atomic<bool> step_pending{false};
  std::atomic<bool> input_done{false};  // the decoder has queued its last frame
  std::string input_error;              // why the input ended early; set before input_done
  bool busy = false;                    // a frame is in the worker (strand only)
  bool finished = false;                // outputs closed (strand only)
  std::thread decoder;

  mutable std::mutex mu;  // guards the fields below
  std::condition_variable done_cv;
  StreamState state = StreamState::kStarting;
  std::string error;
};

Result<std::unique_ptr<Engine>> Engine::create(const PipelineSpec& spec,
                                               const EngineOptions& options) {
  std::unique_ptr<Engine> e(new Engine());
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = options.threads > 0 ? options.threads : cores;
  e->pool_ = std::make_unique<ThreadPool>(threads);
  // Parallelism comes from running streams side by side on the pool; a library that also
  // spreads each call over every core would oversubscribe them. One stream may use the spare.
  const int n = static_cast<int>(spec.streams.size());
  const int per_stream = std::max(1, cores / std::max(1, n));
  cv::setNumThreads(n >= cores ? 1 : per_stream);

  // Models first: a model that cannot run fails before any camera is opened.
  for (const infer::ModelSpec& ms : spec.models) {
    auto model = infer::load_model(ms);
    if (!model.ok()) return model.status();
    auto server = infer::ModelServer::create(ms.name, (*model)->loaded(), ms.server);
    if (!server.ok()) return server.status();
    e->served_[ms.name] = {std::move(model).value(), server->get()};
    e->servers_.push_back(std::move(server).value());
  }

  for (const StreamSpec& ss : spec.streams) {
    video::SourceOptions so;
    so.url = ss.url;
    so.loop = ss.loop;
    so.realtime = ss.realtime;
    so.timeout = ss.timeout;
    so.decode_threads = 1;
    so.stop = &e->stop_;
    auto source = video::Source::open(so);
    if (!source.ok()) return source.status().with_context("stream '" + ss.name + "'");
    const video::StreamInfo& info = (*source)->info();
    auto s = std::make_unique<Stream>(e->pool_.get(), options.queue_frames,
                                      info.live ? FullPolicy::kDropOldest : FullPolicy::kBlock);
    s->name = ss.name;
    auto worker = StreamWorker::create(
        ss, {info.width, info.height, info.fps, info.live}, e->served_,
        [p = s.get()](std::function<void()> task) { p->strand.post(std::move(task)); });
    if (!worker.ok()) return worker.status();
    s->source = std::move(source).value();
    s->worker = std::move(worker).value();
    e->streams_.push_back(std::move(s));
  }
  return e;
}

Engine::~Engine() {
  request_stop();
  for (auto& s : streams_) {
    if (s->decoder.joinable()) s->decoder.join();
  }
  // Frames in flight at a model come back and finish their stream; only then may the streams,
  // the pool and the model servers go.
  if (started_) wait_for(std::chrono::hours(24 * 365));
  for (auto& s : streams_) s->strand.drain();
  pool_.reset();  // joins the pool after it ran what was posted
  servers_.clear();
}

void Engine::start() {
  if (started_) return;
  started_ = true;
  for (auto& s : streams_) {
    {
      std::lock_guard lock(s->mu);
      s->state = StreamState::kRunning;
    }
    s->decoder = std::thread([this, p = s.get()] { decode_loop(p); });
  }
}

void Engine::request_stop() {
  stop_ = true;
  for (auto& s : streams_) s->queue.close();
}

void Engine::decode_loop(Stream* s) {
  std::string error;
  for (;;) {
    auto r = s->source->read();
    if (!r.ok()) {
      error = r.status().message();
      break;
    }
    if (!r->has_value()) break;
    if (!s->queue.push(std::move(**r))) break;  // closed by request_stop()
    schedule(s);
  }
  if (!error.empty()) log::error("stream '" + s->name + "': " + error);
  s->input_error = error;
  s->input_done = true;
  // Partial batches need not wait for a stream that sends no more.
  for (auto& server : servers_) server->flush();
  schedule(s);
}

// At most one step per stream is pending on its strand, so posted work stays bounded by the
// frame queue whatever the decoder's pace.
void Engine::schedule(Stream* s) {
  if (!s->step_pending.exchange(true)) s->strand.post([this, s] { step(s); });
}

// Runs on the stream's strand. A frame stays in the worker until its `done` (also on the strand),
// so at most one is in flight per stream, and the strand is free for other streams meanwhile.
void Engine::step(Stream* s) {
  s->step_pending = false;
  if (s->busy || s->finished) return;
  if (auto f = s->queue.try_pop()) {
    s->busy = true;
    s->worker->process(*f, [this, s] {
      s->busy = false;
      if (s->queue.size() > 0 || s->input_done) schedule(s);
    });
    return;
  }
  if (s->input_done) finish(s);
}

// Closes the stream's outputs once its input ended and every frame was processed.
void Engine::finish(Stream* s) {
  s->finished = true;
  Status fin;
  try {
    fin = s->worker->finish();
  } catch (const std::exception& e) {
    fin = Status::error(std::string("finishing outputs failed: ") + e.what());
  }
  if (!fin.ok()) log::error("stream '" + s->name + "': " + fin.message());
  std::lock_guard lock(s->mu);
  s->error = !s->input_error.empty() ? s->input_error : (fin.ok() ? "" : fin.message());
  s->state = s->error.empty() ? StreamState::kEnded : StreamState::kFailed;
  s->done_cv.notify_all();
}

bool Engine::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& s : streams_) {
    std::unique_lock lock(s->mu);
    if (!s->done_cv.wait_until(lock, deadline, [&] {
          return s->state == StreamState::kEnded || s->state == StreamState::kFailed;
        }))
      return false;
  }
  return true;
}

std::vector<StreamStats> Engine::stats() const {
  std::vector<StreamStats> out;
  for (const auto& s : streams_) {
    StreamStats st;
    st.name = s->name;
    {
      std::lock_guard lock(s->mu);
      st.state = s->state;
      st.error = s->error;
    }
    st.decode_errors = s->source->decode_errors();
    st.dropped = s->queue.dropped();
    st.counters = s->worker->counters();
    out.push_back(std::move(st));
  }
  return out;
}

std::vector<ModelStats> Engine::model_stats() const {
  std::vector<ModelStats> out;
  for (const auto& server : servers_) {
    out.push_back({server->name(), server->max_batch(), server->stats()});
  }
  return out;
}

}  // namespace iris::pipeline
