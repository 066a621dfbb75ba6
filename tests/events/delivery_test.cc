// At-least-once delivery through what goes wrong: a broker killed with SIGKILL and restarted
// mid-run, a webhook peer answering 500 for a while, iris itself killed with events pending,
// and the log's size limit. Every event id must arrive (duplicates allowed, none missing) or be
// counted as lost.
#include "events/delivery.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "support/brokers.h"
#include "test_events.h"

namespace iris::events {
namespace {

using iris::testing::TempDir;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Quick retries, so an outage of a fraction of a second is bridged within the test.
SinkSpec fast_retry(SinkSpec s) {
  s.timeout = milliseconds(2000);
  s.retry_min = milliseconds(50);
  s.retry_max = milliseconds(300);
  return s;
}

// Appends `n` events, a few ms apart, calling `during(i)` before event i; returns their ids.
std::vector<std::string> append_events(Delivery& d, int n, const std::function<void(int)>& during) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    during(i);
    const Event e = numbered_event(i, "lobby", "door");
    const Status s = d.append(e);
    EXPECT_TRUE(s.ok()) << s.message();
    ids.push_back(e.id);
    std::this_thread::sleep_for(milliseconds(2));
  }
  return ids;
}

TEST(Delivery, MqttEveryEventArrivesThroughABrokerKill) {
  iris::testing::Mosquitto broker;
  ASSERT_TRUE(broker.status().ok()) << broker.status().message();
  iris::testing::MqttSubscriber sub(broker.port(), "iris/#", "outage-test");
  ASSERT_TRUE(sub.wait_subscribed(5).ok());
  TempDir dir;
  auto d = Delivery::open(
      {.log_dir = dir.file("log"),
       .sinks = {fast_retry({.type = "mqtt", .options = {{"port", broker.port()}}})}});
  ASSERT_TRUE(d.ok()) << d.status().message();
  const std::vector<std::string> ids = append_events(**d, 400, [&](int i) {
    if (i == 120) broker.kill();
    if (i == 260) {
      ASSERT_TRUE(broker.restart().ok()) << broker.status().message();
    }
  });
  EXPECT_TRUE(eventually([&] { return missing(ids, mqtt_ids(sub)) == 0; }))
      << missing(ids, mqtt_ids(sub)) << " of " << ids.size() << " events never arrived";
  ASSERT_TRUE(eventually([&] { return (*d)->stats()[0].outbox == 0; }));
  const SinkStats st = (*d)->stats()[0];
  EXPECT_GE(st.failures, 1u);  // the kill was noticed and retried
  EXPECT_GE(st.delivered, ids.size());
  EXPECT_EQ(st.lost, 0u);
  EXPECT_TRUE(st.connected);
  (*d)->stop(milliseconds(1000));
}

TEST(Delivery, RedisEveryEventArrivesThroughAServerKill) {
  iris::testing::RedisServer redis;
  ASSERT_TRUE(redis.status().ok()) << redis.status().message();
  TempDir dir;
  auto d =
      Delivery::open({.log_dir = dir.file("log"),
                      .sinks = {fast_retry(
                          {.type = "redis", .options = {{"port", redis.port()}, {"key", "ev"}}})}});
  ASSERT_TRUE(d.ok()) << d.status().message();
  const std::vector<std::string> ids = append_events(**d, 400, [&](int i) {
    if (i == 120) redis.kill();
    if (i == 260) {
      ASSERT_TRUE(redis.restart().ok()) << redis.status().message();
    }
  });
  EXPECT_TRUE(eventually([&] { return missing(ids, redis_ids(redis.port(), "ev")) == 0; }))
      << missing(ids, redis_ids(redis.port(), "ev")) << " of " << ids.size()
      << " events never arrived";
  ASSERT_TRUE(eventually([&] { return (*d)->stats()[0].outbox == 0; }));
  const SinkStats st = (*d)->stats()[0];
  EXPECT_GE(st.failures, 1u);
  EXPECT_EQ(st.lost, 0u);
  (*d)->stop(milliseconds(1000));
}

TEST(Delivery, WebhookEveryEventArrivesThroughServerErrors) {
  iris::testing::WebhookPeer peer;
  TempDir dir;
  auto d = Delivery::open(
      {.log_dir = dir.file("log"),
       .sinks = {fast_retry({.type = "webhook", .options = {{"url", peer.url("/events")}}})}});
  ASSERT_TRUE(d.ok()) << d.status().message();
  const std::vector<std::string> ids = append_events(**d, 300, [&](int i) {
    if (i == 100) peer.answer_with(500);
    if (i == 200) peer.answer_with(204);
  });
  EXPECT_TRUE(eventually([&] { return missing(ids, ids_of(peer.accepted())) == 0; }))
      << missing(ids, ids_of(peer.accepted())) << " events never accepted";
  size_t refused = 0;
  for (const auto& r : peer.requests()) refused += r.status == 500;
  EXPECT_GE(refused, 1u);
  ASSERT_TRUE(eventually([&] { return (*d)->stats()[0].outbox == 0; }));
  EXPECT_GE((*d)->stats()[0].failures, refused);
  (*d)->stop(milliseconds(1000));
}

