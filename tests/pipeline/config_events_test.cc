// Config of event delivery: the top-level `events:` section (the event log and the remote sinks).
// Every mistake is reported at its file:line:col, the sink types' own options included.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "pipeline/config.h"
#include "pipeline/config_test_support.h"

namespace iris::pipeline {
namespace {

class ConfigEventsTest : public VideoConfigTest {
 protected:
  // A one-stream pipeline (lines 1-4) followed by `events` (from line 5 on).
  static std::string with_events(const std::string& events) {
    return "streams:\n"                      // 1
           "  - name: cam\n"                 // 2
           "    url: VIDEO\n"                // 3
           "    detector: {type: motion}\n"  // 4
           + events;
  }
};

TEST_F(ConfigEventsTest, ReadsTheLogAndEverySink) {
  const auto spec = parse(with_events(R"(events:
  log: out/events-log
  max_mb: 64
  sinks:
    - {type: mqtt, host: 10.0.0.5, port: 1884, topic: "site/{stream}/{type}", keepalive: 60,
       username: iris}
    - type: redis
      name: archive
      key: iris:{stream}
      maxlen: 5000
      password: 0123
      window: 20
      timeout_ms: 800
      retry_min_ms: 50
      retry_max_ms: 400
    - type: webhook
      url: http://127.0.0.1:9000/hook
      headers: {Authorization: "Bearer x"}
)"));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  ASSERT_TRUE(spec->delivery.has_value());
  const events::DeliverySpec& d = *spec->delivery;
  EXPECT_EQ(d.log_dir, "out/events-log");
  EXPECT_EQ(d.max_bytes, 64u << 20);
  ASSERT_EQ(d.sinks.size(), 3u);

  EXPECT_EQ(d.sinks[0].type, "mqtt");
  EXPECT_EQ(d.sinks[0].name, "mqtt");  // a sink without a name is named after its type
  EXPECT_EQ(d.sinks[0].options["host"], "10.0.0.5");
  EXPECT_EQ(d.sinks[0].options["port"], "1884");
  EXPECT_EQ(d.sinks[0].options["topic"], "site/{stream}/{type}");
  EXPECT_EQ(d.sinks[0].options["username"], "iris");
  EXPECT_EQ(d.sinks[0].window, 100u);  // the defaults
  EXPECT_EQ(d.sinks[0].timeout.count(), 5000);
  EXPECT_FALSE(d.sinks[0].options.contains("type"));

  EXPECT_EQ(d.sinks[1].name, "archive");
  EXPECT_EQ(d.sinks[1].options["key"], "iris:{stream}");
  EXPECT_EQ(d.sinks[1].options["password"], "0123");  // text as written, leading zero kept
  EXPECT_EQ(d.sinks[1].window, 20u);
  EXPECT_EQ(d.sinks[1].timeout.count(), 800);
  EXPECT_EQ(d.sinks[1].retry_min.count(), 50);
  EXPECT_EQ(d.sinks[1].retry_max.count(), 400);
  EXPECT_FALSE(d.sinks[1].options.contains("window"));

  EXPECT_EQ(d.sinks[2].options["headers"]["Authorization"], "Bearer x");
  EXPECT_EQ(d.sinks[2].retry_max.count(), 10000);
}

TEST_F(ConfigEventsTest, WithoutTheSectionNothingIsDelivered) {
  const auto spec = parse(with_events(""));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_FALSE(spec->delivery.has_value());
}

TEST_F(ConfigEventsTest, SectionMistakesPointAtTheKey) {
  std::string e = errors(with_events("events:\n  max_mb: 0\n  sinkz: []\n"));
  EXPECT_TRUE(contains(e, "test.yaml:6:3: events.log: missing required key 'log'")) << e;
  EXPECT_TRUE(
      contains(e, "test.yaml:6:11: events.max_mb: 0 is out of range; it must be in [1, 65536]"))
      << e;
  EXPECT_TRUE(contains(e,
                       "test.yaml:7:3: events.sinkz: unknown key 'sinkz' in events (did "
                       "you mean 'sinks'?)"))
      << e;
  EXPECT_TRUE(contains(e, "events.sinks: missing required key 'sinks'")) << e;

  e = errors(with_events("events: {log: out/log, sinks: []}\n"));
  EXPECT_TRUE(contains(e,
                       "test.yaml:5:31: events.sinks: the list is empty; add at least one "
                       "sink (mqtt, redis, webhook)"))
      << e;

  e = errors(with_events("events: out/log\n"));
  EXPECT_TRUE(contains(e, "test.yaml:5:9: events: expected a map")) << e;

  std::ofstream(dir_.file("not-a-dir")) << "x";
  e = errors(
      with_events("events:\n  log: " + dir_.file("not-a-dir") + "\n  sinks: [{type: redis}]\n"));
  EXPECT_TRUE(contains(e, "test.yaml:6:8: events.log: '" + dir_.file("not-a-dir") +
                              "' is a file; the event log is a directory of its own"))
      << e;
}

TEST_F(ConfigEventsTest, SinkMistakesPointAtTheKey) {
  const std::string e = errors(with_events(R"(events:
  log: out/log
  sinks:
    - {type: mqt}
    - {host: 127.0.0.1}
    - {type: redis, retry_min_ms: 500, retry_max_ms: 100}
    - {type: redis, window: 0}
    - {type: webhook, name: "a/b", url: http://x}
    - {type: webhook, name: hook, url: http://y}
    - {type: webhook, name: hook, url: http://z}
    - {type: redis, name: "..", key: k}
)"));
  EXPECT_TRUE(contains(e,
                       "test.yaml:8:14: events.sinks[0].type: unknown sink type 'mqt' (did "
                       "you mean 'mqtt'?); choose one of: mqtt, redis, webhook"))
      << e;
  EXPECT_TRUE(contains(e, "test.yaml:9:7: events.sinks[1].type: missing required key 'type'")) << e;
  EXPECT_TRUE(contains(e,
                       "test.yaml:10:54: events.sinks[2].retry_max_ms: retry_max_ms 100 is "
                       "below retry_min_ms 500"))
      << e;
  EXPECT_TRUE(contains(e, "test.yaml:11:29: events.sinks[3].window: 0 is out of range")) << e;
  // The second redis sink is named after its type, like the first.
  EXPECT_TRUE(contains(e,
                       "test.yaml:11:14: events.sinks[3].type: a second sink named 'redis' "
                       "(the first at test.yaml:10:14), as a sink without a name is named "
                       "after its type"))
      << e;
  EXPECT_TRUE(contains(e, "test.yaml:12:29: events.sinks[4].name: 'a/b' may only have letters"))
      << e;
  EXPECT_TRUE(
      contains(e,
               "test.yaml:14:29: events.sinks[6].name: a second sink named 'hook' (the first at "
               "test.yaml:13:29)"))
      << e;
  // The event log's own rule for cursor names, checked here at the line.
  EXPECT_TRUE(contains(e, "test.yaml:15:27: events.sinks[7].name: '..' may only have letters"))
      << e;
}

TEST_F(ConfigEventsTest, EachSinkTypeChecksItsOwnOptionsAtTheirLine) {
  const std::string e = errors(with_events(R"(events:
  log: out/log
  sinks:
    - type: mqtt
      port: 70000
    - type: mqtt
      name: second
      hots: 127.0.0.1
    - type: mqtt
      name: third
      topic: "iris/{camera}"
    - type: redis
      maxlen: lots
    - type: webhook
      url: http://127.0.0.1/hook
      headers: {Authorization: [a, b]}
    - type: webhook
      name: hook2
      url: ftp://example.com/x
    - type: webhook
      name: hook3
)"));
  EXPECT_TRUE(contains(e,
                       "test.yaml:9:13: events.sinks[0].port: sink 'mqtt' (mqtt): option "
                       "'port' must be in 1..65535, got 70000"))
      << e;
  EXPECT_TRUE(contains(e,
                       "test.yaml:12:13: events.sinks[1].hots: sink 'second' (mqtt): unknown "
                       "option 'hots'; known: "))
      << e;
  EXPECT_TRUE(contains(e,
                       "test.yaml:15:14: events.sinks[2].topic: sink 'third' (mqtt): option "
                       "'topic' 'iris/{camera}' has an unknown placeholder"))
      << e;
  EXPECT_TRUE(contains(e,
                       "test.yaml:17:15: events.sinks[3].maxlen: sink 'redis' (redis): "
                       "option 'maxlen' must be a whole number"))
      << e;
  EXPECT_TRUE(contains(e,
                       "test.yaml:20:16: events.sinks[4].headers: sink 'webhook' (webhook): "
                       "option 'headers.Authorization' must be text"))
      << e;
  EXPECT_TRUE(contains(e,
                       "test.yaml:23:12: events.sinks[5].url: sink 'hook2' (webhook): option "
                       "'url'"))
      << e;
  // A required option that is absent: at the sink.
  EXPECT_TRUE(contains(e,
                       "test.yaml:24:7: events.sinks[6]: sink 'hook3' (webhook): option 'url' "
                       "is required"))
      << e;
}

}  // namespace
}  // namespace iris::pipeline
