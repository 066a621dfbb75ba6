#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "apps/iris/commands.h"
#include "core/log.h"
#include "core/text.h"
#include "server/server.h"

namespace iris::app {

const char kServeUsage[] =
    "usage: iris serve CONFIG [--port P] [--bind ADDR] [options]\n\n"
    "Runs every stream of CONFIG (YAML, see docs/config.md) and serves over HTTP until SIGINT or\n"
    "SIGTERM: the KServe v2 / Triton protocol on the config's models (batched with the cameras'\n"
    "frames), a control API for streams and rules, live views, event snapshots and clips, and\n"
    "Prometheus /metrics. Changes made through the API are kept in a state file and applied at the "
    "next\n"
    "start. Endpoints: docs/serve.md.\n\n"
    "options:\n"
    "  --port P            TCP port (default 8080; 0 picks a free one, printed at start)\n"
    "  --bind ADDR         address to listen on (default 127.0.0.1: this machine only)\n"
    "  --token T           require \"Authorization: Bearer T\" on all but /v2/health/*\n"
    "                      (default: the IRIS_TOKEN environment variable, if set)\n"
    "  --state PATH        the API's state file (default: CONFIG.state.json)\n"
    "  --max-body-mb N     largest request body (default 64)\n"
    "  --read-timeout S    seconds a client has to send a request's header, and again its\n"
    "                      body (default 10 and 60)\n"
    "  --max-connections N open connections at most (default 1024)\n"
    "  --max-viewers N     live MJPEG viewers at most (default 64)\n"
    "  --live-fps N        frames a second per live viewer at most (default 10)\n"
    "  --threads N         pipeline worker threads (default: one per core)\n"
    "  --quiet             warnings and errors only\n";

namespace {

// The number after `flag`, in [lo, hi]; prints the problem and returns nullopt otherwise.
std::optional<double> number_arg(const Args& args, size_t* i, double lo, double hi) {
  const std::string& flag = args[*i];
  double v = 0;
  if (*i + 1 >= args.size() || !parse_finite(args[*i + 1], &v) || v < lo || v > hi) {
    std::fprintf(stderr, "iris serve: %s needs a number from %g to %g\n", flag.c_str(), lo, hi);
    return std::nullopt;
  }
  ++*i;
  return v;
}

}  // namespace

int serve_main(const Args& args) {
  std::string config;
  server::ServeOptions options;
  if (const char* token = std::getenv("IRIS_TOKEN")) options.http.token = token;
  bool quiet = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const auto take = [&](double lo, double hi) { return number_arg(args, &i, lo, hi); };
    if (a == "--port") {
      auto v = take(0, 65535);
      if (!v) return 2;
      options.http.port = static_cast<int>(*v);
    } else if ((a == "--bind" || a == "--token" || a == "--state") && i + 1 < args.size()) {
      const std::string& value = args[++i];
      if (a == "--bind") options.http.bind = value;
      if (a == "--token") options.http.token = value;
      if (a == "--state") options.state_path = value;
    } else if (a == "--max-body-mb") {
      auto v = take(0.001, 4096);
      if (!v) return 2;
      options.http.max_body = static_cast<uint64_t>(*v * (1 << 20));
    } else if (a == "--read-timeout") {
      auto v = take(0.1, 3600);
      if (!v) return 2;
      options.http.header_timeout = std::chrono::milliseconds(static_cast<int64_t>(*v * 1000));
      options.http.body_timeout = options.http.header_timeout;
    } else if (a == "--max-connections") {
      auto v = take(1, 1 << 20);
      if (!v) return 2;
      options.http.max_connections = static_cast<size_t>(*v);
    } else if (a == "--max-viewers") {
      auto v = take(0, 1 << 16);
      if (!v) return 2;
      options.max_viewers = static_cast<size_t>(*v);
    } else if (a == "--live-fps") {
      auto v = take(1, 60);
      if (!v) return 2;
      options.live_fps = static_cast<int>(*v);
    } else if (a == "--threads") {
      auto v = take(1, 256);
      if (!v) return 2;
      options.engine.threads = static_cast<int>(*v);
    } else if (a == "--quiet") {
      quiet = true;
    } else if (config.empty() && a.rfind("--", 0) != 0) {
      config = a;
    } else {
      std::fprintf(stderr, "iris serve: unexpected argument '%s'\n\n%s", a.c_str(), kServeUsage);
      return 2;
    }
  }
  if (config.empty()) {
    std::fputs(kServeUsage, stderr);
    return 2;
  }
  if (quiet) log::set_level(log::Level::kWarn);

  auto server = server::Server::start(config, options);
  if (!server.ok()) {
    std::fprintf(stderr, "iris serve: %s\n", server.status().message().c_str());
    return 1;
  }
  catch_stop_signals();
  // The port goes to stdout, on a line of its own, for whoever started us with --port 0.
  std::printf("iris serve: listening on http://%s:%d (state: %s)\n", options.http.bind.c_str(),
              (*server)->port(), (*server)->state_path().c_str());
  std::fflush(stdout);
  if (options.http.token.empty() && options.http.bind != "127.0.0.1" &&
      options.http.bind != "::1") {
    log::warn("serving on " + options.http.bind +
              " without a token: anyone who reaches it can add streams and read frames; give "
              "--token or IRIS_TOKEN");
  }
  while (!stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  log::info("stopping: closing the HTTP server, finishing frames in flight, flushing events");
  server->reset();
  return 0;
}

}  // namespace iris::app
