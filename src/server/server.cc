#include "server/server.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>

#include "core/log.h"
#include "core/text.h"
#include "pipeline/yaml_reader.h"
#include "server/metrics.h"
#include "server/picture.h"
#include "video/clip_recorder.h"

namespace iris::server {
// What an event id fetches: the event's snapshot or its clip, from the directories of the
// jsonl outputs that keep them.
struct EventFile {
  std::string_view ext;
  std::string_view content_type;
  std::string_view what;
  std::string_view setting;  // the jsonl output key that keeps them
  std::set<std::string> EventDirs::*dirs;
};

namespace {

using nlohmann::json;

// A config value as JSON: quoted scalars are strings; plain ones are read as YAML 1.2 reads
// them (null, true/false, numbers), otherwise strings.
json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(yaml_to_json(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.Scalar()] = yaml_to_json(kv.second);
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (!pipeline::is_quoted(node)) {
        if (s == "null" || s == "~") return nullptr;
        if (s == "true" || s == "false") return s == "true";
        int64_t i = 0;
        if (parse_int(s, &i)) return i;
        double d = 0;
        if (parse_finite(s, &d)) return d;
      }
      return s;
    }
    default:
      return nullptr;
  }
}

// The rules of each stream of the config file, as written there (for GET .../rules).
std::map<std::string, json> config_rules(const std::string& path) {
  std::map<std::string, json> out;
  try {
    const YAML::Node streams = YAML::LoadFile(path)["streams"];
    for (const auto& stream : streams) {
      if (!stream["name"] || !stream["name"].IsScalar()) continue;
      out[stream["name"].Scalar()] =
          stream["rules"] ? yaml_to_json(stream["rules"]) : json::array();
    }
  } catch (const std::exception&) {
    // The config was read and checked already; a file changed since shows no rules.
  }
  return out;
}

// A URL without its password, for answers: cameras' URLs often carry credentials.
std::string redact(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t host_end = url.find('/', scheme + 3);
  const size_t at = url.rfind('@', host_end);
  if (at == std::string::npos || at < scheme) return url;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

bool is_event_id(std::string_view id) {
  // ULID: 26 characters of Crockford's base32; the first holds 3 bits.
  constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  if (id.size() != 26 || id[0] > '7') return false;
  return std::all_of(id.begin(), id.end(),
                     [&](char c) { return kAlphabet.find(c) != std::string_view::npos; });
}

Response no_stream(const std::string& name) {
  return Response::error(404, "no stream named '" + name + "'; GET /api/streams lists them");
}

// `fps`: per stream, as Server::fps() has it; 0 for a stream not sampled yet.
json stream_json(const pipeline::StreamStats& s, const std::map<std::string, double>& fps) {
  const auto& c = s.counters;
  const auto rate = fps.find(s.name);
  json j = {{"name", s.name},
            {"url", redact(s.url)},
            {"state", pipeline::state_name(s.state)},
            {"reason", s.reason},
            {"live", s.live},
            {"width", s.width},
            {"height", s.height},
            {"fps", rate == fps.end() ? 0 : rate->second},
            {"frames", c.frames},
            {"dropped", s.dropped},
            {"decode_errors", s.decode_errors},
            {"reconnects", s.reconnects},
            {"counters",
             {{"detector_runs", c.detector_runs},
              {"gated", c.gated},
              {"events", c.events},
              {"event_errors", c.event_errors},
              {"frame_errors", c.frame_errors},
              {"detector_errors", c.detector_errors},
              {"secondary_failures", c.secondary_failures},
              {"events_by_rule", c.by_rule},
              {"rules", c.rule_counters},
              {"suppressed", c.suppressed}}}};
  if (s.clips) {
    j["clips"] = {{"written", s.clips->written},          {"failed", s.clips->failed},
                  {"refused", s.clips->refused},          {"recording", s.clips->pending},
                  {"buffered_seconds", s.clips->seconds}, {"buffered_bytes", s.clips->bytes}};
  }
  return j;
}

constexpr EventFile kSnapshot{".jpg", "image/jpeg", "snapshot", "snapshots", &EventDirs::snapshots};
constexpr EventFile kClip{".mp4", "video/mp4", "clip", "clips", &EventDirs::clips};

void add_event_dirs(const pipeline::StreamSpec& spec, EventDirs* dirs) {
  for (const auto& out : spec.jsonl) {
    if (out.snapshots) dirs->snapshots.insert(out.snapshot_dir());
    if (out.clips) dirs->clips.insert(out.clip_dir());
  }
}

// A JSON body, or the 400 that says why it is not one.
std::optional<json> json_body(const Request& req, const Reply& reply) {
  try {
    return json::parse(req.body);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    if (const size_t end = what.find("] "); end != std::string::npos) what = what.substr(end + 2);
    reply(Response::error(400, "the body is not valid JSON (" + what + ")"));
    return std::nullopt;
  }
}

Response with_warning(json body, const Status& saved, int status = 200) {
  if (!saved.ok()) {
    log::error(saved.message());
    body["warning"] = saved.message();
  }
  return Response::json(body.dump(), status);
}

}  // namespace

