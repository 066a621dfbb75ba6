// MQTT sink (libmosquitto, MQTT 5): each event published with QoS 1 to a topic made from a
// template; the broker's PUBACK with a success reason code confirms it. No network thread of
// its own: the delivery worker runs the client's loop. After a lost connection the client is
// made anew and the unconfirmed events are published again (duplicates, never gaps).
#include <mosquitto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>
#include <unordered_map>

#include "events/remote_sink.h"

namespace iris::events {
namespace {

constexpr int kPending = -1;

std::string mosquitto_error(int rc) {
  std::string why = rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc);
  if (why.ends_with('.')) why.pop_back();  // "The connection was lost."
  return why;
}

// A topic level must not hold the wildcards + and #.
std::string topic_safe(const std::string& value) {
  std::string out = value;
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '+' || c == '#' || c == '\0'; }, '_');
  return out;
}

struct MqttOptions {
  std::string host;
  int port = 1883;
  std::string topic;
  std::string client_id;
  std::string username;
  std::string password;
  int keepalive = 30;
  size_t window = 100;
  std::chrono::milliseconds timeout{5000};  // the broker's longest silence
};

class MqttSink : public RemoteSink {
 public:
  explicit MqttSink(MqttOptions o) : o_(std::move(o)) {}
  ~MqttSink() override { disconnect(); }

  std::string describe() const override {
    return "mqtt " + o_.host + ":" + std::to_string(o_.port);
  }

