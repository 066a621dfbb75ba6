// Each remote sink against a real peer: what arrives, where, with which payload; and the errors
// of sink options and of Delivery::open.
#include <gtest/gtest.h>

#include <chrono>

#include "events/delivery.h"
#include "support/brokers.h"
#include "test_events.h"

namespace iris::events {
namespace {

using iris::testing::contains;
using iris::testing::TempDir;

std::unique_ptr<Delivery> open_delivery(const std::string& dir, SinkSpec sink) {
  auto d = Delivery::open({.log_dir = dir, .sinks = {std::move(sink)}});
  EXPECT_TRUE(d.ok()) << d.status().message();
  return d.ok() ? std::move(d).value() : nullptr;
}

TEST(WebhookSink, PostsEachEventAsJsonWithTheConfiguredHeaders) {
  iris::testing::WebhookPeer peer;
  TempDir dir;
  auto d = open_delivery(dir.file("log"),
                         {.type = "webhook",
                          .name = "hook",
                          .options = {{"url", peer.url("/hooks/iris?src=cam")},
                                      {"headers", {{"Authorization", "Bearer s3cret"}}}}});
  ASSERT_TRUE(d);
  std::vector<Event> events;
  for (int i = 0; i < 20; ++i) {
    events.push_back(numbered_event(i));
    ASSERT_TRUE(d->append(events.back()).ok());
  }
  ASSERT_TRUE(eventually([&] { return peer.requests().size() >= 20; }));
  const auto requests = peer.requests();
  ASSERT_EQ(requests.size(), 20u);  // in order, once each: the peer never failed
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].body, to_json_line(events[i]));
    EXPECT_EQ(requests[i].path, "/hooks/iris?src=cam");
    EXPECT_EQ(requests[i].authorization, "Bearer s3cret");
    EXPECT_EQ(requests[i].content_type, "application/json");
  }
  ASSERT_TRUE(eventually([&] { return d->stats()[0].delivered == 20; }));
  const SinkStats st = d->stats()[0];
  EXPECT_EQ(st.name, "hook");
  EXPECT_EQ(st.type, "webhook");
  EXPECT_EQ(st.outbox, 0u);
  EXPECT_EQ(st.failures, 0u);
  EXPECT_TRUE(st.connected);
  d->stop(std::chrono::seconds(1));
}

TEST(MqttSink, PublishesEachEventToItsTemplatedTopic) {
  iris::testing::Mosquitto broker;
  ASSERT_TRUE(broker.status().ok()) << broker.status().message();
  iris::testing::MqttSubscriber sub(broker.port(), "site/#", "sinks-test");
  ASSERT_TRUE(sub.wait_subscribed(5).ok());
  TempDir dir;
  auto d = open_delivery(dir.file("log"), {.type = "mqtt",
                                           .name = "alarms",
                                           .options = {{"port", broker.port()},
                                                       {"topic", "site/{stream}/{rule}/{type}"},
                                                       {"client_id", "iris-sinks-test"}}});
  ASSERT_TRUE(d);
  std::vector<Event> events;
  for (int i = 0; i < 30; ++i) {
    // '+' and '#' would be wildcards in a topic: they arrive as '_'.
    events.push_back(numbered_event(i, i % 2 ? "lobby" : "gate+#1", "door", "zone_exit"));
    ASSERT_TRUE(d->append(events.back()).ok());
  }
  ASSERT_TRUE(eventually([&] { return sub.messages().size() >= 30; }));
  const auto messages = sub.messages();
  ASSERT_EQ(messages.size(), 30u);
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(messages[i].topic,
              i % 2 ? "site/lobby/door/zone_exit" : "site/gate__1/door/zone_exit");
    EXPECT_EQ(messages[i].payload, to_json_line(events[i]));
  }
  ASSERT_TRUE(eventually([&] { return d->stats()[0].delivered == 30; }));
  EXPECT_TRUE(d->stats()[0].connected);
  EXPECT_EQ(d->stats()[0].outbox, 0u);
  d->stop(std::chrono::seconds(1));
}

