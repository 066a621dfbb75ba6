// Server: what `iris serve` runs. It builds the Engine from a config plus the changes made through
// the API (ApiState), and serves over HTTP: the KServe v2 protocol on the engine's models, the
// control API (streams, rules, frames, live view, event snapshots and clips), /metrics for
// Prometheus. The routes are thin adapters: the pipeline does the work. Endpoints and options:
// docs/serve.md.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "core/status.h"
#include "pipeline/config.h"
#include "pipeline/engine.h"
#include "server/http.h"
#include "server/kserve.h"
#include "server/live.h"
#include "server/state.h"

namespace iris::server {

// Where the jsonl outputs of the streams keep event snapshots and clips.
struct EventDirs {
  std::set<std::string> snapshots;
  std::set<std::string> clips;
};
struct EventFile;

struct ServeOptions {
  HttpOptions http;
  pipeline::EngineOptions engine;
  KserveOptions kserve;
  std::string state_path;  // empty: CONFIG.state.json beside the config
  int live_fps = 10;       // most frames a second an MJPEG viewer gets
  size_t max_viewers = 64;
};

class Server {
 public:
  // Loads CONFIG and its state file, creates and starts the engine, and listens. Errors name the
  // file, the address or the stream at fault.
  static Result<std::unique_ptr<Server>> start(const std::string& config_path,
                                               const ServeOptions& options);
  // Stops listening, then stops and drains the engine.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return http_->port(); }
  const std::string& state_path() const { return state_.path(); }
  pipeline::Engine& engine() { return *engine_; }

 private:
  Server() = default;
  void add_routes();
  void sample_fps();
  std::map<std::string, double> fps() const;

  // The control API's handlers.
  void list_streams(Reply reply);
  void add_stream(Request req, Reply reply);
  void remove_stream(const std::string& name, Reply reply);
  void pause_stream(const std::string& name, bool pause, Reply reply);
  void get_rules(const std::string& name, Reply reply);
  void put_rules(const std::string& name, Request req, Reply reply);
  void frame(const std::string& name, Reply reply);
  void live(const std::string& name, Reply reply);
  // An event's snapshot or clip, by its id.
  void event_file(const std::string& id, const EventFile& kind, Reply reply);
  void metrics(Reply reply);

  // Declared first, destroyed last: replies still in flight post into its I/O context.
  std::unique_ptr<HttpServer> http_;
  ServeOptions options_;
  std::unique_ptr<pipeline::Engine> engine_;
  std::unique_ptr<LiveView> live_;

  // One control change at a time, held while the engine applies it (opening a camera may take a
  // while); mu_ guards the fields below, held briefly, so /metrics never waits for a change.
  std::mutex control_mu_;
  mutable std::mutex mu_;
  ApiState state_;
  pipeline::PipelineSpec pipeline_;              // the streams as running: config and API changes
  std::map<std::string, nlohmann::json> rules_;  // per stream, its rules as the API shows them
  EventDirs event_dirs_;                         // of every stream that ran, for event ids

  mutable std::mutex fps_mu_;
  std::map<std::string, double> fps_;
  std::mutex sampler_mu_;
  std::condition_variable sampler_cv_;
  bool stopping_ = false;  // guarded by sampler_mu_
  std::thread sampler_;
  std::atomic<bool> ready_{false};
};

}  // namespace iris::server