  Status connect(Clock::time_point deadline) override {
    deadline = std::min(deadline, Clock::now() + o_.timeout);
    disconnect();
    mosq_ = mosquitto_new(o_.client_id.c_str(), true, this);
    if (!mosq_) return Status::error("cannot make an MQTT client: " + std::string(strerror(errno)));
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);  // a batch's last PUBLISH goes now
    mosquitto_max_inflight_messages_set(mosq_, static_cast<unsigned>(o_.window));
    if (!o_.username.empty()) {
      mosquitto_username_pw_set(mosq_, o_.username.c_str(),
                                o_.password.empty() ? nullptr : o_.password.c_str());
    }
    mosquitto_connect_v5_callback_set(mosq_, &MqttSink::on_connect);
    mosquitto_publish_v5_callback_set(mosq_, &MqttSink::on_publish);
    connack_ = kPending;
    const int rc = mosquitto_connect_async(mosq_, o_.host.c_str(), o_.port, o_.keepalive);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_CONN_PENDING) {
      return fail("connecting to " + describe() + ": " + mosquitto_error(rc));
    }
    while (connack_ == kPending) {
      if (Clock::now() >= deadline) return fail("no CONNACK from " + describe() + " in time");
      if (Status s = loop(deadline); !s)
        return fail("connecting to " + describe() + ": " + s.message());
    }
    if (connack_ != 0) {
      return fail(describe() + " refused the connection: " + mosquitto_reason_string(connack_));
    }
    return {};
  }

  Status send(std::span<const LogRecord> records, Clock::time_point deadline,
              size_t* confirmed) override {
    *confirmed = 0;
    acks_.assign(records.size(), kPending);
    answered_ = 0;
    mids_.clear();
    for (size_t i = 0; i < records.size(); ++i) {
      const std::string topic = expand(o_.topic, records[i], topic_safe);
      int mid = 0;
      const int rc =
          mosquitto_publish_v5(mosq_, &mid, topic.c_str(), static_cast<int>(records[i].json.size()),
                               records[i].json.data(), 1, false, nullptr);
      if (rc != MOSQ_ERR_SUCCESS) {
        return Status::error("publishing to " + describe() + " topic '" + topic +
                             "': " + mosquitto_error(rc));
      }
      mids_[mid] = i;
    }
    // The broker may take as long as it likes over the whole batch, as long as it keeps
    // answering: the timeout counts from the last PUBACK.
    size_t seen = 0;
    Clock::time_point quiet_limit = std::min(deadline, Clock::now() + o_.timeout);
    for (;;) {
      while (*confirmed < acks_.size() && acks_[*confirmed] != kPending &&
             acks_[*confirmed] < 0x80) {
        ++*confirmed;
      }
      if (answered_ != seen) {
        seen = answered_;
        quiet_limit = std::min(deadline, Clock::now() + o_.timeout);
      }
      if (*confirmed == acks_.size()) return {};
      if (acks_[*confirmed] >= 0x80) {
        return Status::error(describe() + " refused event " + records[*confirmed].id + ": " +
                             mosquitto_reason_string(acks_[*confirmed]));
      }
      if (Clock::now() >= quiet_limit) {
        return Status::error("no PUBACK from " + describe() + " within " +
                             std::to_string(o_.timeout.count()) + " ms");
      }
      if (Status s = loop(quiet_limit); !s) return s.with_context(describe());
    }
  }

  // Runs the client's loop once without waiting: sends PINGREQ when keepalive asks for it.
  Status idle() override {
    if (!mosq_) return {};
    const int rc = mosquitto_loop(mosq_, 0, 1);
    if (rc != MOSQ_ERR_SUCCESS) return Status::error(describe() + ": " + mosquitto_error(rc));
    return {};
  }

  void disconnect() override {
    if (!mosq_) return;
    mosquitto_disconnect(mosq_);
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
  }

 private:
  static void on_connect(mosquitto*, void* self, int rc, int, const mosquitto_property*) {
    static_cast<MqttSink*>(self)->connack_ = rc;
  }
  static void on_publish(mosquitto*, void* self, int mid, int reason, const mosquitto_property*) {
    auto* sink = static_cast<MqttSink*>(self);
    const auto it = sink->mids_.find(mid);
    if (it != sink->mids_.end() && sink->acks_[it->second] == kPending) {
      sink->acks_[it->second] = reason;
      ++sink->answered_;
    }
  }

  // One pass of the client's loop, waiting at most 100 ms for the socket.
  Status loop(Clock::time_point deadline) {
    // Acknowledge what arrives at once: a broker with Nagle on (mosquitto's default) holds a
    // batch's last PUBACKs until our ACK, which delayed ACK would hold back for 40 ms.
    const int one = 1;
    setsockopt(mosquitto_socket(mosq_), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    const int rc = mosquitto_loop(mosq_, static_cast<int>(std::clamp<int64_t>(left, 0, 100)), 1);
    if (rc != MOSQ_ERR_SUCCESS) return Status::error(mosquitto_error(rc));
    return {};
  }

  Status fail(const std::string& message) {
    disconnect();
    return Status::error(message);
  }

  MqttOptions o_;
  mosquitto* mosq_ = nullptr;
  int connack_ = kPending;
  std::vector<int> acks_;                 // reason code of each record in flight
  size_t answered_ = 0;                   // PUBACKs received for them
  std::unordered_map<int, size_t> mids_;  // message id -> record index
};

}  // namespace

Result<std::unique_ptr<RemoteSink>> make_mqtt_sink(const SinkSpec& spec) {
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });
  SinkOptions o(spec);
  MqttOptions m;
  m.host = o.text("host", "127.0.0.1");
  m.port = static_cast<int>(o.integer("port", 1883, 1, 65535));
  m.topic = o.pattern("topic", "iris/{stream}/{rule}/{type}", {"stream", "rule", "type", "id"});
  std::mt19937 rng(std::random_device{}());
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "-%08x", static_cast<unsigned>(rng()));
  m.client_id = o.text("client_id", "iris-" + spec.name + suffix);
  m.username = o.text("username", "");
  m.password = o.text("password", "");
  m.keepalive = static_cast<int>(o.integer("keepalive", 30, 5, 65535));
  if (Status s = o.finish(); !s) return s;
  if (m.topic.empty() || m.topic.find_first_of("+#") != std::string::npos) {
    return Status::error("sink '" + spec.name + "' (mqtt): option 'topic' '" + m.topic +
                         "' must be a non-empty topic without the wildcards + and #");
  }
  m.window = spec.window;
  m.timeout = spec.timeout;
  return std::unique_ptr<RemoteSink>(new MqttSink(std::move(m)));
}

}  // namespace iris::events