// A child process appends events (to a Redis sink that works and a webhook sink whose peer is
// down) and reports each id once append() returned; it is killed with SIGKILL mid-stream. A new
// Delivery on the same log must then deliver every reported id to both sinks.
TEST(Delivery, KilledProcessLosesNoAppendedEvent) {
  iris::testing::RedisServer redis;
  ASSERT_TRUE(redis.status().ok()) << redis.status().message();
  TempDir dir;
  const int dead_port = iris::testing::free_port();
  const auto spec = [&](const std::string& hook_url) {
    return DeliverySpec{
        .log_dir = dir.file("log"),
        .sinks = {fast_retry({.type = "redis",
                              .name = "store",
                              .options = {{"port", redis.port()}, {"key", "crash"}}}),
                  fast_retry({.type = "webhook", .name = "hook", .options = {{"url", hook_url}}})}};
  };
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const DeliverySpec child_spec = spec("http://127.0.0.1:" + std::to_string(dead_port) + "/x");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    auto d = Delivery::open(child_spec);
    if (!d.ok()) _exit(3);
    for (int i = 0;; ++i) {
      const Event e = numbered_event(i);
      if ((*d)->append(e).ok()) {
        const std::string line = e.id + "\n";
        if (write(fds[1], line.data(), line.size()) < 0) _exit(4);
      }
    }
  }
  close(fds[1]);
  std::string reported;
  char buf[4096];
  while (std::count(reported.begin(), reported.end(), '\n') < 300) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    reported.append(buf, static_cast<size_t>(n));
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited by itself with " << WEXITSTATUS(status);
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    reported.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  std::vector<std::string> ids;
  for (size_t at = 0, nl; (nl = reported.find('\n', at)) != std::string::npos; at = nl + 1) {
    ids.push_back(reported.substr(at, nl - at));
  }
  ASSERT_GE(ids.size(), 300u);

  iris::testing::WebhookPeer peer;
  auto d = Delivery::open(spec(peer.url("/x")));
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_TRUE(eventually([&] { return missing(ids, redis_ids(redis.port(), "crash")) == 0; }))
      << missing(ids, redis_ids(redis.port(), "crash")) << " of " << ids.size()
      << " events never reached redis";
  EXPECT_TRUE(eventually([&] { return missing(ids, ids_of(peer.accepted())) == 0; }))
      << missing(ids, ids_of(peer.accepted())) << " of " << ids.size()
      << " events never reached the webhook";
  for (const SinkStats& st : (*d)->stats()) EXPECT_EQ(st.lost, 0u) << st.name;
  (*d)->stop(milliseconds(1000));
}

TEST(Delivery, SizeLimitLossIsCountedForTheSinkThatFellBehind) {
  TempDir dir;
  const int dead_port = iris::testing::free_port();
  auto d = Delivery::open(
      {.log_dir = dir.file("log"),
       .max_bytes = 64 << 10,
       .sinks = {
           fast_retry({.type = "webhook",
                       .options = {{"url", "http://127.0.0.1:" + std::to_string(dead_port)}}})}});
  ASSERT_TRUE(d.ok()) << d.status().message();
  constexpr uint64_t kEvents = 400;  // about 2.5 times the limit
  for (uint64_t i = 0; i < kEvents; ++i) {
    ASSERT_TRUE((*d)->append(numbered_event(static_cast<int>(i))).ok());
  }
  // The worker may be between taking a batch from the log and counting it as in flight.
  EXPECT_TRUE(eventually([&] {
    const SinkStats st = (*d)->stats()[0];
    return st.lost + st.outbox == kEvents;
  }));
  const SinkStats st = (*d)->stats()[0];
  EXPECT_FALSE(st.connected);
  EXPECT_EQ(st.delivered, 0u);
  EXPECT_GT(st.lost, 0u);
  EXPECT_LE((*d)->log_stats().bytes, 64u << 10);
  (*d)->stop(milliseconds(0));
}

TEST(Delivery, StopKeepsWhatItCouldNotDeliverForTheNextRun) {
  TempDir dir;
  const int dead_port = iris::testing::free_port();
  iris::testing::WebhookPeer peer;
  const auto spec = [&](const std::string& url) {
    return DeliverySpec{.log_dir = dir.file("log"),
                        .sinks = {fast_retry({.type = "webhook", .options = {{"url", url}}})}};
  };
  std::vector<std::string> ids;
  {
    auto d = Delivery::open(spec("http://127.0.0.1:" + std::to_string(dead_port) + "/"));
    ASSERT_TRUE(d.ok()) << d.status().message();
    for (int i = 0; i < 20; ++i) {
      const Event e = numbered_event(i);
      ASSERT_TRUE((*d)->append(e).ok());
      ids.push_back(e.id);
    }
    const auto start = Clock::now();
    (*d)->stop(milliseconds(300));
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));  // the deadline, not a hang
    EXPECT_EQ((*d)->stats()[0].outbox, 20u);
  }
  auto d = Delivery::open(spec(peer.url("/")));
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_TRUE(eventually([&] { return missing(ids, ids_of(peer.accepted())) == 0; }));
  (*d)->stop(milliseconds(1000));
}

}  // namespace
}  // namespace iris::events