TEST(RedisSink, AddsEachEventToItsTemplatedStreamKey) {
  iris::testing::RedisServer redis;
  ASSERT_TRUE(redis.status().ok()) << redis.status().message();
  TempDir dir;
  auto d = open_delivery(dir.file("log"),
                         {.type = "redis",
                          .name = "store",
                          .options = {{"port", redis.port()}, {"key", "iris:{stream}"}}});
  ASSERT_TRUE(d);
  std::vector<Event> events;
  for (int i = 0; i < 40; ++i) {
    events.push_back(numbered_event(i, i % 4 ? "lobby" : "gate"));
    ASSERT_TRUE(d->append(events.back()).ok());
  }
  ASSERT_TRUE(eventually([&] { return d->stats()[0].delivered == 40; }));
  auto lobby = iris::testing::redis_xrange(redis.port(), "iris:lobby");
  auto gate = iris::testing::redis_xrange(redis.port(), "iris:gate");
  ASSERT_TRUE(lobby.ok()) << lobby.status().message();
  ASSERT_TRUE(gate.ok()) << gate.status().message();
  ASSERT_EQ(lobby->size(), 30u);
  ASSERT_EQ(gate->size(), 10u);
  size_t l = 0, g = 0;
  for (const Event& e : events) {
    const auto& entry = e.stream == "lobby" ? (*lobby)[l++] : (*gate)[g++];
    EXPECT_EQ(entry.at("id"), e.id);
    EXPECT_EQ(entry.at("event"), to_json_line(e));
  }
  d->stop(std::chrono::seconds(1));
}

TEST(RedisSink, MaxlenTrimsTheStream) {
  iris::testing::RedisServer redis;
  ASSERT_TRUE(redis.status().ok()) << redis.status().message();
  TempDir dir;
  auto d = open_delivery(
      dir.file("log"),
      {.type = "redis", .options = {{"port", redis.port()}, {"key", "trimmed"}, {"maxlen", 10}}});
  ASSERT_TRUE(d);
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(d->append(numbered_event(i)).ok());
  ASSERT_TRUE(eventually([&] { return d->stats()[0].delivered == 400; }));
  auto entries = iris::testing::redis_xrange(redis.port(), "trimmed");
  ASSERT_TRUE(entries.ok()) << entries.status().message();
  // MAXLEN ~ trims whole macro nodes (100 entries by default): far fewer than 400 remain.
  EXPECT_GE(entries->size(), 10u);
  EXPECT_LE(entries->size(), 200u);
  d->stop(std::chrono::seconds(1));
}

// The config's own checks (pipeline/config_events.cc) run first and point at the line; these
// are the checks behind them, which every caller of make_remote_sink and Delivery::open gets.
TEST(RemoteSink, OptionMistakesNameTheSinkTheOptionAndTheFix) {
  const auto error = [](const std::string& type,
                        nlohmann::json options = nlohmann::json::object()) {
    auto sink = make_remote_sink({.type = type, .name = type, .options = std::move(options)});
    return sink.ok() ? std::string("accepted") : sink.status().message();
  };
  EXPECT_TRUE(
      contains(error("kafka"), "unknown type 'kafka'; fix: use one of: mqtt, redis, webhook"));
  EXPECT_TRUE(contains(error("mqtt", {{"toppic", "a"}}), "unknown option 'toppic'"));
  EXPECT_TRUE(contains(error("mqtt", {{"port", 70000}}), "option 'port' must be in 1..65535"));
  EXPECT_TRUE(contains(error("mqtt", {{"topic", "a/{camera}"}}), "unknown placeholder"));
  EXPECT_TRUE(contains(error("mqtt", {{"topic", "a/+/b"}}), "without the wildcards"));
  EXPECT_TRUE(contains(error("webhook"), "option 'url' is required"));
  EXPECT_TRUE(contains(error("webhook", {{"url", "ftp://x/y"}}), "not an http:// or https:// URL"));
  EXPECT_TRUE(contains(error("webhook", {{"url", "http://u:p@x/y"}}), "no user info"));
  EXPECT_EQ(error("mqtt", {{"host", "broker.local"},
                           {"port", "1884"},
                           {"username", "iris"},
                           {"password", 1234},
                           {"keepalive", 20}}),
            "accepted");
  EXPECT_EQ(error("redis", {{"key", "iris:{stream}"}, {"maxlen", "5000"}}), "accepted");
  EXPECT_EQ(error("webhook", {{"url", "https://hooks.example.com/iris"},
                              {"headers", {{"Authorization", "Bearer x"}}}}),
            "accepted");
}

TEST(Delivery, OpenRefusesSinksItCannotRun) {
  TempDir dir;
  const auto error = [&](const DeliverySpec& spec) {
    auto d = Delivery::open(spec);
    return d.ok() ? std::string("accepted") : d.status().message();
  };
  EXPECT_TRUE(
      contains(error({.log_dir = dir.file("log")}), "no sinks; add one under events.sinks"));
  EXPECT_TRUE(contains(error({.sinks = {{.type = "redis"}}}), "event log: no directory given"));
  EXPECT_TRUE(
      contains(error({.log_dir = dir.file("log"), .sinks = {{.type = "redis", .window = 0}}}),
               "window, timeout and retry_min must be positive"));
  EXPECT_TRUE(
      contains(error({.log_dir = dir.file("log"), .sinks = {{.type = "redis"}, {.type = "redis"}}}),
               "two sinks are named 'redis'"));
}

}  // namespace
}  // namespace iris::events
