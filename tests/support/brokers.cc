#include "support/brokers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis.h>
#include <httplib.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace iris::testing {

namespace {

using Clock = std::chrono::steady_clock;

// A connected socket to 127.0.0.1:port, or -1.
int connect_loopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  close(fd);
  return -1;
}

// Sends `ping` and reads until the answer starts with `pong`.
bool answers(int fd, const std::string& ping, const std::string& pong) {
  if (ping.empty()) return true;
  if (write(fd, ping.data(), ping.size()) != static_cast<ssize_t>(ping.size())) return false;
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  char buf[256];
  while (got.size() < pong.size()) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    got.append(buf, static_cast<size_t>(n));
  }
  return got.starts_with(pong);
}

std::string user_name() {
  const passwd* pw = getpwuid(getuid());
  return pw ? pw->pw_name : "root";
}

}  // namespace

BrokerProcess::BrokerProcess(Launch launch) : launch_(std::move(launch)) {
  if (!std::filesystem::exists(launch_.binary)) {
    status_ = Status::error(launch_.binary + " is not installed; run scripts/deps.sh");
    return;
  }
  // A restart reuses the port; the broker's log says so if something took it meanwhile.
  port_ = free_port();
  config_path_ = dir_.file(launch_.config_name);
  std::ofstream(config_path_) << launch_.config(dir_.path(), port_);
  status_ = start();
}

BrokerProcess::~BrokerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    if (wait_child(pid_, 5) < 0) pid_ = -1;  // wait_child killed it
  }
}

Status BrokerProcess::start() {
  const std::string log_path = dir_.file("broker.log");
  std::vector<std::string> args = {launch_.binary};
  if (!launch_.config_flag.empty()) args.push_back(launch_.config_flag);
  args.push_back(config_path_);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    const int fd = connect_loopback(port_);
    if (fd >= 0) {
      const bool ok = answers(fd, launch_.ping, launch_.pong);
      close(fd);
      if (ok) return {};
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::error(launch_.binary + " exited at start; its log:\n" + read_file(log_path));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::error(launch_.binary + " did not answer on port " + std::to_string(port_) +
                       " within 10 s; its log:\n" + read_file(log_path));
}

void BrokerProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

Status BrokerProcess::restart() {
  kill();
  status_ = start();
  return status_;
}

Mosquitto::Mosquitto()
    : BrokerProcess({.binary = "/usr/sbin/mosquitto",
                     .config_flag = "-c",
                     .config_name = "mosquitto.conf",
                     .config = [](const std::string& dir, int port) {
                       return "listener " + std::to_string(port) + " 127.0.0.1\n" +
                              "allow_anonymous true\n"
                              "user " +
                              user_name() + "\n" +  // stays who we are, even as root
                              "persistence true\n"
                              "persistence_location " +
                              dir + "/\n" +
                              "autosave_interval 1\n"
                              "autosave_on_changes true\n"
                              "max_queued_messages 1000000\n"
                              "log_dest stderr\n";
                     }}) {}

RedisServer::RedisServer()
    : BrokerProcess({.binary = "/usr/bin/redis-server",
                     .config_name = "redis.conf",
                     .config =
                         [](const std::string& dir, int port) {
                           return "bind 127.0.0.1\n"
                                  "port " +
                                  std::to_string(port) + "\n" + "dir " + dir + "\n" +
                                  "appendonly yes\n"
                                  "appendfsync always\n"
                                  "save \"\"\n"
                                  "daemonize no\n"
                                  "protected-mode no\n";
                         },
                     .ping = "PING\r\n",
                     .pong = "+PONG"}) {}

MqttSubscriber::MqttSubscriber(int port, const std::string& filter, const std::string& client_id)
    : filter_(filter) {
  mosquitto_lib_init();
  mosq_ = mosquitto_new(client_id.c_str(), false, this);
  mosquitto_connect_callback_set(mosq_, &MqttSubscriber::on_connect);
  mosquitto_subscribe_callback_set(mosq_, &MqttSubscriber::on_subscribe);
  mosquitto_message_callback_set(mosq_, &MqttSubscriber::on_message);
  mosquitto_reconnect_delay_set(mosq_, 1, 1, false);
  mosquitto_connect_async(mosq_, "127.0.0.1", port, 10);
  mosquitto_loop_start(mosq_);
}

MqttSubscriber::~MqttSubscriber() {
  mosquitto_disconnect(mosq_);
  mosquitto_loop_stop(mosq_, false);
  mosquitto_destroy(mosq_);
}

// Subscribes on every connect: a broker restarted without its saved sessions forgets them.
void MqttSubscriber::on_connect(mosquitto* m, void* self, int rc) {
  if (rc == 0)
    mosquitto_subscribe(m, nullptr, static_cast<MqttSubscriber*>(self)->filter_.c_str(), 1);
}

void MqttSubscriber::on_subscribe(mosquitto*, void* self, int, int, const int*) {
  auto* s = static_cast<MqttSubscriber*>(self);
  std::lock_guard lock(s->mu_);
  s->subscribed_ = true;
}

void MqttSubscriber::on_message(mosquitto*, void* self, const mosquitto_message* msg) {
  auto* s = static_cast<MqttSubscriber*>(self);
  std::lock_guard lock(s->mu_);
  s->messages_.push_back({msg->topic, std::string(static_cast<const char*>(msg->payload),
                                                  static_cast<size_t>(msg->payloadlen))});
}

Status MqttSubscriber::wait_subscribed(double timeout_s) {
  const bool subscribed = eventually(
      [&] {
        std::lock_guard lock(mu_);
        return subscribed_;
      },
      timeout_s);
  if (subscribed) return {};
  return Status::error("no SUBACK for '" + filter_ + "' within " + std::to_string(timeout_s) +
                       " s");
}

std::vector<MqttSubscriber::Message> MqttSubscriber::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

WebhookPeer::WebhookPeer() {
  http_.server().Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    Request r{req.target, req.get_header_value("Authorization"),
              req.get_header_value("Content-Type"), req.body, status_};
    requests_.push_back(std::move(r));
    res.status = status_;
  });
  http_.server().set_tcp_nodelay(true);
  port_ = http_.start();
}

