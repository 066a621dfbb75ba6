// iris: real-time video analytics. `iris --help` lists the commands.
#include <cstdio>
#include <cstring>

#include "apps/iris/commands.h"

namespace iris::app {
namespace {

const Command kCommands[] = {
    {"run", "run the pipelines of a YAML config until their sources end", kRunUsage, run_main},
    {"serve", "run a config's pipelines and serve them over HTTP (KServe v2, control API, metrics)",
     kServeUsage, serve_main},
    {"validate", "check a YAML config without running it", kValidateUsage, validate_main},
    {"eval",
     "score detections (COCO mAP), tracks (HOTA, MOTA, IDF1), events (precision, recall) or a "
     "model's FP32/BF16/INT8 agreement (eval precision)",
     kEvalUsage, eval_main},
    {"synth", "generate a synthetic scene: video, exact ground truth, noisy detections, pipeline",
     kSynthUsage, synth_main},
    {"bench",
     "time a model's inference (bench model) or count the live streams held (bench streams)",
     kBenchUsage, bench_main},
    {"quantize", "calibrate a model for INT8 on the iris runtime, with per-layer FP32 fallback",
     kQuantizeUsage, quantize_main},
    {"profile", "time each layer of a model on the iris runtime: share, GFLOP/s, kernel",
     kProfileUsage, profile_main},
};

void print_help() {
  std::printf(
      "iris: real-time video analytics\n\n"
      "usage: iris <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf(
      "  %-10s show a command's options\n\n"
      "Run `iris help <command>` for details. Docs: docs/config.md, docs/events.md, "
      "docs/serve.md\n",
      "help");
}

const Command* find(const std::string& name) {
  for (const auto& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

}  // namespace
}  // namespace iris::app

int main(int argc, char** argv) {
  using namespace iris::app;
  Args args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    print_help();
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::printf("iris 0.1.0\n");
    return 0;
  }
  if (args[0] == "help") {
    if (args.size() < 2) {
      print_help();
      return 0;
    }
    const Command* c = find(args[1]);
    if (!c) {
      std::fprintf(stderr, "iris: unknown command '%s'; see `iris --help`\n", args[1].c_str());
      return 2;
    }
    std::fputs(c->usage, stdout);
    return 0;
  }
  const Command* c = find(args[0]);
  if (!c) {
    std::fprintf(stderr, "iris: unknown command '%s'; see `iris --help`\n", args[0].c_str());
    return 2;
  }
  Args rest(args.begin() + 1, args.end());
  for (const auto& a : rest) {
    if (a == "--help" || a == "-h") {
      const bool streams = c->run == bench_main && rest[0] == "streams";
      std::fputs(streams ? kBenchStreamsUsage : c->usage, stdout);
      return 0;
    }
  }
  return c->run(rest);
}
