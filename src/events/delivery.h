// Event delivery: the durable event log of a process and one worker thread per remote sink
// (webhook, MQTT, Redis Streams) that carries events from the log to the sink's peer, at least
// once: through peer outages (retries with backoff, reconnects) and through kill -9 (each sink
// resumes from its persisted cursor). The only loss is at the log's size limit, counted per
// sink. Config and guarantees: docs/events.md, Delivery.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "events/event.h"
#include "events/event_log.h"
#include "events/remote_sink.h"

namespace iris::events {

struct DeliverySpec {
  std::string log_dir;                // the event log's directory; one process at a time
  uint64_t max_bytes = 256ull << 20;  // the log's size limit
  std::vector<SinkSpec> sinks;        // at least one; names unique (an empty one: the type)
};

struct SinkStats {
  std::string name;
  std::string type;
  uint64_t delivered = 0;  // events the peer confirmed (a redelivered one counts again)
  uint64_t failures = 0;   // failed connects and sends
  uint64_t outbox = 0;     // appended, not yet confirmed by this sink
  uint64_t lost = 0;       // dropped at the log's size limit before this sink read them
  bool connected = false;
};

// Ownership and threads: a Delivery owns its EventLog and one thread per sink, started by
// open() and joined by stop(). append(), stats() and log_stats() may be called from any thread
// at any time, also during and after stop(); an event appended after stop() is delivered by the
// next Delivery opened on the same log. stop() is called once, by the owner; the destructor
// stops with no deadline if it was not.
class Delivery {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens (or recovers) the log and starts the workers. A peer that is down is not an error
  // here: its events wait in the log and the worker keeps retrying.
  static Result<std::unique_ptr<Delivery>> open(const DeliverySpec& spec);
  ~Delivery();

  // Returns once the event is durable in the log (write + fdatasync, shared with concurrent
  // appenders); never waits for a sink. An error (disk full, I/O error) means it is not in the
  // log: the caller counts and reports it. `json` is to_json_line(e), which a caller that also
  // writes it elsewhere makes once.
  Status append(const Event& e, const std::string& json);
  Status append(const Event& e) { return append(e, to_json_line(e)); }

  std::vector<SinkStats> stats() const;  // in the order of DeliverySpec::sinks
  LogStats log_stats() const;

  // Delivers what the sinks can take until the deadline, then persists each sink's cursor and
  // joins the workers. What is left stays in the log for the next run.
  void stop(std::chrono::milliseconds deadline);

 private:
  struct Worker {
    size_t index = 0;
    SinkSpec spec;
    std::unique_ptr<RemoteSink> sink;
    std::thread thread;
    std::atomic<uint64_t> delivered{0};
    std::atomic<uint64_t> failures{0};
    std::atomic<uint64_t> in_flight{0};  // read from the log, not confirmed yet
    std::atomic<bool> connected{false};
  };

  Delivery() = default;
  void run(Worker& w);
  // Sleeps until `until`, or less when stop() is called or its deadline comes first.
  void pause(Clock::time_point until);

  std::unique_ptr<EventLog> log_;
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  Clock::time_point stop_at_;
};

}  // namespace iris::events