std::string WebhookPeer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void WebhookPeer::answer_with(int status) {
  std::lock_guard lock(mu_);
  status_ = status;
}

std::vector<WebhookPeer::Request> WebhookPeer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::vector<std::string> WebhookPeer::accepted() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const Request& r : requests_) {
    if (r.status >= 200 && r.status <= 299) out.push_back(r.body);
  }
  return out;
}

Result<std::vector<std::map<std::string, std::string>>> redis_xrange(int port,
                                                                     const std::string& key) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (!c || c->err) {
    const std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return Status::error("redis on port " + std::to_string(port) + ": " + why);
  }
  auto* reply = static_cast<redisReply*>(redisCommand(c, "XRANGE %b - +", key.data(), key.size()));
  Result<std::vector<std::map<std::string, std::string>>> out =
      Status::error("XRANGE " + key + ": " +
                    (reply ? std::string(reply->str ? reply->str : "") : std::string(c->errstr)));
  if (reply && reply->type == REDIS_REPLY_ARRAY) {
    std::vector<std::map<std::string, std::string>> entries;
    for (size_t i = 0; i < reply->elements; ++i) {
      const redisReply* fields = reply->element[i]->element[1];
      std::map<std::string, std::string> entry;
      for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        entry[std::string(fields->element[f]->str, fields->element[f]->len)] =
            std::string(fields->element[f + 1]->str, fields->element[f + 1]->len);
      }
      entries.push_back(std::move(entry));
    }
    out = std::move(entries);
  }
  if (reply) freeReplyObject(reply);
  redisFree(c);
  return out;
}

}  // namespace iris::testing
