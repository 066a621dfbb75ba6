#include "pipeline/engine.h"

#include <malloc.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <opencv2/core.hpp>
#include <thread>

#include "core/bounded_queue.h"
#include "core/clock.h"
#include "core/log.h"
#include "video/camera.h"

namespace iris::pipeline {
namespace {

// How long the remote sinks may go on delivering once the streams have stopped.
constexpr std::chrono::seconds kDeliveryDrain{2};

StreamState from_link(video::LinkState s) {
  switch (s) {
    case video::LinkState::kConnecting:
      return StreamState::kConnecting;
    case video::LinkState::kLive:
      return StreamState::kLive;
    case video::LinkState::kStalled:
      return StreamState::kStalled;
    case video::LinkState::kReconnecting:
      return StreamState::kReconnecting;
    case video::LinkState::kEnded:
      return StreamState::kEnded;
    case video::LinkState::kFailed:
      return StreamState::kFailed;
  }
  return StreamState::kFailed;
}

}  // namespace

const char* state_name(StreamState s) {
  switch (s) {
    case StreamState::kConnecting:
      return "connecting";
    case StreamState::kLive:
      return "live";
    case StreamState::kStalled:
      return "stalled";
    case StreamState::kReconnecting:
      return "reconnecting";
    case StreamState::kPaused:
      return "paused";
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
  int id = 0;                     // Frame::stream
  std::atomic<bool> live{false};  // as far as the camera knows (an http URL: once connected)
  std::unique_ptr<StreamWorker> worker;
  BoundedQueue<Frame> queue;
  Strand strand;
  std::thread decoder;
  // Set to stop the input (engine stop, removal) or to cut a paused camera's connection; every
  // blocking read and backoff wait of the camera returns when it is set. On the heap: the
  // camera is opened before the Stream exists.
  std::unique_ptr<std::atomic<bool>> halt;
  // Declared after halt, so destroyed before it: it reads halt until then. Read by the decode
  // thread, its status() by any.
  std::unique_ptr<video::Camera> camera;
  std::shared_ptr<video::ClipRecorder> recorder;  // null without clips
  std::atomic<bool> stopping{false};              // the input is to end for good
  std::atomic<bool> step_pending{false};
  std::atomic<bool> input_done{false};  // the decoder has queued its last frame
  std::string input_error;              // why the input ended early; set before input_done
  // Index of the latest frame read after a gap, which the live queue may drop: the first frame
  // processed at or after it then carries the gap instead.
  std::atomic<int64_t> last_gap{-1};
  int64_t last_index = -1;  // of the last frame processed (strand only)
  bool busy = false;        // a frame is in the worker (strand only)
  bool finished = false;    // outputs closed (strand only)
  // Decode thread only: frames are numbered as delivered (those a camera's max_fps skipped, which
  // its own index counts, leave no hole).
  int64_t next_index = 0;

  mutable std::mutex mu;  // guards the fields below
  std::condition_variable cv;
  bool paused = false;
  bool done = false;  // finished: state is final
  StreamState final_state = StreamState::kEnded;
  std::string error;
};

Result<std::unique_ptr<Engine>> Engine::create(const PipelineSpec& spec,
                                               const EngineOptions& options) {
  std::unique_ptr<Engine> e(new Engine());
  e->options_ = options;
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  e->pool_ = std::make_unique<ThreadPool>(options.threads > 0 ? options.threads : cores);

  // The event log before anything slow: a directory that cannot hold it fails at once.
  if (spec.delivery) {
    auto delivery = events::Delivery::open(*spec.delivery);
    if (!delivery.ok()) return delivery.status().with_context("events.log");
    e->delivery_ = std::move(delivery).value();
  }
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
    if (Status s = e->add_stream(ss); !s) return s;
  }
  return e;
}

Result<std::unique_ptr<Engine::Stream>> Engine::make_stream(const StreamSpec& ss) {
  video::CameraOptions co;
  co.name = ss.name;
  co.source.url = ss.url;
  co.source.loop = ss.loop;
  co.source.realtime = ss.realtime;
  co.source.timeout = ss.timeout;
  co.source.decode_threads = 1;  // parallelism comes from running streams side by side
  co.source.rtsp_transport = ss.rtsp_transport;
  co.source.keyframes_only = ss.keyframes_only;
  co.source.max_fps = ss.max_fps;
  co.source.emulate_live = ss.emulate_live;
  co.reconnect = ss.reconnect;
  co.stall_after = ss.stall_after;
  double pre_roll = -1;
  for (const JsonlOutput& out : ss.jsonl) {
    if (out.clips) pre_roll = std::max(pre_roll, out.pre_roll);
  }
  if (pre_roll >= 0) co.source.recorder = std::make_shared<video::ClipRecorder>(pre_roll);
  auto halt = std::make_unique<std::atomic<bool>>(false);
  co.source.stop = halt.get();
  auto camera = video::Camera::open(co);
  if (!camera.ok()) return camera.status().with_context("stream '" + ss.name + "'");
  const bool live = (*camera)->live();
  const video::StreamInfo info = (*camera)->info();  // size known for files, not cameras yet
  auto s =
      std::make_unique<Stream>(pool_.get(), live ? options_.live_frames : options_.queue_frames,
                               live ? FullPolicy::kDropOldest : FullPolicy::kBlock);
  s->name = ss.name;
  s->live = live;
  s->recorder = co.source.recorder;
  s->halt = std::move(halt);
  auto worker = StreamWorker::create(
      ss, {info.width, info.height, info.fps, live}, served_,
      [p = s.get()](std::function<void()> task) { p->strand.post(std::move(task)); },
      &event_latency_, delivery_.get(), co.source.recorder);
  if (!worker.ok()) return worker.status();
  s->worker = std::move(worker).value();
  s->camera = std::move(camera).value();
  return s;
}

Status Engine::add_stream(const StreamSpec& spec) {
  if (find(spec.name)) {
    return Status::error("stream '" + spec.name +
                         "' already exists; remove it first or choose another name");
  }
  if (stop_) return Status::error("stream '" + spec.name + "': the engine is stopping");
  auto made = make_stream(spec);
  if (!made.ok()) return made.status();
  std::shared_ptr<Stream> s = std::move(made).value();
  {
    std::lock_guard lock(streams_mu_);
    for (const auto& other : streams_) {
      if (other->name == spec.name) {
        return Status::error("stream '" + spec.name + "' already exists; choose another name");
      }
    }
    s->id = next_id_++;
    streams_.push_back(s);
  }
  set_threads();
  if (started_) launch(s.get());
  return Status();
}

Status Engine::remove_stream(const std::string& name) {
  std::shared_ptr<Stream> s = find(name);
  if (!s) return Status::error("no stream named '" + name + "'; list the streams to see names");
  {
    std::lock_guard lock(s->mu);
    if (s->stopping.exchange(true)) {
      return Status::error("stream '" + name + "' is already being removed");
    }
    *s->halt = true;
    s->cv.notify_all();
  }
  s->queue.close();
  if (s->decoder.joinable()) s->decoder.join();
  if (!started_) {
    // Never ran: nothing in flight; close its outputs here.
    s->input_done = true;
    s->strand.post([this, p = s.get()] { step(p); });
  }
  {
    std::unique_lock lock(s->mu);
    s->cv.wait(lock, [&] { return s->done; });
  }
  s->strand.drain();
  {
    std::lock_guard lock(streams_mu_);
    std::erase(streams_, s);
  }
  s.reset();
  // A stream's frames and decoder freed memory that glibc would otherwise keep at its peak;
  // an engine whose streams come and go must not hold the high-water mark for ever.
  malloc_trim(0);
  set_threads();
  return Status();
}

Status Engine::pause_stream(const std::string& name) {
  std::shared_ptr<Stream> s = find(name);
  if (!s) return Status::error("no stream named '" + name + "'; list the streams to see names");
  std::lock_guard lock(s->mu);
  if (s->done) return Status::error("stream '" + name + "' has ended; it cannot be paused");
  s->paused = true;
  // A camera's connection is cut at once (even a read waiting on a dead camera); a file only
  // stops reading after the frame it is on.
  if (s->live) *s->halt = true;
  return Status();
}

Status Engine::resume_stream(const std::string& name) {
  std::shared_ptr<Stream> s = find(name);
  if (!s) return Status::error("no stream named '" + name + "'; list the streams to see names");
  std::lock_guard lock(s->mu);
  if (!s->paused) return Status::error("stream '" + name + "' is not paused");
  s->paused = false;
  s->cv.notify_all();
  return Status();
}

Status Engine::replace_rules(const std::string& name, std::vector<rules::RuleSpec> rules) {
  std::shared_ptr<Stream> s = find(name);
  if (!s) return Status::error("no stream named '" + name + "'; list the streams to see names");
  // On the strand, between two steps of the worker, like everything that touches its state.
  std::promise<void> done;
  s->strand.post([&] {
    s->worker->replace_rules(std::move(rules));
    done.set_value();
  });
  done.get_future().wait();
  return Status();
}

std::shared_ptr<FrameTap> Engine::frame_tap(const std::string& name) const {
  std::shared_ptr<Stream> s = find(name);
  return s ? s->worker->tap() : nullptr;
}

std::shared_ptr<Engine::Stream> Engine::find(const std::string& name) const {
  std::lock_guard lock(streams_mu_);
  for (const auto& s : streams_) {
    if (s->name == name && !s->stopping) return s;
  }
  return nullptr;
}

// Parallelism comes from running streams side by side on the pool; a library that also spreads
// each call over every core would oversubscribe them. A lone stream may use the spare cores.
void Engine::set_threads() {
  size_t n;
  {
    std::lock_guard lock(streams_mu_);
    n = streams_.size();
  }
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  cv::setNumThreads(n >= cores ? 1 : static_cast<int>(cores / std::max<size_t>(1, n)));
}

Engine::~Engine() {
  request_stop();
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(streams_mu_);
    streams = streams_;
  }
  for (auto& s : streams) {
    if (s->decoder.joinable()) s->decoder.join();
  }
  // Frames in flight at a model come back and finish their stream; only then may the streams,
  // the pool and the model servers go.
  if (started_) wait_for(std::chrono::hours(24 * 365));
  for (auto& s : streams) s->strand.drain();
  stop_delivery();  // after the streams: their last events are in the log
  pool_.reset();    // joins the pool after it ran what was posted
  servers_.clear();
}

