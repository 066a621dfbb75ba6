#include "server/metrics.h"

#include <cstdio>
#include <initializer_list>

namespace iris::server {
namespace {

// Bucket bounds of the latency histograms, seconds.
constexpr double kLatencyBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
constexpr pipeline::StreamState kStates[] = {
    pipeline::StreamState::kConnecting, pipeline::StreamState::kLive,
    pipeline::StreamState::kStalled,    pipeline::StreamState::kReconnecting,
    pipeline::StreamState::kPaused,     pipeline::StreamState::kEnded,
    pipeline::StreamState::kFailed};

std::string escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

class Writer {
 public:
  // Starts a metric family.
  void family(const std::string& name, const char* type, const char* help) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  // `labels`: name, value, name, value...
  void sample(const std::string& name, std::initializer_list<std::string> labels, double value) {
    out_ += name;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (auto it = labels.begin(); it != labels.end(); it += 2) {
        if (!first) out_ += ',';
        first = false;
        out_ += *it + "=\"" + escape(*(it + 1)) + "\"";
      }
      out_ += '}';
    }
    out_ += ' ' + number(value) + '\n';
  }
  // A histogram from iris::Histogram's fine buckets: each le bound counts the fine buckets whose
  // upper edge is at or below it, so a bound undercounts by less than one fine bucket (<9%).
  void latency(const std::string& name, const std::string& label, const std::string& value,
               const Histogram& h) {
    const auto counts = h.buckets();
    uint64_t cumulative = 0;
    int fine = 0;
    for (double bound : kLatencyBounds) {
      while (fine < Histogram::kBuckets && Histogram::upper_edge(fine) <= bound * (1 + 1e-9)) {
        cumulative += counts[fine++];
      }
      bucket(name, label, value, number(bound), cumulative);
    }
    const uint64_t count = h.count();
    bucket(name, label, value, "+Inf", count);
    with_label(name + "_sum", label, value, h.sum());
    with_label(name + "_count", label, value, static_cast<double>(count));
  }
  void bucket(const std::string& name, const std::string& label, const std::string& value,
              const std::string& le, uint64_t n) {
    if (label.empty()) {
      sample(name + "_bucket", {"le", le}, static_cast<double>(n));
    } else {
      sample(name + "_bucket", {label, value, "le", le}, static_cast<double>(n));
    }
  }
  void with_label(const std::string& name, const std::string& label, const std::string& value,
                  double v) {
    if (label.empty()) {
      sample(name, {}, v);
    } else {
      sample(name, {label, value}, v);
    }
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// A metric family with one number per stream, model or sink (a Row).
template <typename Row>
struct Column {
  const char* name;
  const char* type;
  const char* help;
  double (*get)(const Row&);
};

void streams(Writer& w, const MetricsInput& in) {
  using pipeline::StreamStats;
  static const Column<StreamStats> kCounters[] = {
      {"iris_stream_frames_total", "counter", "Frames processed.",
       [](const StreamStats& s) { return double(s.counters.frames); }},
      {"iris_stream_dropped_frames_total", "counter",
       "Frames a live stream dropped because it fell behind.",
       [](const StreamStats& s) { return double(s.dropped); }},
      {"iris_stream_decode_errors_total", "counter", "Packets the decoder could not decode.",
       [](const StreamStats& s) { return double(s.decode_errors); }},
      {"iris_stream_reconnects_total", "counter", "Successful reconnects of a camera.",
       [](const StreamStats& s) { return double(s.reconnects); }},
      {"iris_stream_detector_runs_total", "counter", "Frames the detector ran on.",
       [](const StreamStats& s) { return double(s.counters.detector_runs); }},
      {"iris_stream_detector_errors_total", "counter", "Detector runs that failed or were dropped.",
       [](const StreamStats& s) { return double(s.counters.detector_errors); }},
      {"iris_stream_frame_errors_total", "counter",
       "Frames whose processing failed and was skipped.",
       [](const StreamStats& s) { return double(s.counters.frame_errors); }},
      {"iris_stream_event_errors_total", "counter",
       "Event deliveries to the stream's own sinks that failed.",
       [](const StreamStats& s) { return double(s.counters.event_errors); }},
  };
  for (const auto& c : kCounters) {
    w.family(c.name, c.type, c.help);
    for (const auto& s : in.streams) w.sample(c.name, {"stream", s.name}, c.get(s));
  }
  w.family("iris_stream_fps", "gauge", "Frames processed per second over the last second.");
  for (const auto& s : in.streams) {
    const auto it = in.fps.find(s.name);
    w.sample("iris_stream_fps", {"stream", s.name}, it == in.fps.end() ? 0 : it->second);
  }
  w.family("iris_stream_state", "gauge", "1 for the state the stream is in, 0 for the others.");
  for (const auto& s : in.streams) {
    for (pipeline::StreamState state : kStates) {
      w.sample("iris_stream_state", {"stream", s.name, "state", pipeline::state_name(state)},
               s.state == state ? 1 : 0);
    }
  }
  w.family("iris_events_total", "counter", "Events raised, by stream, rule and event type.");
  for (const auto& s : in.streams) {
    for (const auto& [rule, types] : s.counters.by_rule) {
      for (const auto& [type, n] : types) {
        w.sample("iris_events_total", {"stream", s.name, "rule", rule, "type", type}, double(n));
      }
    }
  }
  w.family("iris_line_crossings_total", "counter",
           "Objects that crossed a line rule, by direction and class.");
  for (const auto& s : in.streams) {
    const auto lines = in.lines.find(s.name);
    if (lines == in.lines.end()) continue;
    for (const auto& [rule, counts] : s.counters.rule_counters) {
      if (!lines->second.count(rule)) continue;
      for (const auto& [key, n] : counts) {
        // A line counts "<class> <direction>"; a class name may itself hold spaces.
        const size_t space = key.rfind(' ');
        if (space == std::string::npos) continue;
        w.sample("iris_line_crossings_total",
                 {"stream", s.name, "line", rule, "direction", key.substr(space + 1), "class",
                  key.substr(0, space)},
                 double(n));
      }
    }
  }
  w.family("iris_event_clips_total", "counter",
           "Event clips of streams that record them, by result: written, failed, refused.");
  for (const auto& s : in.streams) {
    if (!s.clips) continue;
    for (const auto& [result, n] :
         {std::pair{"written", s.clips->written}, std::pair{"failed", s.clips->failed},
          std::pair{"refused", s.clips->refused}}) {
      w.sample("iris_event_clips_total", {"stream", s.name, "result", result}, double(n));
    }
  }
  w.family("iris_clip_buffer_bytes", "gauge",
           "Compressed video a stream holds for the pre-roll of its event clips.");
  for (const auto& s : in.streams) {
    if (s.clips) w.sample("iris_clip_buffer_bytes", {"stream", s.name}, double(s.clips->bytes));
  }
  w.family("iris_suppressed_total", "counter",
           "Tracks held back from the rules and events dropped, by reason.");
  for (const auto& s : in.streams) {
    for (const auto& [reason, n] : s.counters.suppressed) {
      w.sample("iris_suppressed_total", {"stream", s.name, "reason", reason}, double(n));
    }
  }
}

void models(Writer& w, const MetricsInput& in) {
  static const Column<infer::ServerStats> kColumns[] = {
      {"iris_model_requests_total", "counter", "Samples accepted by the model's server.",
       [](const infer::ServerStats& s) { return double(s.requests); }},
      {"iris_model_rejected_total", "counter", "Samples refused because the queue was full.",
       [](const infer::ServerStats& s) { return double(s.rejected); }},
      {"iris_model_failed_total", "counter", "Samples whose batch failed to run.",
       [](const infer::ServerStats& s) { return double(s.failed); }},
      {"iris_model_queue_depth", "gauge", "Samples waiting for a batch now.",
       [](const infer::ServerStats& s) { return double(s.queued); }},
  };
  for (const auto& c : kColumns) {
    w.family(c.name, c.type, c.help);
    for (const auto& m : in.models) w.sample(c.name, {"model", m.stats.name}, c.get(m.stats.stats));
  }
  w.family("iris_model_batch_size", "histogram", "Samples per batch run.");
  for (const auto& m : in.models) {
    const auto& sizes = m.stats.stats.batch_sizes;
    uint64_t cumulative = 0;
    double samples = 0;
    size_t n = 0;
    for (int bound = 1;; bound *= 2) {
      for (; n < sizes.size() && static_cast<int>(n) <= bound; ++n) {
        cumulative += sizes[n];
        samples += double(n) * sizes[n];
      }
      w.bucket("iris_model_batch_size", "model", m.stats.name, std::to_string(bound), cumulative);
      if (bound >= m.stats.max_batch) break;
    }
    w.bucket("iris_model_batch_size", "model", m.stats.name, "+Inf", m.stats.stats.batches);
    w.with_label("iris_model_batch_size_sum", "model", m.stats.name, samples);
    w.with_label("iris_model_batch_size_count", "model", m.stats.name,
                 double(m.stats.stats.batches));
  }
  w.family("iris_model_queue_delay_seconds", "histogram",
           "Seconds a sample waited in the queue before its batch ran.");
  for (const auto& m : in.models) {
    if (m.queue_delay) {
      w.latency("iris_model_queue_delay_seconds", "model", m.stats.name, *m.queue_delay);
    }
  }
  w.family("iris_model_inference_seconds", "histogram", "Seconds each batch took to run.");
  for (const auto& m : in.models) {
    if (m.batch_seconds) {
      w.latency("iris_model_inference_seconds", "model", m.stats.name, *m.batch_seconds);
    }
  }
}

void delivery(Writer& w, const MetricsInput& in) {
  if (in.sinks.empty()) return;
  static const Column<events::SinkStats> kColumns[] = {
      {"iris_delivery_delivered_total", "counter", "Events the sink's peer confirmed.",
       [](const events::SinkStats& s) { return double(s.delivered); }},
      {"iris_delivery_failures_total", "counter", "Failed connects and sends to the sink's peer.",
       [](const events::SinkStats& s) { return double(s.failures); }},
      {"iris_delivery_outbox", "gauge", "Events in the log not yet confirmed by the sink.",
       [](const events::SinkStats& s) { return double(s.outbox); }},
      {"iris_delivery_lost_total", "counter",
       "Events dropped at the log's size limit before the sink read them.",
       [](const events::SinkStats& s) { return double(s.lost); }},
      {"iris_delivery_connected", "gauge", "1 while the sink is connected to its peer.",
       [](const events::SinkStats& s) { return s.connected ? 1.0 : 0.0; }},
  };
  for (const auto& c : kColumns) {
    w.family(c.name, c.type, c.help);
    for (const auto& s : in.sinks) w.sample(c.name, {"sink", s.name, "type", s.type}, c.get(s));
  }
}

void http(Writer& w, const MetricsInput& in) {
  w.family("iris_http_responses_total", "counter", "HTTP responses by route and status code.");
  for (const auto& [route, codes] : in.http.responses) {
    for (const auto& [code, n] : codes) {
      w.sample("iris_http_responses_total", {"route", route, "code", std::to_string(code)},
               double(n));
    }
  }
  w.family("iris_http_connections", "gauge", "Open HTTP connections.");
  w.sample("iris_http_connections", {}, double(in.http.connections_open));
  w.family("iris_http_refused_total", "counter", "Connections refused over the limit.");
  w.sample("iris_http_refused_total", {}, double(in.http.connections_refused));
  w.family("iris_http_timeouts_total", "counter",
           "Connections closed because a header or body did not arrive in time.");
  w.sample("iris_http_timeouts_total", {}, double(in.http.timeouts));
}

}  // namespace

std::string render_metrics(const MetricsInput& in) {
  Writer w;
  streams(w, in);
  models(w, in);
  if (in.frame_latency) {
    w.family("iris_frame_latency_seconds", "histogram",
             "Seconds from a frame's decode to the end of its processing.");
    w.latency("iris_frame_latency_seconds", "", "", *in.frame_latency);
  }
  if (in.event_latency) {
    w.family("iris_event_latency_seconds", "histogram",
             "Seconds from a frame's decode to the delivery of its events.");
    w.latency("iris_event_latency_seconds", "", "", *in.event_latency);
  }
  delivery(w, in);
  http(w, in);
  return w.take();
}

}  // namespace iris::server
