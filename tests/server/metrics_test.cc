// The Prometheus text of /metrics from known counts: families, labels (escaped), cumulative
// histogram buckets, line crossings split into class and direction, delivery per sink.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <sstream>

#include "support/support.h"

namespace iris::server {
namespace {

using testing::contains;

// The value of the sample line that starts with `series` (name and labels), or -1.
double value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

MetricsInput example() {
  MetricsInput in;
  pipeline::StreamStats s;
  s.name = "gate \"B\"";
  s.state = pipeline::StreamState::kLive;
  s.dropped = 4;
  s.decode_errors = 2;
  s.reconnects = 1;
  s.counters.frames = 1200;
  s.counters.by_rule["door"]["zone_enter"] = 3;
  s.counters.rule_counters["door"] = {{"enter", 3}, {"exit", 2}};
  s.counters.rule_counters["middle"] = {{"person A->B", 5}, {"fork lift B->A", 2}};
  in.streams.push_back(s);
  in.fps["gate \"B\""] = 24.5;
  in.lines["gate \"B\""] = {"middle"};

  static Histogram delay, run;
  delay.reset();
  run.reset();
  for (double v : {0.0004, 0.0008, 0.003}) delay.add(v);
  run.add(0.02);
  pipeline::ModelStats m;
  m.name = "yolo";
  m.max_batch = 8;
  m.stats.requests = 11;
  m.stats.batches = 4;
  m.stats.batch_sizes = {0, 1, 1, 0, 0, 0, 0, 0, 1};  // batches of 1, 2 and 8
  in.models.push_back({m, &delay, &run});

  events::SinkStats sink;
  sink.name = "alarms";
  sink.type = "mqtt";
  sink.delivered = 9;
  sink.outbox = 3;
  sink.connected = true;
  in.sinks.push_back(sink);
  in.http.responses["GET /metrics"][200] = 7;
  return in;
}

TEST(Metrics, StreamsCountersStatesAndRules) {
  const std::string text = render_metrics(example());
  const std::string stream = "stream=\"gate \\\"B\\\"\"";  // quotes escaped
  EXPECT_TRUE(contains(text, "# TYPE iris_stream_frames_total counter\n"));
  EXPECT_EQ(value(text, "iris_stream_frames_total{" + stream + "}"), 1200);
  EXPECT_EQ(value(text, "iris_stream_fps{" + stream + "}"), 24.5);
  EXPECT_EQ(value(text, "iris_stream_dropped_frames_total{" + stream + "}"), 4);
  EXPECT_EQ(value(text, "iris_stream_decode_errors_total{" + stream + "}"), 2);
  EXPECT_EQ(value(text, "iris_stream_reconnects_total{" + stream + "}"), 1);
  EXPECT_EQ(value(text, "iris_stream_state{" + stream + ",state=\"live\"}"), 1);
  EXPECT_EQ(value(text, "iris_stream_state{" + stream + ",state=\"paused\"}"), 0);
  EXPECT_EQ(value(text, "iris_events_total{" + stream + ",rule=\"door\",type=\"zone_enter\"}"), 3);
  EXPECT_EQ(value(text, "iris_line_crossings_total{" + stream +
                            ",line=\"middle\",direction=\"A->B\",class=\"person\"}"),
            5);
  EXPECT_EQ(value(text, "iris_line_crossings_total{" + stream +
                            ",line=\"middle\",direction=\"B->A\",class=\"fork lift\"}"),
            2);
  EXPECT_FALSE(contains(text, "line=\"door\"")) << "a zone is not a line";
}

TEST(Metrics, ModelHistogramsAreCumulative) {
  const std::string text = render_metrics(example());
  EXPECT_TRUE(contains(text, "# TYPE iris_model_batch_size histogram\n"));
  EXPECT_EQ(value(text, "iris_model_batch_size_bucket{model=\"yolo\",le=\"1\"}"), 1);
  EXPECT_EQ(value(text, "iris_model_batch_size_bucket{model=\"yolo\",le=\"2\"}"), 2);
  EXPECT_EQ(value(text, "iris_model_batch_size_bucket{model=\"yolo\",le=\"4\"}"), 2);
  EXPECT_EQ(value(text, "iris_model_batch_size_bucket{model=\"yolo\",le=\"8\"}"), 3);
  EXPECT_EQ(value(text, "iris_model_batch_size_bucket{model=\"yolo\",le=\"+Inf\"}"), 4);
  EXPECT_EQ(value(text, "iris_model_batch_size_sum{model=\"yolo\"}"), 11);
  EXPECT_EQ(value(text, "iris_model_batch_size_count{model=\"yolo\"}"), 4);
  // 0.4 ms and 0.8 ms are under 1 ms, 3 ms is not; all are under 5 ms.
  EXPECT_EQ(value(text, "iris_model_queue_delay_seconds_bucket{model=\"yolo\",le=\"0.0001\"}"), 0);
  EXPECT_EQ(value(text, "iris_model_queue_delay_seconds_bucket{model=\"yolo\",le=\"0.001\"}"), 2);
  EXPECT_EQ(value(text, "iris_model_queue_delay_seconds_bucket{model=\"yolo\",le=\"0.005\"}"), 3);
  EXPECT_EQ(value(text, "iris_model_queue_delay_seconds_count{model=\"yolo\"}"), 3);
  EXPECT_NEAR(value(text, "iris_model_queue_delay_seconds_sum{model=\"yolo\"}"), 0.0042, 1e-9);
  EXPECT_EQ(value(text, "iris_model_inference_seconds_bucket{model=\"yolo\",le=\"0.01\"}"), 0);
  EXPECT_EQ(value(text, "iris_model_inference_seconds_bucket{model=\"yolo\",le=\"0.025\"}"), 1);
}

TEST(Metrics, DeliveryPerSinkOnlyWhenConfigured) {
  MetricsInput in = example();
  std::string text = render_metrics(in);
  EXPECT_EQ(value(text, "iris_delivery_delivered_total{sink=\"alarms\",type=\"mqtt\"}"), 9);
  EXPECT_EQ(value(text, "iris_delivery_outbox{sink=\"alarms\",type=\"mqtt\"}"), 3);
  EXPECT_EQ(value(text, "iris_delivery_lost_total{sink=\"alarms\",type=\"mqtt\"}"), 0);
  EXPECT_EQ(value(text, "iris_delivery_connected{sink=\"alarms\",type=\"mqtt\"}"), 1);
  EXPECT_EQ(value(text, "iris_http_responses_total{route=\"GET /metrics\",code=\"200\"}"), 7);
  in.sinks.clear();
  text = render_metrics(in);
  EXPECT_FALSE(contains(text, "iris_delivery_"));
}

}  // namespace
}  // namespace iris::server