Result<std::unique_ptr<Server>> Server::start(const std::string& config_path,
                                              const ServeOptions& options) {
  auto spec = pipeline::load_config(config_path, pipeline::Needs::kStreamsOrModels);
  if (!spec.ok()) return spec.status();
  std::unique_ptr<Server> s(new Server());
  s->options_ = options;
  auto state =
      ApiState::load(options.state_path.empty() ? config_path + ".state.json" : options.state_path);
  if (!state.ok()) return state.status();
  s->state_ = std::move(state).value();
  if (Status applied = s->state_.apply(&*spec); !applied) return applied;
  s->pipeline_ = std::move(spec).value();

  const std::map<std::string, json> from_config = config_rules(config_path);
  for (const auto& stream : s->pipeline_.streams) {
    json rules = json::array();
    if (const json* api = s->state_.rules(stream.name)) {
      rules = *api;
    } else if (const json* body = s->state_.added(stream.name)) {
      rules = body->value("rules", json::array());
    } else if (const auto it = from_config.find(stream.name); it != from_config.end()) {
      rules = it->second;
    }
    s->rules_[stream.name] = std::move(rules);
    add_event_dirs(stream, &s->event_dirs_);
  }

  auto engine = pipeline::Engine::create(s->pipeline_, options.engine);
  if (!engine.ok()) return engine.status();
  s->engine_ = std::move(engine).value();
  // Paused before the start, so a paused stream reads nothing.
  for (const std::string& name : s->state_.paused_streams()) {
    if (Status p = s->engine_->pause_stream(name); !p) log::warn("state: " + p.message());
  }
  s->engine_->start();

  pipeline::Engine* engine_ptr = s->engine_.get();
  s->live_ = std::make_unique<LiveView>(
      [engine_ptr](const std::string& name) { return engine_ptr->frame_tap(name) != nullptr; },
      options.live_fps, options.max_viewers);
  s->http_ = std::make_unique<HttpServer>(options.http);
  s->add_routes();
  if (Status listening = s->http_->start(); !listening) return listening;
  s->sampler_ = std::thread([p = s.get()] { p->sample_fps(); });
  s->ready_ = true;
  return s;
}

Server::~Server() {
  ready_ = false;
  if (http_) http_->stop();
  live_.reset();
  {
    std::lock_guard lock(sampler_mu_);
    stopping_ = true;
  }
  sampler_cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
  engine_.reset();
}

void Server::sample_fps() {
  using Clock = std::chrono::steady_clock;
  std::map<std::string, int64_t> last;
  Clock::time_point last_t = Clock::now();
  std::unique_lock lock(sampler_mu_);
  while (!sampler_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
    const auto now = Clock::now();
    const double dt = std::chrono::duration<double>(now - last_t).count();
    std::map<std::string, int64_t> frames;
    std::map<std::string, double> rates;
    for (const auto& st : engine_->stats()) {
      frames[st.name] = st.counters.frames;
      const auto it = last.find(st.name);
      rates[st.name] = it == last.end() ? 0 : (st.counters.frames - it->second) / dt;
    }
    {
      std::lock_guard fps_lock(fps_mu_);
      fps_ = std::move(rates);
    }
    last = std::move(frames);
    last_t = now;
  }
}

std::map<std::string, double> Server::fps() const {
  std::lock_guard lock(fps_mu_);
  return fps_;
}

