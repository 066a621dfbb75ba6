#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "apps/iris/commands.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/text.h"
#include "events/delivery.h"
#include "pipeline/config.h"
#include "pipeline/engine.h"

namespace iris::app {

const char kRunUsage[] =
    "usage: iris run CONFIG [--threads N] [--quiet]\n\n"
    "Runs every stream of CONFIG (YAML, see docs/config.md) until its source ends.\n"
    "On a terminal a progress line shows frames, fps and events; a summary follows at the end.\n"
    "SIGINT or SIGTERM drains: reading stops, frames in flight finish, events are flushed and\n"
    "videos are finalized, then iris exits 0. A second signal exits at once.\n\n"
    "options:\n"
    "  --threads N   worker threads (default: one per core)\n"
    "  --quiet       no progress line, warnings and errors only\n";

namespace {

std::atomic<int> g_signals{0};

void on_signal(int) {
  if (g_signals.fetch_add(1) >= 1) _exit(130);  // second signal: the user insists
}

}  // namespace

void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() { return g_signals.load() > 0; }

namespace {

// The sum of one counter over every stream, e.g. &pipeline::StreamCounters::frames.
int64_t total(const std::vector<pipeline::StreamStats>& stats,
              int64_t pipeline::StreamCounters::*counter) {
  int64_t n = 0;
  for (const auto& s : stats) n += s.counters.*counter;
  return n;
}

// "a 1, b 2": a map of counts on one line.
std::string format_counts(const std::map<std::string, int64_t>& counts) {
  return join(counts, ", ",
              [](const auto& kv) { return kv.first + " " + std::to_string(kv.second); });
}

void print_models(const std::vector<pipeline::ModelStats>& models) {
  for (const auto& m : models) {
    const infer::ServerStats& s = m.stats;
    std::printf(
        "  model %s: %lld requests in %lld batches (mean %.2f, largest %lld of %d), %.1f ms "
        "inference per batch, %lld rejected, %lld failed\n",
        m.name.c_str(), static_cast<long long>(s.requests), static_cast<long long>(s.batches),
        s.batches > 0 ? static_cast<double>(s.requests) / s.batches : 0.0,
        static_cast<long long>(s.max_batch_seen), m.max_batch,
        s.batches > 0 ? 1000.0 * s.infer_seconds / s.batches : 0.0,
        static_cast<long long>(s.rejected), static_cast<long long>(s.failed));
  }
}

void print_delivery(const std::vector<events::SinkStats>& sinks) {
  for (const auto& s : sinks) {
    std::printf("  sink %s (%s): %llu delivered, %llu in outbox%s, %llu failures, %llu lost, %s\n",
                s.name.c_str(), s.type.c_str(), static_cast<unsigned long long>(s.delivered),
                static_cast<unsigned long long>(s.outbox),
                s.outbox > 0 ? " (kept in the event log for the next run)" : "",
                static_cast<unsigned long long>(s.failures),
                static_cast<unsigned long long>(s.lost),
                s.connected ? "connected" : "not connected");
  }
}

void print_summary(const std::vector<pipeline::StreamStats>& stats,
                   const std::vector<pipeline::ModelStats>& models,
                   const std::vector<events::SinkStats>& sinks, double seconds) {
  const int64_t frames = total(stats, &pipeline::StreamCounters::frames);
  std::printf("iris run: %lld frames in %.1f s (%.1f fps), %zu stream%s\n",
              static_cast<long long>(frames), seconds, seconds > 0 ? frames / seconds : 0.0,
              stats.size(), stats.size() == 1 ? "" : "s");
  for (const auto& s : stats) {
    std::printf(
        "  stream %s: %s, %lld frames, %lld detector runs, %llu decode errors, %llu dropped, "
        "%lld failed frames\n",
        s.name.c_str(), pipeline::state_name(s.state), static_cast<long long>(s.counters.frames),
        static_cast<long long>(s.counters.detector_runs),
        static_cast<unsigned long long>(s.decode_errors),
        static_cast<unsigned long long>(s.dropped),
        static_cast<long long>(s.counters.frame_errors));
    if (s.counters.detector_errors > 0 || s.counters.secondary_failures > 0) {
      std::printf("    %lld detector runs failed or were dropped, %lld secondary crops failed\n",
                  static_cast<long long>(s.counters.detector_errors),
                  static_cast<long long>(s.counters.secondary_failures));
    }
    if (!s.counters.suppressed.empty()) {
      std::printf("    suppressed: %s\n", format_counts(s.counters.suppressed).c_str());
    }
    if (s.reconnects > 0 || s.counters.gated > 0) {
      std::printf("    %llu reconnects, %lld frames gated (no motion, no detector)\n",
                  static_cast<unsigned long long>(s.reconnects),
                  static_cast<long long>(s.counters.gated));
    }
    if (!s.reason.empty())
      std::printf("    %s: %s\n", s.state == pipeline::StreamState::kFailed ? "error" : "reason",
                  s.reason.c_str());
  }
  print_models(models);
  print_delivery(sinks);
  std::printf("events: %lld\n",
              static_cast<long long>(total(stats, &pipeline::StreamCounters::events)));
  for (const auto& s : stats) {
    for (const auto& [rule, counters] : s.counters.rule_counters) {
      const auto it = s.counters.by_rule.find(rule);
      std::string line = it != s.counters.by_rule.end() ? format_counts(it->second) : "";
      if (line.empty()) line = "no events";
      const std::string counts = format_counts(counters);
      std::printf("  %s/%s: %s%s\n", s.name.c_str(), rule.c_str(), line.c_str(),
                  counts.empty() ? "" : ("  [" + counts + "]").c_str());
    }
  }
}

}  // namespace

int run_main(const Args& args) {
  std::string config;
  pipeline::EngineOptions options;
  bool quiet = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--threads" && i + 1 < args.size()) {
      options.threads = std::atoi(args[++i].c_str());
      if (options.threads < 1 || options.threads > 256) {
        std::fprintf(stderr, "iris run: --threads needs a number from 1 to 256\n");
        return 2;
      }
    } else if (args[i] == "--quiet") {
      quiet = true;
    } else if (config.empty() && args[i].rfind("--", 0) != 0) {
      config = args[i];
    } else {
      std::fprintf(stderr, "iris run: unexpected argument '%s'\n\n%s", args[i].c_str(), kRunUsage);
      return 2;
    }
  }
  if (config.empty()) {
    std::fputs(kRunUsage, stderr);
    return 2;
  }
  if (quiet) log::set_level(log::Level::kWarn);

  auto spec = pipeline::load_config(config);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().message().c_str());
    return 1;
  }
  auto engine = pipeline::Engine::create(*spec, options);
  if (!engine.ok()) {
    std::fprintf(stderr, "iris run: %s\n", engine.status().message().c_str());
    return 1;
  }

  catch_stop_signals();
  const bool tty = !quiet && isatty(STDERR_FILENO);
  const double t0 = steady_ns() * 1e-9;
  log::info("running " + std::to_string(spec->streams.size()) + " stream(s) from " + config);
  (*engine)->start();
  bool stopping = false;
  int64_t last_frames = 0;
  double last_t = t0;
  while (!(*engine)->wait_for(std::chrono::milliseconds(250))) {
    if (stop_requested() && !stopping) {
      stopping = true;
      log::info("stopping: finishing frames in flight, flushing events and videos");
      (*engine)->request_stop();
    }
    if (const double t = steady_ns() * 1e-9; tty && t - last_t >= 0.5) {
      const auto stats = (*engine)->stats();
      const int64_t frames = total(stats, &pipeline::StreamCounters::frames);
      std::fprintf(stderr, "\r\033[K%lld frames  %.1f fps  %lld events  %.0f s",
                   static_cast<long long>(frames), (frames - last_frames) / (t - last_t),
                   static_cast<long long>(total(stats, &pipeline::StreamCounters::events)), t - t0);
      last_frames = frames;
      last_t = t;
    }
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  const auto stats = (*engine)->stats();
  const auto models = (*engine)->model_stats();
  // The streams' time, without the delivery drain below.
  const double seconds = steady_ns() * 1e-9 - t0;
  // Whether each sink was connected is read before stopping them, which disconnects them.
  auto sinks = (*engine)->delivery_stats();
  if (!sinks.empty()) log::info("delivering the events still in the event log (up to 2 s)");
  (*engine)->stop_delivery();
  const auto delivered = (*engine)->delivery_stats();
  for (size_t i = 0; i < sinks.size(); ++i) {
    const bool connected = sinks[i].connected;
    sinks[i] = delivered[i];
    sinks[i].connected = connected;
  }
  engine->reset();
  print_summary(stats, models, sinks, seconds);
  for (const auto& s : stats) {
    if (s.state == pipeline::StreamState::kFailed) return 1;
  }
  return 0;
}

}  // namespace iris::app
