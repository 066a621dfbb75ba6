// Real message brokers for tests: Debian's mosquitto and redis-server, each on a loopback port
// the test picked and checked free, with persistence on in a directory of its own, so a broker
// killed with SIGKILL and restarted keeps what it acknowledged. Plus the reading side: an MQTT
// subscriber and XRANGE.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "support/support.h"

struct mosquitto;
struct mosquitto_message;

namespace iris::testing {

// A broker process. Construction starts it and waits until it answers; status() says why not.
// The destructor stops it and removes its directory.
class BrokerProcess {
 public:
  virtual ~BrokerProcess();
  const Status& status() const { return status_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_.path(); }
  // SIGKILL: no shutdown, no final save; what it had not persisted is gone.
  void kill();
  // Starts it again on the same port with the same data directory.
  Status restart();

 protected:
  struct Launch {
    std::string binary;       // absolute path of the Debian binary
    std::string config_flag;  // before the config path: "-c" for mosquitto
    std::string config_name;  // file name in dir()
    std::function<std::string(const std::string& dir, int port)> config;
    std::string ping, pong;  // optional: ready once `ping` is answered with `pong`
  };
  explicit BrokerProcess(Launch launch);

 private:
  Status start();
  Launch launch_;
  std::string config_path_;
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  Status status_;
};

// mosquitto 2 on 127.0.0.1, anonymous, persistence saved after every change.
class Mosquitto : public BrokerProcess {
 public:
  Mosquitto();
};

// redis-server on 127.0.0.1 with appendonly yes and appendfsync always: a reply means on disk.
class RedisServer : public BrokerProcess {
 public:
  RedisServer();
};

// An MQTT subscriber (QoS 1, persistent session, reconnects by itself) that keeps every
// message it receives.
class MqttSubscriber {
 public:
  struct Message {
    std::string topic;
    std::string payload;
  };
  MqttSubscriber(int port, const std::string& filter, const std::string& client_id);
  ~MqttSubscriber();
  // Waits until the broker confirmed the subscription.
  Status wait_subscribed(double timeout_s);
  std::vector<Message> messages() const;

 private:
  static void on_connect(mosquitto* m, void* self, int rc);
  static void on_subscribe(mosquitto* m, void* self, int mid, int count, const int* qos);
  static void on_message(mosquitto* m, void* self, const mosquitto_message* msg);
  std::string filter_;
  mosquitto* mosq_ = nullptr;
  mutable std::mutex mu_;
  bool subscribed_ = false;
  std::vector<Message> messages_;
};

// A webhook receiver: an HTTP server on 127.0.0.1 and an ephemeral port that answers every POST
// with the status the test chose (200 at first) and keeps what it was sent.
class WebhookPeer {
 public:
  struct Request {
    std::string path;  // with the query
    std::string authorization;
    std::string content_type;
    std::string body;
    int status = 0;  // what the peer answered
  };
  WebhookPeer();
  int port() const { return port_; }
  std::string url(const std::string& path) const;
  void answer_with(int status);
  std::vector<Request> requests() const;
  // The bodies the peer answered with a 2xx, in arrival order.
  std::vector<std::string> accepted() const;

 private:
  int port_ = 0;
  mutable std::mutex mu_;
  int status_ = 200;
  std::vector<Request> requests_;
  LoopbackHttp http_;  // last: stopped before the state its handler uses goes
};

// The entries of a Redis stream, oldest first: each entry's fields.
Result<std::vector<std::map<std::string, std::string>>> redis_xrange(int port,
                                                                     const std::string& key);

}  // namespace iris::testing