void Server::add_routes() {
  HttpServer& h = *http_;
  add_kserve_routes(
      h, engine_->models(), [this] { return ready_.load(); }, options_.kserve);
  h.route(
      "GET", "/metrics", [this](Request, Reply reply) { metrics(std::move(reply)); }, Run::kInline);
  h.route(
      "GET", "/api/streams", [this](Request, Reply reply) { list_streams(std::move(reply)); },
      Run::kInline);
  h.route("POST", "/api/streams",
          [this](Request req, Reply reply) { add_stream(std::move(req), std::move(reply)); });
  h.route(
      "GET", "/api/streams/{}",
      [this](Request req, Reply reply) {
        for (const auto& st : engine_->stats()) {
          if (st.name == req.params[0]) return reply(Response::json(stream_json(st, fps()).dump()));
        }
        reply(no_stream(req.params[0]));
      },
      Run::kInline);
  h.route("DELETE", "/api/streams/{}",
          [this](Request req, Reply reply) { remove_stream(req.params[0], std::move(reply)); });
  h.route("POST", "/api/streams/{}/pause", [this](Request req, Reply reply) {
    pause_stream(req.params[0], true, std::move(reply));
  });
  h.route("POST", "/api/streams/{}/resume", [this](Request req, Reply reply) {
    pause_stream(req.params[0], false, std::move(reply));
  });
  h.route("GET", "/api/streams/{}/rules",
          [this](Request req, Reply reply) { get_rules(req.params[0], std::move(reply)); });
  h.route("PUT", "/api/streams/{}/rules", [this](Request req, Reply reply) {
    const std::string name = req.params[0];
    put_rules(name, std::move(req), std::move(reply));
  });
  h.route("GET", "/api/streams/{}/frame.jpg",
          [this](Request req, Reply reply) { frame(req.params[0], std::move(reply)); });
  h.route(
      "GET", "/api/streams/{}/live.mjpg",
      [this](Request req, Reply reply) { live(req.params[0], std::move(reply)); }, Run::kInline);
  h.route("GET", "/api/events/{}/snapshot.jpg", [this](Request req, Reply reply) {
    event_file(req.params[0], kSnapshot, std::move(reply));
  });
  h.route("GET", "/api/events/{}/clip.mp4",
          [this](Request req, Reply reply) { event_file(req.params[0], kClip, std::move(reply)); });
}

void Server::list_streams(Reply reply) {
  const auto rates = fps();
  json list = json::array();
  for (const auto& st : engine_->stats()) list.push_back(stream_json(st, rates));
  reply(Response::json(json{{"streams", std::move(list)}}.dump()));
}

void Server::add_stream(Request req, Reply reply) {
  const std::optional<json> body = json_body(req, reply);
  if (!body) return;
  if (!body->is_object()) {
    return reply(Response::error(
        400,
        "the body must be one stream's map, e.g. {\"name\": \"lobby\", \"url\": ..., "
        "\"detector\": {...}} (the keys of a config's streams: entry)"));
  }
  std::lock_guard control(control_mu_);
  Result<pipeline::StreamSpec> spec = Status::error("unset");
  {
    std::lock_guard lock(mu_);
    spec = pipeline::parse_stream(req.body, "request", pipeline_);
  }
  if (!spec.ok()) return reply(Response::error(400, spec.status().message()));
  if (engine_->frame_tap(spec->name)) {
    return reply(Response::error(409, "stream '" + spec->name + "' exists already; DELETE " +
                                          "/api/streams/" + spec->name +
                                          " first, or choose another name"));
  }
  if (Status added = engine_->add_stream(*spec); !added) {
    return reply(Response::error(400, added.message()));
  }
  Status saved;
  {
    std::lock_guard lock(mu_);
    pipeline_.streams.push_back(*spec);
    rules_[spec->name] = body->value("rules", json::array());
    add_event_dirs(*spec, &event_dirs_);
    saved = state_.add_stream(*body);
  }
  reply(with_warning(json{{"added", spec->name}}, saved, 201));
}

void Server::remove_stream(const std::string& name, Reply reply) {
  std::lock_guard control(control_mu_);
  if (!engine_->frame_tap(name)) {
    return reply(no_stream(name));
  }
  if (Status removed = engine_->remove_stream(name); !removed) {
    return reply(Response::error(409, removed.message()));
  }
  Status saved;
  {
    std::lock_guard lock(mu_);
    std::erase_if(pipeline_.streams, [&](const pipeline::StreamSpec& s) { return s.name == name; });
    rules_.erase(name);
    saved = state_.remove_stream(name);
  }
  reply(with_warning(json{{"removed", name}}, saved));
}

void Server::pause_stream(const std::string& name, bool pause, Reply reply) {
  std::lock_guard control(control_mu_);
  if (!engine_->frame_tap(name)) {
    return reply(no_stream(name));
  }
  if (Status s = pause ? engine_->pause_stream(name) : engine_->resume_stream(name); !s) {
    return reply(Response::error(409, s.message()));
  }
  Status saved;
  {
    std::lock_guard lock(mu_);
    saved = state_.set_paused(name, pause);
  }
  reply(with_warning(json{{pause ? "paused" : "resumed", name}}, saved));
}

void Server::get_rules(const std::string& name, Reply reply) {
  std::lock_guard lock(mu_);
  const auto it = rules_.find(name);
  if (it == rules_.end()) {
    return reply(no_stream(name));
  }
  reply(Response::json(json{{"stream", name}, {"rules", it->second}}.dump()));
}

