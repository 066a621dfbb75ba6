#include "events/delivery.h"

#include <algorithm>
#include <random>

#include "core/log.h"
#include "core/text.h"

namespace iris::events {

namespace {

constexpr auto kIdleWait = std::chrono::milliseconds(500);   // between keepalive checks
constexpr auto kSaveEvery = std::chrono::milliseconds(100);  // cursor writes per sink, at most
constexpr auto kWarnEvery = std::chrono::seconds(60);        // repeated failure reports

std::string sink_label(const SinkSpec& s) { return "event sink '" + s.name + "' (" + s.type + ")"; }

}  // namespace

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

Status Delivery::append(const Event& e, const std::string& json) { return log_->append(e, json); }

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
