// iris bench streams: how many live 720p cameras this machine holds. N streams play one synthetic
// clip as cameras (emulate_live: looped, paced by the wall clock, dropping when behind); N is
// raised through Engine::add_stream while the others run, until frames drop, and the highest N
// that holds a window with zero drops is reported with CPU, RSS and latency per stream. The
// decode-only count of the same run is the yardstick the pipeline's count is compared with.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "apps/iris/commands.h"
#include "core/histogram.h"
#include "core/log.h"
#include "core/text.h"
#include "eval/synth.h"
#include "pipeline/engine.h"
#include "video/source.h"

namespace iris::app {

const char kBenchStreamsUsage[] =
    "usage: iris bench streams [--pipeline decode|motion|hog|blazeface] [--hold S] [--probe S]\n"
    "                          [--warmup S] [--start N] [--max-streams N] [--soak S]\n"
    "                          [--streams N] [--detect-interval N] [--threads N]\n"
    "                          [--clip-dir DIR] [--clip-seconds S] [--model PATH] [--json]\n\n"
    "How many live 720p 15 fps cameras this machine holds. Every stream plays one synthetic\n"
    "1280x720 H.264 clip (made once, cached in --clip-dir) as a camera: looped, paced by the\n"
    "wall clock, dropping frames when it falls behind. The count is raised at runtime while the\n"
    "other streams run: short probe windows grow it, then bisect between the last count that\n"
    "held and the first that failed; the result is confirmed by a --hold window. A window holds\n"
    "when no frame was dropped, every stream stayed live and 98% of the frames due arrived.\n"
    "The decode-only count is measured the same way in the same run, and the ratio printed.\n"
    "Progress goes to stderr. Output fields and method: docs/bench.md, \"Streams\".\n\n"
    "options:\n"
    "  --pipeline P         decode (decode only), motion (motion detection, SORT, a zone and a\n"
    "                       line), hog (motion gate + HOG people), blazeface (motion gate +\n"
    "                       BlazeFace back model) (default motion)\n"
    "  --hold S             seconds the final count must hold (default 60)\n"
    "  --probe S            seconds of each search window (default 10)\n"
    "  --warmup S           seconds after changing the count before a window, longer while\n"
    "                       the streams still catch up (default 5)\n"
    "  --start N            first count tried (default 8; the pipeline's: 80% of decode's)\n"
    "  --max-streams N      highest count tried (default 256)\n"
    "  --soak S             then run S seconds at a fixed count, sampling RSS every 10 s\n"
    "  --streams N          the soak's count; skips the search (default 80% of the max found)\n"
    "  --detect-interval N  run the detector on every Nth frame (default 1 for motion, 5 for\n"
    "                       hog and blazeface)\n"
    "  --threads N          Engine worker threads (default 0: one per core)\n"
    "  --clip-dir DIR       where the clip is cached (default $TMPDIR/iris-bench-streams)\n"
    "  --clip-seconds S     clip length (default 60)\n"
    "  --model PATH         BlazeFace back model for --pipeline blazeface\n"
    "                       (default models/face_detection_back_256x256_barracuda.onnx)\n"
    "  --json               one JSON document on stdout instead of the table\n\n"
    "Exit status: 0 when the run completed, 1 when the clip, the model or a stream failed,\n"
    "2 for bad arguments.\n";

namespace {

using Clock = std::chrono::steady_clock;
using pipeline::Engine;
using pipeline::StreamSpec;

constexpr int kClipWidth = 1280, kClipHeight = 720;
constexpr double kClipFps = 15;
constexpr double kSoakSample = 10;   // seconds between RSS samples of a soak
constexpr double kDelivered = 0.98;  // share of the frames due a window must see
constexpr double kPoll = 0.25;       // seconds between checks inside a window
constexpr double kSettleMax = 30;    // seconds a warm-up may be extended to let streams settle
constexpr double kSettleStep = 0.5;  // seconds of each settling check
constexpr char kDecode[] = "decode";

struct StreamsArgs {
  std::string pipeline = "motion";
  double hold = 60;
  double probe = 10;
  double warmup = 5;
  int start = 0;  // 0: the default
  int max_streams = 256;
  double soak = 0;
  int streams = 0;          // soak count; 0: 80% of the max found
  int detect_interval = 0;  // 0: the pipeline's default
  int threads = 0;
  std::string clip_dir;
  double clip_seconds = 60;
  std::string model = "models/face_detection_back_256x256_barracuda.onnx";
  bool json = false;
};

std::optional<StreamsArgs> parse(const Args& args) {
  StreamsArgs a;
  const auto option = [&a](const std::string& flag,
                           const std::string& value) -> std::optional<std::string> {
    // Sets *out from the value when it is a whole number in [lo, hi].
    auto integer = [&](int* out, int lo, int hi) {
      const auto v = int_in_range(value, lo, hi);
      if (v) *out = *v;
      return v.has_value();
    };
    auto seconds = [&](double* out, double lo, double hi) {
      double v = 0;
      if (!parse_finite(value, &v) || v < lo || v > hi) return false;
      *out = v;
      return true;
    };
    if (flag == "--pipeline") {
      a.pipeline = value;
      const bool known =
          value == "decode" || value == "motion" || value == "hog" || value == "blazeface";
      return known ? "" : "pipeline: decode, motion, hog or blazeface";
    }
    if (flag == "--hold" || flag == "--probe") {
      const bool ok = seconds(flag == "--hold" ? &a.hold : &a.probe, 1, 86400);
      return ok ? "" : "number of seconds from 1 to 86400";
    }
    if (flag == "--warmup") {
      return seconds(&a.warmup, 0, 3600) ? "" : "number of seconds from 0 to 3600";
    }
    if (flag == "--soak") {
      return seconds(&a.soak, 1, 7 * 86400) ? "" : "number of seconds from 1 to 604800";
    }
    if (flag == "--clip-seconds") {
      return seconds(&a.clip_seconds, 2, 3600) ? "" : "number of seconds from 2 to 3600";
    }
    if (flag == "--start" || flag == "--max-streams" || flag == "--streams") {
      int* out = flag == "--start" ? &a.start : flag == "--streams" ? &a.streams : &a.max_streams;
      return integer(out, 1, 100000) ? "" : "stream count from 1 to 100000";
    }
    if (flag == "--detect-interval") {
      return integer(&a.detect_interval, 1, 1000000) ? "" : "frame count from 1 to 1000000";
    }
    if (flag == "--threads") {
      return integer(&a.threads, 0, 1024) ? "" : "thread count from 0 (one per core) to 1024";
    }
    if (flag == "--clip-dir" || flag == "--model") {
      (flag == "--model" ? a.model : a.clip_dir) = value;
      if (!value.empty()) return "";
      return flag == "--model" ? "path to an .onnx file" : "directory";
    }
    return std::nullopt;
  };
  if (!read_options("iris bench streams", kBenchStreamsUsage, args, nullptr, &a.json, option)) {
    return std::nullopt;
  }
  if (a.start > a.max_streams) {
    std::fprintf(stderr,
                 "iris bench streams: --start %d is above --max-streams %d; fix: lower --start "
                 "or raise --max-streams\n",
                 a.start, a.max_streams);
    return std::nullopt;
  }
  if (a.streams > 0 && a.soak == 0) {
    std::fprintf(stderr,
                 "iris bench streams: --streams sets the soak's count; fix: add --soak SECONDS "
                 "or drop --streams\n");
    return std::nullopt;
  }
  if (a.detect_interval == 0) {
    // HOG on a 720p frame takes longer than a frame lasts, and the synthetic street always moves,
    // so a gate never rests it: detecting 3 times a second with the tracker in between is how
    // such detectors are deployed.
    a.detect_interval = a.pipeline == "hog" || a.pipeline == "blazeface" ? 5 : 1;
  }
  if (a.clip_dir.empty()) {
    a.clip_dir = (std::filesystem::temp_directory_path() / "iris-bench-streams").string();
  }
  return a;
}

// ---- The clip ----

struct Clip {
  std::string path;
  double seconds = 0;
  double kbps = 0;     // the file's average bit rate
  int key_frames = 0;  // counted by decoding only the key frames
};

// Made once per length with iris's own scene generator (people, bicycles and cars crossing a
// textured street with changing light and sensor noise, which is what decoding costs depend on),
// in a scratch directory renamed into place, so that an interrupted run leaves no half clip.
Result<Clip> ensure_clip(const StreamsArgs& a) {
  namespace fs = std::filesystem;
  char name[96];
  std::snprintf(name, sizeof name, "synth-%dx%d-%gfps-%gs", kClipWidth, kClipHeight, kClipFps,
                a.clip_seconds);
  const fs::path dir = fs::path(a.clip_dir) / name;
  Clip clip{.path = (dir / "video.mp4").string(), .seconds = a.clip_seconds};
  std::error_code ec;
  if (!fs::exists(clip.path, ec)) {
    fs::create_directories(a.clip_dir, ec);
    if (ec) {
      return Status::error("cannot create --clip-dir '" + a.clip_dir + "': " + ec.message() +
                           "; choose a writable directory");
    }
    const fs::path scratch = dir.string() + ".tmp" + std::to_string(getpid());
    eval::SynthOptions so;
    so.duration = a.clip_seconds;
    so.fps = kClipFps;
    so.width = kClipWidth;
    so.height = kClipHeight;
    std::fprintf(stderr, "iris bench streams: making the clip %s (once)\n", clip.path.c_str());
    auto made = eval::synthesize(so, scratch.string(), nullptr);
    if (!made.ok()) {
      fs::remove_all(scratch, ec);
      return made.status().with_context("making the benchmark clip in '" + a.clip_dir + "'");
    }
    fs::rename(scratch, dir, ec);
    if (ec && !fs::exists(clip.path)) {  // not lost to a concurrent run that made it first
      return Status::error("cannot move the clip into '" + dir.string() + "': " + ec.message());
    }
    fs::remove_all(scratch, ec);
  }
  clip.kbps = static_cast<double>(fs::file_size(clip.path, ec)) * 8 / 1000 / clip.seconds;
  video::SourceOptions so;
  so.url = clip.path;
  so.keyframes_only = true;
  auto source = video::Source::open(so);
  if (!source.ok()) {
    return source.status().with_context("the cached clip (delete '" + dir.string() +
                                        "' to make it again)");
  }
  for (;;) {
    auto f = (*source)->read();
    if (!f.ok()) return f.status().with_context("the cached clip '" + clip.path + "'");
    if (!f->has_value()) break;
    ++clip.key_frames;
  }
  return clip;
}

// ---- The process ----

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec * 1e-6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

double rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;  // kB
  }
  return 0;
}