void Server::put_rules(const std::string& name, Request req, Reply reply) {
  const std::optional<json> body = json_body(req, reply);
  if (!body) return;
  const bool wrapped = body->is_object() && body->contains("rules");
  const json rules = wrapped ? (*body)["rules"] : *body;
  if (!rules.is_array()) {
    return reply(Response::error(
        400, "the body must be {\"rules\": [...]} or a list of rules, as GET .../rules shows"));
  }
  std::lock_guard control(control_mu_);
  Result<std::vector<rules::RuleSpec>> parsed = Status::error("unset");
  {
    std::lock_guard lock(mu_);
    const auto it = std::find_if(pipeline_.streams.begin(), pipeline_.streams.end(),
                                 [&](const pipeline::StreamSpec& s) { return s.name == name; });
    if (it == pipeline_.streams.end()) {
      return reply(no_stream(name));
    }
    parsed = pipeline::parse_rules(req.body, "request", *it);
  }
  if (!parsed.ok()) return reply(Response::error(400, parsed.status().message()));
  if (Status s = engine_->replace_rules(name, *parsed); !s) {
    return reply(Response::error(409, s.message()));
  }
  Status saved;
  {
    std::lock_guard lock(mu_);
    for (auto& s : pipeline_.streams) {
      if (s.name == name) s.rules = *parsed;
    }
    rules_[name] = rules;
    saved = state_.set_rules(name, rules);
  }
  reply(with_warning(json{{"stream", name}, {"rules", rules}}, saved));
}

void Server::frame(const std::string& name, Reply reply) {
  const std::shared_ptr<pipeline::FrameTap> tap = engine_->frame_tap(name);
  if (!tap) {
    return reply(no_stream(name));
  }
  const pipeline::FrameTap::Picture picture = tap->latest(false);
  if (picture.bgr.empty()) {
    return reply(
        Response::error(503, "stream '" + name + "' has no frame yet; try again once it is live"));
  }
  Response r;
  r.content_type = "image/jpeg";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Frame-Index", std::to_string(picture.index));
  r.body = encode_jpeg(picture.bgr, 85);
  reply(std::move(r));
}

void Server::live(const std::string& name, Reply reply) {
  std::shared_ptr<pipeline::FrameTap> tap = engine_->frame_tap(name);
  if (!tap) {
    return reply(no_stream(name));
  }
  auto viewer = live_->open(name, std::move(tap));
  if (!viewer.ok()) return reply(Response::error(503, viewer.status().message()));
  Response r;
  r.content_type = LiveView::kContentType;
  r.parts = std::move(viewer).value();
  reply(std::move(r));
}

void Server::event_file(const std::string& id, const EventFile& kind, Reply reply) {
  // Only a well-formed id becomes part of a path: nothing else of a request reaches the disk.
  if (!is_event_id(id)) {
    return reply(Response::error(
        400, "'" + id.substr(0, 64) +
                 "' is not an event id; ids are 26 characters of Crockford base32 (0-9 and A-Z "
                 "without I, L, O, U), as the events' \"id\" field shows"));
  }
  std::set<std::string> dirs;
  {
    std::lock_guard lock(mu_);
    dirs = event_dirs_.*kind.dirs;
  }
  const std::string what(kind.what);
  for (const std::string& dir : dirs) {
    const std::string path = dir + "/" + id + std::string(kind.ext);
    std::error_code ec;
    if (std::filesystem::exists(video::clip_placeholder(path), ec)) {
      Response r = Response::error(503, "the " + what + " of event " + id +
                                            " is still being recorded (it ends post_roll "
                                            "seconds after the event); ask again shortly");
      r.headers.emplace_back("Retry-After", "2");
      return reply(std::move(r));
    }
    if (!std::filesystem::is_regular_file(path, ec)) continue;
    auto bytes = read_file(path);
    if (!bytes.ok()) return reply(Response::error(500, bytes.status().message()));
    Response r;
    r.content_type = std::string(kind.content_type);
    r.body = std::move(bytes).value();
    return reply(std::move(r));
  }
  reply(Response::error(404, "no " + what + " for event " + id + "; " + what +
                                 "s are kept by jsonl outputs with " + std::string(kind.setting) +
                                 ": true"));
}

void Server::metrics(Reply reply) {
  MetricsInput in;
  in.streams = engine_->stats();
  in.fps = fps();
  {
    std::lock_guard lock(mu_);
    for (const auto& s : pipeline_.streams) {
      for (const auto& rule : s.rules) {
        if (std::holds_alternative<rules::LineSpec>(rule)) {
          in.lines[s.name].insert(rules::common_of(rule).name);
        }
      }
    }
  }
  const infer::ServedModels& models = engine_->models();
  for (auto& m : engine_->model_stats()) {
    const infer::ModelServer* server = models.at(m.name).server;
    in.models.push_back({std::move(m), &server->queue_delay(), &server->batch_seconds()});
  }
  in.sinks = engine_->delivery_stats();
  in.frame_latency = &engine_->frame_latency();
  in.event_latency = &engine_->event_latency();
  in.http = http_->stats();
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = render_metrics(in);
  reply(std::move(r));
}

}  // namespace iris::server
