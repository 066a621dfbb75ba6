// Event delivery through the iris binary, at least once: every event id iris wrote to a stream's
// jsonl output must reach the remote sinks (duplicates allowed, none missing) through a kill -9
// of the brokers mid-run, and through a kill -9 of iris itself with events still pending.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2e/scene.h"
#include "events/test_events.h"
#include "support/brokers.h"
#include "support/support.h"

namespace iris {
namespace {

namespace scene = testing::scene;
using events::eventually;
using events::ids_of;
using events::missing;
using events::mqtt_ids;
using events::redis_ids;

// The scripted scene at 100 fps: played as a camera (looped, paced) it raises a few events a
// second, on and on.
Status write_fast_scene(const std::string& path) {
  return testing::write_clip(path, testing::textured_background(scene::kWidth, scene::kHeight), 100,
                             scene::kFrames, scene::draw);
}

// The scene's stream as a camera, its events to out/events.jsonl and to `sinks` (YAML list
// items) through the event log out/events-log.
std::string config(const testing::TempDir& dir, const std::string& sinks) {
  std::string cfg = scene::config(dir.file("scene.mp4"), dir.file("out"));
  cfg.erase(cfg.find("      - {type: mp4"));  // the last line: no video needed here
  cfg.replace(cfg.find("    detector:"), 0, "    emulate_live: true\n");
  return cfg + "events:\n  log: " + dir.file("out/events-log") + "\n  sinks:\n" + sinks;
}

// Retries fast, so a restarted peer is found again within a fraction of a second.
constexpr const char* kFastRetry = "timeout_ms: 2000, retry_min_ms: 50, retry_max_ms: 300";

// The ids in a jsonl output. A line torn by a kill -9 mid-write would not parse and is skipped.
std::vector<std::string> jsonl_ids(const std::string& path) {
  std::vector<std::string> ids;
  for (const std::string& line : testing::read_lines(path)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("id")) ids.push_back(j["id"].get<std::string>());
  }
  return ids;
}

// An iris run that the test ends; killed if the test stops early, as the stream never ends.
struct Iris {
  Iris(const std::string& config, const std::string& log)
      : pid(testing::spawn_iris({"run", config}, log)), log(log) {}
  ~Iris() {
    if (pid > 0) testing::wait_child(pid, 0);
  }
  // Waits for iris to exit; returns the exit code (128 + signal when a signal ended it).
  int wait(double timeout_s) {
    const int code = testing::wait_child(pid, timeout_s);
    pid = -1;
    return code;
  }
  int end(int signal) {
    kill(pid, signal);
    return wait(20);
  }
  pid_t pid;
  std::string log;
};

struct SinkLine {
  unsigned long long delivered = 0, outbox = 0, failures = 0, lost = 0;
};

// The run summary's line for a sink: "  sink NAME (TYPE): N delivered, N in outbox..., N
// failures, N lost, ..."; nullopt when the summary has none.
std::optional<SinkLine> summary_line(const std::string& out, const std::string& sink) {
  const std::string head = "  sink " + sink + ": ";
  const size_t at = out.find(head);
  if (at == std::string::npos) return std::nullopt;
  const std::string line = out.substr(at + head.size(), out.find('\n', at) - at - head.size());
  SinkLine s;
  if (std::sscanf(line.c_str(), "%llu delivered, %llu in outbox", &s.delivered, &s.outbox) != 2) {
    return std::nullopt;
  }
  const size_t tail = line.find(", ", line.find("in outbox"));
  if (tail == std::string::npos ||
      std::sscanf(line.c_str() + tail, ", %llu failures, %llu lost", &s.failures, &s.lost) != 2) {
    return std::nullopt;
  }
  return s;
}

TEST(DeliveryE2e, EveryEventReachesMqttAndRedisThroughABrokerKill) {
  testing::Mosquitto mqtt;
  ASSERT_TRUE(mqtt.status().ok()) << mqtt.status().message();
  testing::RedisServer redis;
  ASSERT_TRUE(redis.status().ok()) << redis.status().message();
  testing::MqttSubscriber sub(mqtt.port(), "iris/#", "delivery-e2e");
  ASSERT_TRUE(sub.wait_subscribed(5).ok());
  testing::TempDir dir;
  ASSERT_TRUE(write_fast_scene(dir.file("scene.mp4")).ok());
  std::ofstream(dir.file("c.yaml"))
      << config(dir, "    - {type: mqtt, port: " + std::to_string(mqtt.port()) + ", " + kFastRetry +
                         "}\n    - {type: redis, port: " + std::to_string(redis.port()) +
                         ", key: \"iris:{stream}\", " + kFastRetry + "}\n");
  const std::string jsonl = dir.file("out/events.jsonl");
  const auto events_at_least = [&](size_t n) {
    return eventually([&] { return jsonl_ids(jsonl).size() >= n; }, 15);
  };

  Iris iris(dir.file("c.yaml"), dir.file("log"));
  ASSERT_TRUE(events_at_least(3)) << testing::read_file(iris.log);
  mqtt.kill();
  redis.kill();
  // Events raised while both brokers are gone wait in the event log.
  ASSERT_TRUE(events_at_least(jsonl_ids(jsonl).size() + 5)) << testing::read_file(iris.log);
  ASSERT_TRUE(mqtt.restart().ok()) << mqtt.status().message();
  ASSERT_TRUE(redis.restart().ok()) << redis.status().message();
  EXPECT_TRUE(eventually(
      [&] {
        const auto ids = jsonl_ids(jsonl);
        return missing(ids, mqtt_ids(sub)) == 0 &&
               missing(ids, redis_ids(redis.port(), "iris:synth")) == 0;
      },
      15));
  ASSERT_EQ(iris.end(SIGTERM), 0) << testing::read_file(iris.log);

  // Also the events raised until iris stopped.
  const auto ids = jsonl_ids(jsonl);
  EXPECT_EQ(missing(ids, mqtt_ids(sub)), 0u) << "of " << ids.size() << " events";
  EXPECT_EQ(missing(ids, redis_ids(redis.port(), "iris:synth")), 0u) << "of " << ids.size();
  // Each event went out after its snapshot was written, and names it.
  for (const auto& m : sub.messages()) {
    const auto j = nlohmann::json::parse(m.payload, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("snapshot")) << m.payload;
    EXPECT_FALSE(testing::read_file(j["snapshot"].get<std::string>()).empty()) << m.payload;
  }
  const std::string out = testing::read_file(iris.log);
  for (const char* sink : {"mqtt (mqtt)", "redis (redis)"}) {
    const auto line = summary_line(out, sink);
    ASSERT_TRUE(line.has_value()) << sink << " has no summary line in:\n" << out;
    EXPECT_GE(line->delivered, ids.size()) << sink;
    EXPECT_EQ(line->outbox, 0u) << sink;
    EXPECT_GE(line->failures, 1u) << sink << ": the outage went unnoticed";
    EXPECT_EQ(line->lost, 0u) << sink;
  }
}

TEST(DeliveryE2e, EventsPendingWhenIrisIsKilledArriveAfterARestart) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.status().ok()) << redis.status().message();
  redis.kill();  // down while the first iris runs
  testing::WebhookPeer hook;
  hook.answer_with(500);  // refuses every event while the first iris runs
  testing::TempDir dir;
  ASSERT_TRUE(write_fast_scene(dir.file("scene.mp4")).ok());
  std::ofstream(dir.file("c.yaml")) << config(
      dir, "    - {type: redis, port: " + std::to_string(redis.port()) +
               ", key: \"iris:{stream}\", " + kFastRetry + "}\n    - {type: webhook, url: \"" +
               hook.url("/events") + "\", " + kFastRetry + "}\n");
  const std::string jsonl = dir.file("out/events.jsonl");

  std::vector<std::string> ids;
  {
    Iris first(dir.file("c.yaml"), dir.file("log1"));
    ASSERT_TRUE(
        eventually([&] { return jsonl_ids(jsonl).size() >= 6 && !hook.requests().empty(); }, 15))
        << testing::read_file(first.log);
    ASSERT_EQ(first.end(SIGKILL), 128 + SIGKILL);
    ids = jsonl_ids(jsonl);
  }
  ASSERT_TRUE(hook.accepted().empty());  // nothing was delivered: all of them were pending

  hook.answer_with(200);
  ASSERT_TRUE(redis.restart().ok()) << redis.status().message();
  Iris second(dir.file("c.yaml"), dir.file("log2"));
  EXPECT_TRUE(eventually(
      [&] {
        return missing(ids, redis_ids(redis.port(), "iris:synth")) == 0 &&
               missing(ids, ids_of(hook.accepted())) == 0;
      },
      15))
      << missing(ids, redis_ids(redis.port(), "iris:synth")) << " (redis) and "
      << missing(ids, ids_of(hook.accepted())) << " (webhook) of the " << ids.size()
      << " events of the killed run never arrived\n"
      << testing::read_file(second.log);
  ASSERT_TRUE(eventually([&] { return jsonl_ids(jsonl).size() >= ids.size() + 2; }, 15));
  ASSERT_EQ(second.end(SIGTERM), 0) << testing::read_file(second.log);

  // The second run's own events arrived too, and nothing was lost on the way.
  const auto all = jsonl_ids(jsonl);
  EXPECT_EQ(missing(all, redis_ids(redis.port(), "iris:synth")), 0u) << "of " << all.size();
  EXPECT_EQ(missing(all, ids_of(hook.accepted())), 0u) << "of " << all.size();
  const std::string out = testing::read_file(second.log);
  for (const char* sink : {"redis (redis)", "webhook (webhook)"}) {
    const auto line = summary_line(out, sink);
    ASSERT_TRUE(line.has_value()) << sink << " has no summary line in:\n" << out;
    EXPECT_EQ(line->outbox, 0u) << sink;
    EXPECT_EQ(line->lost, 0u) << sink;
  }
}

// The event log is opened before any stream runs: a log that cannot be made fails the run at once.
TEST(DeliveryE2e, UnusableEventLogFailsBeforeAnyStreamRuns) {
  testing::TempDir dir;
  ASSERT_TRUE(write_fast_scene(dir.file("scene.mp4")).ok());
  std::ofstream(dir.file("plain-file")) << "x";
  std::string cfg = config(dir, "    - {type: redis, port: 1}\n");
  cfg.replace(cfg.find(dir.file("out/events-log")), dir.file("out/events-log").size(),
              dir.file("plain-file/log"));
  std::ofstream(dir.file("c.yaml")) << cfg;
  Iris iris(dir.file("c.yaml"), dir.file("log"));
  EXPECT_EQ(iris.wait(20), 1);
  const std::string out = testing::read_file(dir.file("log"));
  EXPECT_TRUE(testing::contains(
      out, "iris run: events.log: cannot create directory '" + dir.file("plain-file/log") + "'"));
  EXPECT_FALSE(std::ifstream(dir.file("out/events.jsonl")).good());  // no stream was opened
}

}  // namespace
}  // namespace iris