void Engine::start() {
  if (started_) return;
  started_ = true;
  std::lock_guard lock(streams_mu_);
  for (auto& s : streams_) launch(s.get());
}

void Engine::launch(Stream* s) {
  s->decoder = std::thread([this, s] { decode_loop(s); });
}

void Engine::request_stop() {
  stop_ = true;
  std::lock_guard lock(streams_mu_);
  for (auto& s : streams_) {
    {
      std::lock_guard slock(s->mu);
      s->stopping = true;
      *s->halt = true;
      s->cv.notify_all();
    }
    s->queue.close();
  }
}

void Engine::decode_loop(Stream* s) {
  std::string error;
  for (;;) {
    {
      std::unique_lock lock(s->mu);
      if (s->paused && !s->stopping) {
        if (s->live) {
          // A camera nobody reads would only buffer or time out: it reconnects on resume.
          s->camera->disconnect();
          // A paused camera's clips end at the pause; they are written now, not at the resume.
          if (s->recorder) {
            lock.unlock();
            s->recorder->close();
            lock.lock();
          }
        }
        s->cv.wait(lock, [&] { return !s->paused || s->stopping; });
      }
      if (s->stopping) break;
      *s->halt = false;
    }
    auto r = s->camera->read();
    if (!r.ok()) {
      error = r.status().message();
      break;
    }
    if (!r->has_value()) {
      std::lock_guard lock(s->mu);
      if (s->stopping || !*s->halt) break;  // the end of a file, or the engine stops
      s->camera->disconnect();              // a pause cut the read short; reconnect on resume
      continue;
    }
    if (s->camera->live() != s->live) {
      s->live = !s->live;
      s->queue.reconfigure(s->live ? options_.live_frames : options_.queue_frames,
                           s->live ? FullPolicy::kDropOldest : FullPolicy::kBlock);
    }
    Frame& f = **r;
    if (s->recorder) s->recorder->mark(f.pts);
    f.index = s->next_index++;
    if (f.gap) s->last_gap = f.index;
    f.stream = s->id;
    {
      std::lock_guard lock(s->mu);
      if (s->paused && s->live) continue;  // read while the pause came in: a camera drops it
    }
    if (!s->queue.push(std::move(f))) break;  // closed: stopping
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
    const int64_t gap = s->last_gap;
    if (gap >= 0 && f->index >= gap && s->last_index < gap) f->gap = true;
    s->last_index = f->index;
    s->busy = true;
    const double decoded = f->wall_time;
    s->worker->process(*f, [this, s, decoded] {
      frame_latency_.add(wall_seconds() - decoded);
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
  s->final_state = s->error.empty() ? StreamState::kEnded : StreamState::kFailed;
  s->done = true;
  s->cv.notify_all();
}

bool Engine::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(streams_mu_);
    streams = streams_;
  }
  for (auto& s : streams) {
    std::unique_lock lock(s->mu);
    if (!s->cv.wait_until(lock, deadline, [&] { return s->done; })) return false;
  }
  return true;
}

std::vector<StreamStats> Engine::stats() const {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(streams_mu_);
    streams = streams_;
  }
  std::vector<StreamStats> out;
  for (const auto& s : streams) {
    StreamStats st;
    st.name = s->name;
    st.url = s->camera->url();
    st.live = s->live;
    const video::LinkStatus link = s->camera->status();
    {
      std::lock_guard lock(s->mu);
      if (s->done) {
        st.state = s->final_state;
        st.reason = s->error;
      } else if (s->paused) {
        st.state = StreamState::kPaused;
      } else {
        st.state = from_link(link.state);
        st.reason = link.reason;
      }
    }
    st.width = link.width;
    st.height = link.height;
    st.decode_errors = link.decode_errors;
    st.dropped = s->queue.dropped() + link.dropped;
    st.skipped = link.dropped;
    st.reconnects = link.reconnects;
    st.counters = s->worker->counters();
    if (s->recorder) st.clips = s->recorder->stats();
    out.push_back(std::move(st));
  }
  return out;
}

std::vector<events::SinkStats> Engine::delivery_stats() const {
  return delivery_ ? delivery_->stats() : std::vector<events::SinkStats>{};
}

void Engine::stop_delivery() {
  if (delivery_) delivery_->stop(kDeliveryDrain);
}

std::vector<ModelStats> Engine::model_stats() const {
  std::vector<ModelStats> out;
  for (const auto& server : servers_) {
    out.push_back({server->name(), server->max_batch(), server->stats()});
  }
  return out;
}

}  // namespace iris::pipeline
