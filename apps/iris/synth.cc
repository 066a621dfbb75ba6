#include "eval/synth.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <map>
#include <string>

#include "apps/iris/commands.h"
#include "core/text.h"

namespace iris::app {

const char kSynthUsage[] =
    "usage: iris synth --out DIR [--seed N] [--duration S] [--fps F] [--size WxH]\n"
    "                  [--miss-rate R] [--fp-rate R] [--jitter PX] [--score-noise S]\n"
    "                  [--scenario NAME]\n\n"
    "Generates a synthetic street scene with exact ground truth (docs/synth.md): people, cars\n"
    "and bicycles on scripted paths, passing behind a pillar and each other, crossing lines,\n"
    "lingering, gathering, over a textured background with changing light and sensor noise.\n"
    "The same options and seed give byte-identical text files. DIR receives:\n"
    "  video.mp4       the scene, H.264\n"
    "  gt.txt          MOTChallenge ground truth: frame,id,x,y,w,h,1,class,visibility\n"
    "  gt_coco.json    COCO instances of the objects at least 40% visible\n"
    "  truth.json      the events the pipeline's rules must raise (line crossings, zone visits,\n"
    "                  loitering, crowds), with the stream's duration\n"
    "  detections.txt  a noisy detector's output: frame,-1,x,y,w,h,score,class\n"
    "  pipeline.yaml   replays detections.txt over video.mp4 with the scene's rules, writing\n"
    "                  DIR/events.jsonl and DIR/tracks.txt\n"
    "Class ids are COCO's: 1 person, 2 bicycle, 3 car.\n\n"
    "options:\n"
    "  --out DIR          output directory (created if missing)\n"
    "  --seed N           scene seed (default 1)\n"
    "  --duration S       seconds of video (default 60)\n"
    "  --fps F            frame rate (default 10)\n"
    "  --size WxH         frame size, even sides (default 640x480)\n"
    "  --miss-rate R      share of visible objects the detector misses, in runs (default 0.05)\n"
    "  --fp-rate R        false positives per visible object: flicker blips of 1-3 frames and a\n"
    "                     static cardboard figure in the yard (default 0.05)\n"
    "  --jitter PX        standard deviation of each detected box edge, pixels (default 1.5)\n"
    "  --score-noise S    standard deviation of the detection scores (default 0.05)\n"
    "  --scenario NAME    mixed (default: everything), basic (one object at a time, zone and\n"
    "                     line rules), gathering (loitering and crowds)\n\n"
    "then: iris run DIR/pipeline.yaml\n"
    "      iris eval events --truth DIR/truth.json --events DIR/events.jsonl --tolerance 1\n"
    "      iris eval mot --gt DIR/gt.txt --tracker DIR/tracks.txt\n";

namespace {

void print_summary(const eval::SynthOptions& o, const eval::SynthSummary& s,
                   const std::string& dir) {
  std::printf("iris synth: scenario %s, seed %llu -> %s\n", o.scenario.c_str(),
              static_cast<unsigned long long>(o.seed), dir.c_str());
  std::printf("  video: %lld frames, %dx%d at %g fps (%.1f s)\n", static_cast<long long>(s.frames),
              o.width, o.height, o.fps, static_cast<double>(s.frames) / o.fps);
  std::string objects;
  int total = 0;
  for (const eval::ObjectClass c : eval::kObjectClasses) {
    const int n = s.objects[static_cast<int>(c)];
    total += n;
    objects += (objects.empty() ? "" : ", ") + std::to_string(n) + " " + eval::class_name(c);
  }
  std::printf("  objects: %d (%s); %lld boxes, %lld at least 40%% visible\n", total,
              objects.c_str(), static_cast<long long>(s.gt_boxes),
              static_cast<long long>(s.detectable));
  std::map<std::string, int> by_type;
  for (const auto& e : s.events) ++by_type[e.type];
  const std::string types = join(
      by_type, ", ", [](const auto& kv) { return kv.first + " " + std::to_string(kv.second); });
  std::printf("  truth: %zu events%s%s\n", s.events.size(), types.empty() ? "" : ": ",
              types.c_str());
  const double missed =
      s.detectable ? 1.0 - static_cast<double>(s.true_detections) / s.detectable : 0.0;
  std::printf("  detections: %lld true (%.1f%% missed), %lld false (%lld flicker, %lld standee)\n",
              static_cast<long long>(s.true_detections), 100 * missed,
              static_cast<long long>(s.flicker + s.standee), static_cast<long long>(s.flicker),
              static_cast<long long>(s.standee));
  std::printf("  next: iris run %s/pipeline.yaml\n", dir.c_str());
}

}  // namespace

int synth_main(const Args& args) {
  eval::SynthOptions o;
  std::string dir;
  const std::map<std::string, double*> numbers = {
      {"--duration", &o.duration}, {"--fps", &o.fps},       {"--miss-rate", &o.miss_rate},
      {"--fp-rate", &o.fp_rate},   {"--jitter", &o.jitter}, {"--score-noise", &o.score_noise}};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) {
      std::fprintf(stderr, "iris synth: unexpected argument '%s'\n\n%s", a.c_str(), kSynthUsage);
      return 2;
    }
    const std::string& value = args[++i];
    bool ok = true;
    if (a == "--out") {
      dir = value;
    } else if (a == "--scenario") {
      o.scenario = value;
    } else if (a == "--seed") {
      const char* end = value.data() + value.size();
      const auto [stop, ec] = std::from_chars(value.data(), end, o.seed);
      ok = ec == std::errc() && stop == end;
    } else if (a == "--size") {
      ok = parse_size(value, &o.width, &o.height);
    } else if (const auto it = numbers.find(a); it != numbers.end()) {
      ok = parse_finite(value, it->second);
    } else {
      std::fprintf(stderr, "iris synth: unexpected argument '%s'\n\n%s", a.c_str(), kSynthUsage);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "iris synth: %s needs a %s, got '%s'\n", a.c_str(),
                   a == "--size"   ? "size WxH such as 640x480"
                   : a == "--seed" ? "whole number >= 0"
                                   : "number",
                   value.c_str());
      return 2;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "iris synth: needs --out DIR\n\n%s", kSynthUsage);
    return 2;
  }
  const bool tty = isatty(STDERR_FILENO);
  int64_t shown = -1;
  auto progress = [&](int64_t done, int64_t total) {
    // On a terminal, a line that updates every 5%: long scenes take a while to encode.
    const int64_t step = done * 20 / total;
    if (!tty || step == shown) return;
    shown = step;
    std::fprintf(stderr, "\r\033[Krendering frame %lld/%lld", static_cast<long long>(done),
                 static_cast<long long>(total));
    if (done == total) std::fprintf(stderr, "\r\033[K");
  };
  auto summary = eval::synthesize(o, dir, progress);
  if (!summary.ok()) {
    std::fprintf(stderr, "iris synth: %s\n", summary.status().message().c_str());
    return 1;
  }
  print_summary(o, *summary, dir);
  return 0;
}

}  // namespace iris::app
