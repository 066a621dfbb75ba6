#include "events/delivery.h"

#include <algorithm>
#include <random>
#include <set>

#include "core/log.h"
#include "core/text.h"

namespace iris::events {

namespace {

constexpr auto kIdleWait = std::chrono::milliseconds(500);   // between keepalive checks
constexpr auto kSaveEvery = std::chrono::milliseconds(100);  // cursor writes per sink, at most
constexpr auto kWarnEvery = std::chrono::seconds(60);        // repeated failure reports
constexpr uint64_t kMiB = 1 << 20;

std::string sink_label(const SinkSpec& s) { return "event sink '" + s.name + "' (" + s.type + ")"; }

// A whole number in [min, max] under `key`; `out` keeps its fallback when the key is absent.
Status read_integer(const nlohmann::json& node, const std::string& key, const std::string& where,
                    int64_t min, int64_t max, int64_t* out) {
  const auto it = node.find(key);
  if (it == node.end() || it->is_null()) return {};
  // A YAML scalar may arrive as text: "5000" is a number too.
  int64_t v = 0;
  bool number = it->is_number_integer();
  if (number) {
    v = it->get<int64_t>();
  } else {
    number = it->is_string() && parse_int(it->get<std::string>(), &v);
  }
  if (!number || v < min || v > max) {
    return Status::error(where + ": '" + key + "' must be a whole number in " +
                         std::to_string(min) + ".." + std::to_string(max) + ", got " + it->dump());
  }
  *out = v;
  return {};
}

}  // namespace

Result<DeliverySpec> parse_delivery_spec(const nlohmann::json& events) {
  if (!events.is_object()) {
    return Status::error("events: must be a mapping with log, max_mb and sinks");
  }
  for (const auto& [key, value] : events.items()) {
    if (key != "log" && key != "max_mb" && key != "sinks") {
      return Status::error("events: unknown key '" + key + "'; known: log, max_mb, sinks");
    }
  }
  DeliverySpec spec;
  const auto log = events.find("log");
  if (log == events.end() || !log->is_string() || log->get<std::string>().empty()) {
    return Status::error("events: 'log' must name the directory of the event log, e.g. " +
                         std::string("log: out/events"));
  }
  spec.log_dir = log->get<std::string>();
  int64_t max_mb = 256;
  if (Status s = read_integer(events, "max_mb", "events", 1, 1 << 20, &max_mb); !s) return s;
  spec.max_bytes = static_cast<uint64_t>(max_mb) * kMiB;

  const auto sinks = events.find("sinks");
  if (sinks == events.end() || !sinks->is_array() || sinks->empty()) {
    return Status::error("events: 'sinks' must list at least one sink, e.g. sinks: [{type: " +
                         std::string("webhook, url: http://127.0.0.1:8080/events}]"));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < sinks->size(); ++i) {
    const nlohmann::json& node = (*sinks)[i];
    const std::string where = "events.sinks[" + std::to_string(i) + "]";
    if (!node.is_object() || !node.contains("type") || !(node["type"].is_string())) {
      return Status::error(
          where + ": must be a mapping with a 'type' (one of: " + join(remote_sink_types()) + ")");
    }
    SinkSpec sink;
    sink.type = node["type"].get<std::string>();
    if (node.contains("name") && !node["name"].is_string()) {
      return Status::error(where + ": 'name' must be text");
    }
    sink.name = node.value("name", sink.type);
    if (!names.insert(sink.name).second) {
      return Status::error(where + ": a second sink named '" + sink.name +
                           "'; give each sink its own 'name' (it names the sink's cursor)");
    }
    int64_t window = 100, timeout = 5000, retry_min = 200, retry_max = 10000;
    for (Status s : {read_integer(node, "window", where, 1, 10000, &window),
                     read_integer(node, "timeout_ms", where, 10, 600000, &timeout),
                     read_integer(node, "retry_min_ms", where, 1, 600000, &retry_min),
                     read_integer(node, "retry_max_ms", where, 1, 3600000, &retry_max)}) {
      if (!s) return s;
    }
    if (retry_max < retry_min) {
      return Status::error(where + ": retry_max_ms " + std::to_string(retry_max) +
                           " is under retry_min_ms " + std::to_string(retry_min) + "; raise it");
    }
    sink.window = static_cast<size_t>(window);
    sink.timeout = std::chrono::milliseconds(timeout);
    sink.retry_min = std::chrono::milliseconds(retry_min);
    sink.retry_max = std::chrono::milliseconds(retry_max);
    for (const auto& [key, value] : node.items()) {
      static const std::set<std::string> kCommon = {"type",       "name",         "window",
                                                    "timeout_ms", "retry_min_ms", "retry_max_ms"};
      if (!kCommon.contains(key)) sink.options[key] = value;
    }
    if (Result<std::unique_ptr<RemoteSink>> made = make_remote_sink(sink); !made) {
      return made.status().with_context(where);
    }
    spec.sinks.push_back(std::move(sink));
  }
  return spec;
}

Result<std::unique_ptr<Delivery>> Delivery::open(const DeliverySpec& spec) {
  if (spec.sinks.empty()) {
    return Status::error("event delivery: no sinks; add one under events.sinks");
  }
  std::unique_ptr<Delivery> d(new Delivery());
  LogOptions options{.dir = spec.log_dir, .max_bytes = spec.max_bytes};
  for (size_t i = 0; i < spec.sinks.size(); ++i) {
    SinkSpec s = spec.sinks[i];
    if (s.name.empty()) s.name = s.type;
    if (s.window == 0 || s.timeout.count() <= 0 || s.retry_min.count() <= 0 ||
        s.retry_max < s.retry_min) {
      return Status::error(sink_label(s) + ": window, timeout and retry_min must be positive " +
                           "and retry_max at least retry_min");
    }
    Result<std::unique_ptr<RemoteSink>> sink = make_remote_sink(s);
    if (!sink) return sink.status();
    auto w = std::make_unique<Worker>();
    w->index = i;
    w->spec = s;
    w->sink = std::move(sink).value();
    d->workers_.push_back(std::move(w));
    options.sinks.push_back(s.name);
  }
  Result<std::unique_ptr<EventLog>> log = EventLog::open(options);
  if (!log) return log.status();
  d->log_ = std::move(log).value();

  const LogStats st = d->log_->stats();
  log::info("event delivery: log '" + spec.log_dir + "' holds " +
            std::to_string(st.end_seq - st.first_seq) + " events in " +
            std::to_string(st.segments) +
            " segments; sinks: " + join(d->workers_, ", ", [](const auto& w) {
              return w->spec.name + " (" + w->sink->describe() + ")";
            }));
  for (auto& w : d->workers_) {
    Worker& worker = *w;
    worker.thread = std::thread([d = d.get(), &worker] { d->run(worker); });
  }
  return d;
}

Delivery::~Delivery() { stop(std::chrono::milliseconds(0)); }

Status Delivery::append(const Event& e) { return log_->append(e); }

std::vector<SinkStats> Delivery::stats() const {
  std::vector<SinkStats> out;
  for (const auto& w : workers_) {
    SinkStats s;
    s.name = w->spec.name;
    s.type = w->spec.type;
    s.delivered = w->delivered;
    s.failures = w->failures;
    s.outbox = log_->unread(w->index) + w->in_flight;
    s.lost = log_->lost(w->index);
    s.connected = w->connected;
    out.push_back(std::move(s));
  }
  return out;
}

LogStats Delivery::log_stats() const { return log_->stats(); }

void Delivery::stop(std::chrono::milliseconds deadline) {
  if (!log_) return;  // open() failed half-way: no workers were started
  {
    std::lock_guard lock(stop_mu_);
    if (stopping_) return;
    stopping_ = true;
    stop_at_ = Clock::now() + deadline;
  }
  stop_cv_.notify_all();
  log_->wake();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Delivery::pause(Clock::time_point until) {
  std::unique_lock lock(stop_mu_);
  for (;;) {
    const Clock::time_point end = stopping_ ? std::min(until, stop_at_) : until;
    if (Clock::now() >= end) return;
    stop_cv_.wait_until(lock, end);
  }
}

// The worker: read up to `window` events past the sink's cursor, send them, move the cursor
// over what the peer confirmed; on failure disconnect, back off (exponential, jittered) and
// send the unconfirmed ones again.
void Delivery::run(Worker& w) {
  const std::string label = sink_label(w.spec) + " -> " + w.sink->describe();
  std::vector<LogRecord> batch;
  bool up = false;
  uint64_t failures_in_row = 0;
  Clock::time_point last_save = Clock::now(), last_warn{};
  std::mt19937_64 rng(std::random_device{}());

  const auto save = [&] {
    if (Status s = log_->save_cursor(w.index); !s) log::warn(label + ": " + s.message());
    last_save = Clock::now();
  };
  for (;;) {
    bool stopping = false;
    Clock::time_point stop_at;
    {
      std::lock_guard lock(stop_mu_);
      stopping = stopping_;
      stop_at = stop_at_;
    }
    const Clock::time_point now = Clock::now();
    if (stopping && (now >= stop_at || (batch.empty() && log_->unread(w.index) == 0))) break;
    if (batch.size() < w.spec.window) {
      for (LogRecord& r : log_->read(w.index, w.spec.window - batch.size())) {
        batch.push_back(std::move(r));
      }
      w.in_flight = batch.size();
    }
    const Clock::time_point deadline = stopping ? stop_at : Clock::time_point::max();

    // A connect that works is not yet a delivery: only confirmed events end a failure streak
    // (a webhook peer may accept connections and answer 500 to every POST).
    Status s;
    bool delivered = false;
    if (!up) {
      s = w.sink->connect(deadline);
      up = s.ok();
      w.connected = up;
    } else if (batch.empty()) {
      if (now - last_save >= kSaveEvery) save();
      if (Status idle = w.sink->idle(); !idle) {
        log::info(label + ": connection lost while idle (" + idle.message() + "); reconnecting");
        w.sink->disconnect();
        up = false;
        w.connected = false;
        continue;
      }
      log_->wait(w.index, stopping ? stop_at : now + kIdleWait);
      continue;
    } else {
      size_t confirmed = 0;
      s = w.sink->send(batch, deadline, &confirmed);
      delivered = s.ok() || confirmed > 0;
      if (confirmed > 0) {
        log_->acknowledge(w.index, batch[confirmed - 1].seq + 1);
        w.delivered += confirmed;
        batch.erase(batch.begin(), batch.begin() + static_cast<ptrdiff_t>(confirmed));
        w.in_flight = batch.size();
      }
      if (!s) {
        w.sink->disconnect();
        up = false;
        w.connected = false;
      }
      if (Clock::now() - last_save >= kSaveEvery) save();
    }
    if (delivered && failures_in_row > 0) {
      log::info(label + ": delivering again after " + std::to_string(failures_in_row) +
                " failed attempts");
      failures_in_row = 0;
    }
    if (s) continue;

    ++w.failures;
    ++failures_in_row;
    const uint64_t outbox = log_->unread(w.index) + batch.size();
    if (failures_in_row == 1 || now - last_warn >= kWarnEvery) {
      log::warn(label + ": " + s.message() + "; retrying with backoff (" +
                std::to_string(failures_in_row) + " failed attempts in a row, " +
                std::to_string(outbox) + " events waiting)");
      last_warn = now;
    }
    // Exponential backoff with jitter in [delay/2, delay], so many iris processes do not
    // reconnect to a restarted broker in lockstep.
    const int shift = static_cast<int>(std::min<uint64_t>(failures_in_row - 1, 30));
    const auto delay = std::min<std::chrono::milliseconds>(
        w.spec.retry_max, w.spec.retry_min * (int64_t{1} << shift));
    const auto jittered = std::chrono::milliseconds(
        delay.count() / 2 +
        static_cast<int64_t>(rng() % static_cast<uint64_t>(delay.count() / 2 + 1)));
    pause(Clock::now() + jittered);
  }
  save();
  w.sink->disconnect();
  w.connected = false;
  w.in_flight = batch.size();
}

}  // namespace iris::events
