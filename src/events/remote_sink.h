// Remote sinks: peers that confirm each event they take (webhook 2xx, MQTT PUBACK, Redis XADD
// reply). A delivery worker drives one RemoteSink from its own thread; the sink only talks to
// its peer and says how many events the peer confirmed. Adding a sink type: its file in this
// folder and its line in remote_sink.cc.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "events/event_log.h"

namespace iris::events {

// One sink of the `events.sinks` list (docs/events.md, Delivery).
struct SinkSpec {
  std::string type;     // a registered type: webhook, mqtt, redis
  std::string name;     // unique; names the sink's cursor and its metrics. Keep it stable
  size_t window = 100;  // events sent before waiting for confirmations
  std::chrono::milliseconds timeout{5000};     // to connect, and for the peer to confirm
  std::chrono::milliseconds retry_min{200};    // first delay after a failure; doubles, jittered
  std::chrono::milliseconds retry_max{10000};  // longest delay between attempts
  nlohmann::json options = nlohmann::json::object();  // the type's own keys
};

// Thread rules: one thread calls everything; the delivery worker owns the object.
class RemoteSink {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~RemoteSink() = default;
  // Where it delivers, for log lines: "mqtt 127.0.0.1:1883".
  virtual std::string describe() const = 0;
  // `deadline` below is a hard limit (stop()'s deadline; Clock::time_point::max() otherwise);
  // each sink also gives up when its peer stays silent for SinkSpec::timeout.
  // Opens a connection.
  virtual Status connect(Clock::time_point deadline) = 0;
  // Sends the records in order and waits until the peer confirmed them all; sets `confirmed`
  // to how many of the first records the peer confirmed. An error means the connection is no
  // use: the worker calls disconnect() and sends the unconfirmed records again later.
  virtual Status send(std::span<const LogRecord> records, Clock::time_point deadline,
                      size_t* confirmed) = 0;
  // Called while no events wait: keeps the connection alive and notices a dead one.
  virtual Status idle() { return {}; }
  virtual void disconnect() = 0;
};

// The sink for a spec: errors name the sink, the option and the fix.
Result<std::unique_ptr<RemoteSink>> make_remote_sink(const SinkSpec& spec);
// The registered type names, sorted.
std::vector<std::string> remote_sink_types();

// Reads a sink's options and remembers the first error: "sink 'alarms' (mqtt): option 'port'
// ...". finish() also refuses keys no getter asked for (a typo must not go unnoticed).
class SinkOptions {
 public:
  explicit SinkOptions(const SinkSpec& spec);
  std::string text(const std::string& key, const std::string& fallback);
  std::string required_text(const std::string& key);
  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max);
  std::map<std::string, std::string> text_map(const std::string& key);
  // A template whose {placeholders} are among `allowed` (checked now, filled by expand()).
  std::string pattern(const std::string& key, const std::string& fallback,
                      const std::set<std::string>& allowed);
  Status finish() const;

 private:
  const nlohmann::json* find(const std::string& key);
  void fail(const std::string& key, const std::string& problem);
  std::string label_;
  const nlohmann::json& options_;
  std::set<std::string> asked_;
  Status error_;
};

// The template with {stream}, {rule}, {type} and {id} replaced by the record's values, each
// passed through `clean` first.
std::string expand(const std::string& pattern, const LogRecord& r,
                   std::string (*clean)(const std::string&) = nullptr);

}  // namespace iris::events