unsigned cores() { return std::max(1u, std::thread::hardware_concurrency()); }

std::vector<double> load_average() {
  std::ifstream in("/proc/loadavg");
  std::vector<double> out(3, 0.0);
  for (double& v : out) in >> v;
  return out;
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void sleep_s(double s) {
  if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

// ---- Measuring a window ----

using Buckets = Histogram::Buckets;

struct Latency {
  uint64_t count = 0;
  double p50_ms = 0, p99_ms = 0;
};

// Quantiles of what a histogram gained between two readings. The Engine's histograms run for the
// process's life; windows are their differences.
Latency latency_between(const Buckets& before, const Buckets& after) {
  Buckets d{};
  Latency l;
  for (int i = 0; i < Histogram::kBuckets; ++i) l.count += d[i] = after[i] - before[i];
  l.p50_ms = Histogram::quantile(d, 0.5) * 1000;
  l.p99_ms = Histogram::quantile(d, 0.99) * 1000;
  return l;
}

struct Reading {
  Clock::time_point at;
  double cpu = 0;
  int64_t frames = 0, events = 0;
  uint64_t dropped = 0;
  std::vector<std::string> not_live;  // "name: state (reason)"
  Buckets frame_latency{}, event_latency{};
};

Reading read_engine(const Engine& engine) {
  Reading r;
  r.at = Clock::now();
  r.cpu = cpu_seconds();
  for (const auto& s : engine.stats()) {
    r.frames += s.counters.frames;
    r.events += s.counters.events;
    r.dropped += s.dropped;
    if (s.state != pipeline::StreamState::kLive) {
      r.not_live.push_back(s.name + ": " + pipeline::state_name(s.state) +
                           (s.reason.empty() ? "" : " (" + s.reason + ")"));
    }
  }
  r.frame_latency = engine.frame_latency().buckets();
  r.event_latency = engine.event_latency().buckets();
  return r;
}

struct Window {
  std::string kind;  // probe, hold or soak
  int streams = 0;
  double seconds = 0;  // measured; a probe that fails stops early
  bool held = false;
  std::string reason;  // why it did not hold
  double warmup = 0;   // seconds waited before it, settling included
  int64_t frames = 0, events = 0;
  uint64_t dropped = 0;
  int not_live = 0;
  double cpu_cores = 0;  // process CPU seconds per wall second
  double rss_mb = 0, base_rss_mb = 0;
  Latency frame_latency, event_latency;
  std::vector<std::array<double, 2>> rss_curve;  // soak: [seconds, MB]

  double fps_per_stream() const { return frames / seconds / streams; }
  double cpu_per_stream() const { return cpu_cores / streams; }
  double rss_per_stream() const { return (rss_mb - base_rss_mb) / streams; }
};

nlohmann::ordered_json latency_json(const Latency& l) {
  return {{"count", l.count}, {"p50", rounded(l.p50_ms)}, {"p99", rounded(l.p99_ms)}};
}

nlohmann::ordered_json window_json(const Window& w) {
  nlohmann::ordered_json j{{"kind", w.kind},
                           {"streams", w.streams},
                           {"seconds", rounded(w.seconds, 3)},
                           {"held", w.held}};
  if (!w.reason.empty()) j["reason"] = w.reason;
  j["warmup_s"] = rounded(w.warmup, 3);
  j["frames"] = w.frames;
  j["fps_per_stream"] = rounded(w.fps_per_stream());
  j["dropped"] = w.dropped;
  j["not_live"] = w.not_live;
  j["events"] = w.events;
  j["cpu_cores"] = rounded(w.cpu_cores);
  j["cpu_cores_per_stream"] = rounded(w.cpu_per_stream());
  j["rss_mb"] = rounded(w.rss_mb, 2);
  j["base_rss_mb"] = rounded(w.base_rss_mb, 2);
  j["rss_mb_per_stream"] = rounded(w.rss_per_stream());
  j["frame_latency_ms"] = latency_json(w.frame_latency);
  j["event_latency_ms"] = latency_json(w.event_latency);
  return j;
}

// ---- The bench ----

struct Ramp {
  std::string name;  // decode or the pipeline
  int max = 0;       // highest count that held a --hold window; 0 when none did
  std::optional<Window> at_max, at_80;
  std::vector<Window> steps;  // every window, in order
};

class Bench {
 public:
  Bench(Engine& engine, const StreamsArgs& a, const Clip& clip)
      : engine_(engine), a_(a), clip_(clip) {}

  // The highest count of `run` that holds, searched from `start` growing by `growth` until a
  // window fails, then bisected, then confirmed with a --hold window (stepping down until one
  // holds); and a --hold window at 80% of it when `at_80`.
  Result<Ramp> ramp(const std::string& run, int start, double growth, bool at_80) {
    Ramp r{.name = run};
    if (Status s = reset(); !s) return s;
    const int top = a_.max_streams;
    int lo = 0, hi = top + 1;  // lo held (0: none yet), hi failed (top + 1: none yet)
    int n = std::clamp(start, 1, top);
    std::map<int, Window> holds;  // counts whose window lasted --hold and held
    while (hi - lo > 1) {
      auto w = window(run, n, "probe", a_.probe, true);
      if (!w.ok()) return w.status();
      r.steps.push_back(*w);
      (w->held ? lo : hi) = n;
      if (w->held && w->seconds >= a_.hold) holds[n] = *w;
      n = hi > top ? std::min(top, std::max(lo + 1, static_cast<int>(std::ceil(lo * growth))))
                   : (lo + hi) / 2;
    }
    while (lo > 0) {
      if (auto it = holds.find(lo); it != holds.end()) {
        r.at_max = it->second;
        break;
      }
      auto w = window(run, lo, "hold", a_.hold, true);
      if (!w.ok()) return w.status();
      r.steps.push_back(*w);
      if (w->held) {
        r.at_max = *w;
        break;
      }
      lo -= std::max(1, lo / 10);
    }
    r.max = r.at_max ? lo : 0;
    const int n80 = static_cast<int>(std::lround(0.8 * r.max));
    if (at_80 && n80 > 0) {
      if (n80 == r.max) {
        r.at_80 = r.at_max;
      } else {
        auto w = window(run, n80, "hold", a_.hold, false);
        if (!w.ok()) return w.status();
        r.steps.push_back(*w);
        r.at_80 = *w;
      }
    }
    return r;
  }

  // `n` streams of `run` for `seconds`, RSS sampled every 10 s.
  Result<Window> soak(const std::string& run, int n) {
    if (Status s = reset(); !s) return s;
    return window(run, n, "soak", a_.soak, false);
  }

 private:
  // No streams, memory handed back to the system, and the RSS that per-stream figures start from.
  Status reset() {
    if (Status s = set_count("", 0); !s) return s;
    sleep_s(std::min(1.0, a_.warmup));
    base_rss_mb_ = rss_mb();
    return Status();
  }

  StreamSpec spec(const std::string& run, int i) const {
    StreamSpec s;
    s.name = run + "-" + std::to_string(i);
    s.url = clip_.path;
    s.emulate_live = true;
    s.detect_interval = a_.detect_interval;
    if (run == kDecode) {
      // A stream always has a detector; one that runs on the first frame only leaves decoding.
      s.detector = detect::MotionSpec{};
      s.detect_interval = std::numeric_limits<int>::max();
      return s;
    }
    if (run == "motion") {
      s.detector = detect::MotionSpec{};
    } else {
      s.gate = pipeline::MotionGate{};
      if (run == "hog") {
        s.detector = detect::HogSpec{};
      } else {
        s.detector = detect::DnnSpec{.model = "blazeface"};
      }
    }
    s.tracker = track::SortSpec{};
    // A zone over the plaza where people walk and a line across the whole street, in fractions
    // of the frame (the synthetic street's layout).
    rules::ZoneSpec zone;
    zone.common.name = "plaza";
    zone.common.normalized = true;
    zone.polygon = {{0.05, 0.55}, {0.95, 0.55}, {0.95, 0.98}, {0.05, 0.98}};
    rules::LineSpec line;
    line.common.name = "middle";
    line.common.normalized = true;
    line.a = {0.5, 0.2};
    line.b = {0.5, 1.0};
    line.margin = 0.005;
    s.rules = {zone, line};
    return s;
  }

  // Adds or removes streams (the newest go first) until `n` of `run` run. New streams start
  // spread over one GOP, so that they do not decode their key frames in step.
  Status set_count(const std::string& run, int n) {
    while (static_cast<int>(names_.size()) > n) {
      if (Status s = engine_.remove_stream(names_.back()); !s) return s;
      names_.pop_back();
    }
    const int adding = n - static_cast<int>(names_.size());
    const double gop = clip_.seconds / std::max(1, clip_.key_frames);
    for (int k = 0; k < adding; ++k) {
      StreamSpec s = spec(run, next_id_++);
      if (Status st = engine_.add_stream(s); !st) return st;
      names_.push_back(s.name);
      sleep_s(gop / adding);
    }
    return Status();
  }

  // Waits --warmup seconds, then until the `n` streams have settled: half a second with no drop
  // and no more frames than are due (streams that fell behind in a failed window catch up by
  // delivering more), for at most kSettleMax seconds more. Returns the seconds waited.
  double settle(int n) {
    const Clock::time_point t0 = Clock::now();
    sleep_s(a_.warmup);
    Reading before = read_engine(engine_);
    while (since(t0) < a_.warmup + kSettleMax) {
      sleep_s(kSettleStep);
      const Reading now = read_engine(engine_);
      const double dt = std::chrono::duration<double>(now.at - before.at).count();
      const bool calm = now.dropped == before.dropped &&
                        now.frames - before.frames <= 1.05 * kClipFps * n * dt + n;
      before = now;
      if (calm) break;
    }
    return since(t0);
  }

  // Runs `n` streams of `run` until they settle, then measures `seconds` of them. With
  // `fail_fast`, the window ends at the first dropped frame or stream that is not live.
  Result<Window> window(const std::string& run, int n, const std::string& kind, double seconds,
                        bool fail_fast) {
    if (Status s = set_count(run, n); !s) return s;
    Window w{.kind = kind, .streams = n, .base_rss_mb = base_rss_mb_};
    w.warmup = settle(n);
    const Reading start = read_engine(engine_);
    Reading now = start;
    double next_sample = 0;
    for (;;) {
      const double t = since(start.at);
      if (kind == "soak" && t >= next_sample) {
        w.rss_curve.push_back({rounded(t, 2), rounded(rss_mb(), 2)});
        next_sample += kSoakSample;
        std::fprintf(stderr,
                     "iris bench streams: %s: soak %.0f/%.0f s: rss %.0f MB, %llu dropped\n",
                     run.c_str(), t, seconds, w.rss_curve.back()[1],
                     static_cast<unsigned long long>(now.dropped - start.dropped));
      }
      if (t >= seconds) break;
      sleep_s(std::min({kPoll, seconds - t, kind == "soak" ? next_sample - t : kPoll}));
      now = read_engine(engine_);
      if (fail_fast && (now.dropped > start.dropped || !now.not_live.empty())) break;
    }
    now = read_engine(engine_);
    w.rss_mb = rss_mb();
    if (kind == "soak" && w.rss_curve.back()[0] < since(start.at) - 0.5) {
      w.rss_curve.push_back({rounded(since(start.at), 2), rounded(w.rss_mb, 2)});
    }
    w.seconds = std::chrono::duration<double>(now.at - start.at).count();
    w.frames = now.frames - start.frames;
    w.events = now.events - start.events;
    w.dropped = now.dropped - start.dropped;
    w.not_live = static_cast<int>(now.not_live.size());
    w.cpu_cores = (now.cpu - start.cpu) / w.seconds;
    w.frame_latency = latency_between(start.frame_latency, now.frame_latency);
    w.event_latency = latency_between(start.event_latency, now.event_latency);
    const double due = kClipFps * w.seconds * n;
    if (w.dropped > 0) {
      w.reason = std::to_string(w.dropped) + " frames dropped";
    } else if (!now.not_live.empty()) {
      w.reason =
          std::to_string(now.not_live.size()) + " streams not live, first " + now.not_live.front();
    } else if (w.frames < kDelivered * due - 2.0 * n) {
      w.reason = "only " + std::to_string(w.frames) + " of " + std::to_string(std::lround(due)) +
                 " frames due were processed";
    }
    w.held = w.reason.empty();
    progress(run, w);
    return w;
  }

  void progress(const std::string& run, const Window& w) const {
    std::fprintf(stderr,
                 "iris bench streams: %s: %d streams, warm-up %.0f s, %s %.0f s: %.2f fps/stream, "
                 "%llu dropped, "
                 "cpu %.2f cores (%.4f/stream), rss %.0f MB (%+.1f MB/stream), p99 frame %.1f ms "
                 "event %.1f ms, load %.2f: %s\n",
                 run.c_str(), w.streams, w.warmup, w.kind.c_str(), w.seconds, w.fps_per_stream(),
                 static_cast<unsigned long long>(w.dropped), w.cpu_cores, w.cpu_per_stream(),
                 w.rss_mb, w.rss_per_stream(), w.frame_latency.p99_ms, w.event_latency.p99_ms,
                 load_average()[0], w.held ? "held" : ("failed: " + w.reason).c_str());
  }

  Engine& engine_;
  const StreamsArgs& a_;
  const Clip& clip_;
  std::vector<std::string> names_;  // running streams, in the order added
  int next_id_ = 1;                 // stream names are never reused
  double base_rss_mb_ = 0;
};

// ---- Output ----

struct Report {
  std::optional<Ramp> decode, pipeline;  // pipeline unset for --pipeline decode
  std::optional<Window> soak;

  // The ramps that ran, decode first.
  std::vector<const Ramp*> ramps() const {
    std::vector<const Ramp*> out;
    for (const auto* r : {&decode, &pipeline}) {
      if (*r) out.push_back(&**r);
    }
    return out;
  }
};

// The ramp of the chosen pipeline: decode's own when the pipeline is decode.
const Ramp* chosen(const Report& r) {
  return r.pipeline ? &*r.pipeline : r.decode ? &*r.decode : nullptr;
}

// What the machine's cores would hold if CPU were the only limit and nothing else ran: a
// projection from the cost per stream at the max, for machines shared with other work, where
// the measured count is what was left over.
std::optional<double> projected_max(const Ramp& r) {
  if (!r.at_max || r.at_max->cpu_per_stream() <= 0) return std::nullopt;
  return std::floor(cores() / r.at_max->cpu_per_stream());
}

nlohmann::ordered_json or_null(std::optional<double> v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
}

nlohmann::ordered_json ramp_json(const Ramp& r) {
  nlohmann::ordered_json j{{"max", r.max}};
  j["projected_max"] = or_null(projected_max(r));
  j["at_max"] = r.at_max ? window_json(*r.at_max) : nlohmann::ordered_json();
  j["at_80pct"] = r.at_80 ? window_json(*r.at_80) : nlohmann::ordered_json();
  j["steps"] = nlohmann::ordered_json::array();
  for (const Window& w : r.steps) j["steps"].push_back(window_json(w));
  return j;
}

nlohmann::ordered_json soak_json(const Window& w) {
  nlohmann::ordered_json j = window_json(w);
  j["rss_curve"] = w.rss_curve;
  // RSS one minute in (the first sample at or after 60 s) against the last sample.
  const auto at_1min = std::ranges::find_if(w.rss_curve, [](const auto& p) { return p[0] >= 60; });
  if (at_1min != w.rss_curve.end() && at_1min + 1 < w.rss_curve.end()) {
    const double end = w.rss_curve.back()[1];
    j["rss_mb_at_1min"] = (*at_1min)[1];
    j["rss_mb_at_end"] = end;
    j["rss_end_over_1min"] = rounded(end / (*at_1min)[1]);
  } else {
    j["rss_mb_at_1min"] = nullptr;  // the soak was too short to tell
    j["rss_mb_at_end"] = w.rss_curve.back()[1];
    j["rss_end_over_1min"] = nullptr;
  }
  return j;
}

nlohmann::ordered_json machine_json(const std::vector<double>& load_start) {
  return {{"cpu", cpu_model()},
          {"cores", cores()},
          {"load_avg_start", load_start},
          {"load_avg_end", load_average()}};
}

void print_json(const StreamsArgs& a, const Clip& clip, const Report& r,
                const std::vector<double>& load_start) {
  nlohmann::ordered_json j;
  j["machine"] = machine_json(load_start);
  j["clip"] = {{"path", clip.path},
               {"width", kClipWidth},
               {"height", kClipHeight},
               {"fps", kClipFps},
               {"seconds", clip.seconds},
               {"kbps", rounded(clip.kbps, 1)},
               {"gop_s", rounded(clip.seconds / std::max(1, clip.key_frames), 2)}};
  j["pipeline"] = a.pipeline;
  j["detect_interval"] = a.pipeline == kDecode ? 0 : a.detect_interval;
  j["settings"] = {{"hold_s", a.hold},
                   {"probe_s", a.probe},
                   {"warmup_s", a.warmup},
                   {"max_streams", a.max_streams},
                   {"engine_threads", a.threads}};
  const Ramp* p = chosen(r);
  const auto max_or_null = [](const std::optional<Ramp>& x) {
    return x ? nlohmann::ordered_json(x->max) : nlohmann::ordered_json();
  };
  j["decode_max"] = max_or_null(r.decode);
  j["pipeline_max"] = p ? nlohmann::ordered_json(p->max) : nlohmann::ordered_json();
  j["ratio"] = r.decode && p && r.decode->max > 0
                   ? nlohmann::ordered_json(rounded(static_cast<double>(p->max) / r.decode->max))
                   : nlohmann::ordered_json();
  const Window* at_max = p && p->at_max ? &*p->at_max : nullptr;
  // The ratio the counts would have if CPU were the only limit: decode's cost over the
  // pipeline's, each per stream at its max.
  j["cpu_ratio"] = r.decode && r.decode->at_max && at_max && at_max->cpu_per_stream() > 0
                       ? nlohmann::ordered_json(
                             rounded(r.decode->at_max->cpu_per_stream() / at_max->cpu_per_stream()))
                       : nlohmann::ordered_json();
  j["cpu_cores_per_stream"] =
      at_max ? nlohmann::ordered_json(rounded(at_max->cpu_per_stream())) : nlohmann::ordered_json();
  j["rss_mb_per_stream"] =
      at_max ? nlohmann::ordered_json(rounded(at_max->rss_per_stream())) : nlohmann::ordered_json();
  nlohmann::ordered_json lat;
  for (const auto& [key, w] :
       {std::pair{"at_max", at_max}, std::pair{"at_80pct", p && p->at_80 ? &*p->at_80 : nullptr}}) {
    lat[key] = w ? nlohmann::ordered_json{{"streams", w->streams},
                                          {"frame", latency_json(w->frame_latency)},
                                          {"event", latency_json(w->event_latency)}}
                 : nlohmann::ordered_json();
  }
  j["latency_ms"] = lat;
  j["runs"] = nlohmann::ordered_json::object();
  for (const Ramp* ramp : r.ramps()) j["runs"][ramp->name] = ramp_json(*ramp);
  j["soak"] = r.soak ? soak_json(*r.soak) : nlohmann::ordered_json();
  std::printf("%s\n", j.dump(2).c_str());
}

void print_table(const StreamsArgs& a, const Clip& clip, const Report& r,
                 const std::vector<double>& load_start) {
  const std::vector<std::string> head = {"run",          "streams",       "fps/stream",
                                         "cpu/stream",   "rss MB/stream", "frame p50 ms",
                                         "frame p99 ms", "event p50 ms",  "event p99 ms"};
  std::vector<std::vector<std::string>> rows;
  auto add = [&](const std::string& label, const std::optional<Window>& w) {
    if (!w) return;
    rows.push_back({label, std::to_string(w->streams), fixed(w->fps_per_stream(), 2),
                    fixed(w->cpu_per_stream(), 4), fixed(w->rss_per_stream(), 1),
                    fixed(w->frame_latency.p50_ms, 2), fixed(w->frame_latency.p99_ms, 2),
                    fixed(w->event_latency.p50_ms, 2), fixed(w->event_latency.p99_ms, 2)});
  };
  for (const Ramp* ramp : r.ramps()) {
    if (!ramp->at_max) rows.push_back({ramp->name + " max", "0", "", "", "", "", "", "", ""});
    add(ramp->name + " max", ramp->at_max);
    add(ramp->name + " 80%", ramp->at_80);
  }
  add(a.pipeline + " soak", r.soak);
  print_markdown_table(head, rows, 1);
  const Ramp* p = chosen(r);
  if (r.decode && r.pipeline && r.decode->max > 0) {
    std::printf("\n%s max / decode max: %d / %d = %.3f\n", a.pipeline.c_str(), p->max,
                r.decode->max, static_cast<double>(p->max) / r.decode->max);
  }
  for (const Ramp* ramp : r.ramps()) {
    if (const auto projected = projected_max(*ramp)) {
      std::printf("%s: %.0f streams projected for %u idle cores at %.4f cores per stream\n",
                  ramp->name.c_str(), *projected, cores(), ramp->at_max->cpu_per_stream());
    }
  }
  if (r.soak) {
    const auto j = soak_json(*r.soak);
    std::printf("soak: %.0f s at %d streams, %llu dropped, RSS MB", r.soak->seconds,
                r.soak->streams, static_cast<unsigned long long>(r.soak->dropped));
    for (const auto& p : r.soak->rss_curve) std::printf(" %.0fs:%.0f", p[0], p[1]);
    if (!j["rss_end_over_1min"].is_null()) {
      std::printf("; end / 1 min: %.4f", j["rss_end_over_1min"].get<double>());
    }
    std::printf("\n");
  }
  std::printf(
      "\nclip: %s (%dx%d, %g fps, %g s, GOP %.2f s, %.0f kbit/s); cpu/stream: process cores per "
      "stream; rss: "
      "(RSS - RSS without streams) / streams; windows: hold %g s, probe %g s, warm-up %g s\n",
      clip.path.c_str(), kClipWidth, kClipHeight, kClipFps, clip.seconds,
      clip.seconds / std::max(1, clip.key_frames), clip.kbps, a.hold, a.probe, a.warmup);
  const auto load_end = load_average();
  std::printf("host: %s, %u cores, load average %.2f at start, %.2f at end\n", cpu_model().c_str(),
              cores(), load_start[0], load_end[0]);
}

}  // namespace

int bench_streams_main(const Args& args) {
  const auto a = parse(args);
  if (!a) return 2;
  // A line per camera going live or stalling would bury the progress; the windows report drops
  // and streams that are not live themselves.
  log::set_level(log::Level::kError);
  const std::vector<double> load_start = load_average();
  if (load_start[0] > 0.5 * cores()) {
    std::fprintf(stderr,
                 "iris bench streams: warning: the machine is busy (load average %.2f on %u "
                 "cores); the counts will be lower than an idle machine's\n",
                 load_start[0], cores());
  }
  pipeline::PipelineSpec spec;
  if (a->pipeline == "blazeface") {
    std::error_code ec;
    if (!std::filesystem::exists(a->model, ec)) {
      std::fprintf(stderr,
                   "iris bench streams: no BlazeFace model at '%s'; fix: run "
                   "scripts/fetch_models.sh from the source tree, or pass --model PATH\n",
                   a->model.c_str());
      return 2;
    }
    // As configs/faces.yaml feeds it: NHWC, RGB, values in [-1, 1], aspect kept.
    infer::ModelSpec m;
    m.name = "blazeface";
    m.path = a->model;
    m.layout = infer::Layout::kNHWC;
    m.rgb = true;
    m.scale = 1.0 / 127.5;
    m.mean = {1, 1, 1};
    m.resize = infer::Resize::kLetterbox;
    m.decoder = "blazeface";
    m.class_names = {"face"};
    m.score_threshold = 0.5f;
    m.nms_iou = 0.3f;
    spec.models.push_back(m);
  }
  const auto clip = ensure_clip(*a);
  if (!clip.ok()) {
    std::fprintf(stderr, "iris bench streams: %s\n", clip.status().message().c_str());
    return 1;
  }
  auto engine = Engine::create(spec, {.threads = a->threads});
  if (!engine.ok()) {
    std::fprintf(stderr, "iris bench streams: %s\n", engine.status().message().c_str());
    return 1;
  }
  (*engine)->start();

  Report r;
  Status failed;
  Bench bench(**engine, *a, *clip);
  if (a->streams == 0) {
    auto decode = bench.ramp(kDecode, a->start > 0 ? a->start : 8, 2.0, a->pipeline == kDecode);
    if (!decode.ok()) failed = decode.status();
    if (decode.ok()) r.decode = *decode;
    if (failed.ok() && a->pipeline != kDecode) {
      // Close to decode's count is where the pipeline should land: start below it, grow slowly.
      const int hint = std::max(1, static_cast<int>(std::lround(0.8 * r.decode->max)));
      auto run = bench.ramp(a->pipeline, a->start > 0 ? a->start : hint, 1.25, true);
      if (!run.ok()) failed = run.status();
      if (run.ok()) r.pipeline = *run;
    }
  }
  if (failed.ok() && a->soak > 0) {
    const int n = a->streams > 0 ? a->streams
                                 : std::max(1, static_cast<int>(std::lround(0.8 * chosen(r)->max)));
    auto soak = bench.soak(a->pipeline, n);
    if (!soak.ok()) failed = soak.status();
    if (soak.ok()) r.soak = *soak;
  }
  (*engine)->request_stop();
  (*engine)->wait_for(std::chrono::seconds(30));
  if (!failed.ok()) {
    std::fprintf(stderr, "iris bench streams: %s\n", failed.message().c_str());
    return 1;
  }
  if (a->json) {
    print_json(*a, *clip, r, load_start);
  } else {
    print_table(*a, *clip, r, load_start);
  }
  return 0;
}

}  // namespace iris::app
