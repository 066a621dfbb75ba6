// Prometheus text exposition (format 0.0.4) of what the engine, its models and the HTTP server
// count: per stream frames, fps, drops, decode errors, reconnects and state; per model the
// batch-size, queue-delay and inference-latency histograms; events by rule and type; line
// crossings by line, direction and class; delivery per sink. Pure: the Server gathers the input.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/histogram.h"
#include "pipeline/engine.h"
#include "server/http.h"

namespace iris::server {

struct ModelMetrics {
  pipeline::ModelStats stats;
  const Histogram* queue_delay = nullptr;    // seconds a sample waited for its batch
  const Histogram* batch_seconds = nullptr;  // seconds each batch ran
};

struct MetricsInput {
  std::vector<pipeline::StreamStats> streams;
  std::map<std::string, double> fps;                   // per stream, over the last second
  std::map<std::string, std::set<std::string>> lines;  // per stream, its line rules' names
  std::vector<ModelMetrics> models;
  const Histogram* frame_latency = nullptr;
  const Histogram* event_latency = nullptr;
  std::vector<events::SinkStats> sinks;  // the remote sinks of `events:`; empty without
  HttpStats http;
};

std::string render_metrics(const MetricsInput& in);

}  // namespace iris::server
