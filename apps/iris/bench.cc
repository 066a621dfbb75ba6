// iris bench model: llama-bench for one model. Times raw inference (random input, no pre- or
// post-processing) through the Backend/Context API for every precision x batch size x thread
// count.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "apps/iris/commands.h"
#include "core/text.h"
#include "infer/backend.h"

namespace iris::app {

const char kBenchUsage[] =
    "usage: iris bench model MODEL [--backend NAME] [--precision fp32,bf16] [--batch 1,4]\n"
    "                              [--threads 1,2] [--repeat N] [--warmup N] [--input WxH]\n"
    "                              [--json]\n"
    "       iris bench streams [--pipeline decode|motion|hog|blazeface] [--soak S] [--json] ...\n"
    "       (how many live 720p cameras this machine holds; `iris bench streams --help`)\n\n"
    "Times raw inference of MODEL (an .onnx file) on random input, without pre- or\n"
    "post-processing, for every combination of precision, batch size and thread count, in the\n"
    "manner of llama-bench. Each combination gets a fresh context, --warmup untimed runs, then\n"
    "--repeat timed runs. Latency is per batch (p50, p90, p99 in ms); throughput is samples per\n"
    "second. A thread count is OpenCV's (cv::setNumThreads), which is process-wide. A model with\n"
    "a fixed batch of 1 reports n/a for larger batches. Output fields: docs/bench.md.\n\n"
    "options:\n"
    "  --backend NAME    inference backend (default opencv)\n"
    "  --precision LIST  what the convolutions run in, comma-separated: fp32, bf16, int8\n"
    "                    (--backend iris only; default: the file's own, that is its\n"
    "                    `iris quantize` calibration's, else fp32); int8 needs a calibrated file\n"
    "  --batch LIST      batch sizes, comma-separated, 1 to 1024 (default 1)\n"
    "  --threads LIST    thread counts, comma-separated, 1 to 256 (default: OpenCV's, one per\n"
    "                    core)\n"
    "  --repeat N        timed runs per combination (default 20)\n"
    "  --warmup N        untimed runs before them (default 3)\n"
    "  --input WxH       input width and height, for models that leave them free\n"
    "  --json            one JSON document instead of the table\n\n"
    "Progress goes to stderr when stdout is a terminal or the run takes a while.\n"
    "Exit status: 0 when every combination ran or is n/a, 1 when the model failed to load or\n"
    "run, 2 for bad arguments.\n";

namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string model;
  std::string backend = "opencv";
  std::vector<std::string> precisions;  // empty: the model's own
  std::vector<int> batches{1};
  std::vector<int> threads;  // empty: OpenCV's default
  int repeat = 20;
  int warmup = 3;
  int input_width = 0;  // 0: from the model
  int input_height = 0;
  bool json = false;
};

// "1,4,8" -> {1, 4, 8}, each in [lo, hi].
std::optional<std::vector<int>> parse_list(const std::string& text, int lo, int hi) {
  std::vector<int> out;
  for (std::string_view field : split_fields(text)) {
    const auto v = int_in_range(field, lo, hi);
    if (!v) return std::nullopt;
    out.push_back(*v);
  }
  return out;
}

// Prints the problem and returns nullopt when the arguments are wrong.
std::optional<BenchArgs> parse(const Args& args) {
  if (args.empty() || args[0] != "model") {
    std::fprintf(
        stderr, "iris bench: %s; fix: iris bench model MODEL, or iris bench streams\n\n%s",
        args.empty() ? "needs what to benchmark" : ("unknown target '" + args[0] + "'").c_str(),
        kBenchUsage);
    return std::nullopt;
  }
  BenchArgs a;
  const auto option = [&a](const std::string& flag,
                           const std::string& value) -> std::optional<std::string> {
    if (flag == "--backend") {
      a.backend = value;
      return value.empty() ? "backend name such as opencv" : "";
    }
    if (flag == "--precision") {
      auto precisions = parse_precisions(value);
      if (!precisions) return kPrecisionsWant;
      a.precisions = std::move(*precisions);
      return "";
    }
    if (flag == "--batch" || flag == "--threads") {
      const bool batch = flag == "--batch";
      if (const auto v = parse_list(value, 1, batch ? 1024 : 256)) {
        (batch ? a.batches : a.threads) = *v;
        return "";
      }
      return batch ? "comma-separated list of batch sizes from 1 to 1024, such as 1,4"
                   : "comma-separated list of thread counts from 1 to 256, such as 1,2";
    }
    if (flag == "--repeat" || flag == "--warmup") {
      const bool repeat = flag == "--repeat";
      if (const auto v = int_in_range(value, repeat ? 1 : 0, 1000000)) {
        (repeat ? a.repeat : a.warmup) = *v;
        return "";
      }
      return repeat ? "number of runs from 1 to 1000000" : "number of runs from 0 to 1000000";
    }
    if (flag == "--input") {
      return parse_input_size(value, &a.input_width, &a.input_height) ? "" : kInputSizeWant;
    }
    return std::nullopt;
  };
  if (!read_options("iris bench", kBenchUsage, {args.begin() + 1, args.end()}, &a.model, &a.json,
                    option)) {
    return std::nullopt;
  }
  if (a.model.empty()) {
    std::fprintf(stderr, "iris bench model: needs MODEL, an .onnx file\n\n%s", kBenchUsage);
    return std::nullopt;
  }
  if (!a.precisions.empty() && a.backend != "iris") {
    std::fprintf(stderr,
                 "iris bench: --precision applies to --backend iris, and backend %s computes in "
                 "fp32; fix: add --backend iris, or drop --precision\n",
                 a.backend.c_str());
    return std::nullopt;
  }
  if (a.threads.empty()) a.threads = {cv::getNumThreads()};
  return a;
}

// The input of a batch of one with every dimension known: free image sides come from --input, a
// free channel axis is 3. Sets *usage when the arguments are at fault (exit 2), not the model.
Result<std::vector<int64_t>> sample_shape(const infer::TensorInfo& in, const BenchArgs& a,
                                          bool* usage) {
  const auto& s = in.shape;
  const std::string what = "input '" + in.name + "' " + infer::shape_string(s);
  *usage = false;
  if (s.empty()) {
    return Status::error("input '" + in.name +
                         "' declares no shape; fix: re-export the model with its input shape");
  }
  const bool image = s.size() == 4;
  const auto [c, h, w] = image_axes(s);
  const std::vector<int64_t> shape = image_shape(s, 1, a.input_width, a.input_height);
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] < 0 && !(image && (i == c || i == h || i == w))) {
      return Status::error(what + " leaves dimension " + std::to_string(i) +
                           " free; bench fills in only the batch and an image's width and "
                           "height; fix: re-export the model with that dimension fixed");
    }
  }
  *usage = true;
  if (!image) {
    if (a.input_width == 0) return shape;
    return Status::error("--input applies to image inputs ([N, C, H, W] or [N, H, W, C]), and " +
                         what + " is not one; fix: drop --input");
  }
  if (a.input_width == 0) {
    if (s[h] > 0 && s[w] > 0) return shape;
    return Status::error(what +
                         " leaves its width and height free; fix: pass --input WxH, the size "
                         "the model was trained at");
  }
  if ((s[w] > 0 && s[w] != a.input_width) || (s[h] > 0 && s[h] != a.input_height)) {
    return Status::error(what + " has a fixed size of " + std::to_string(s[w]) + "x" +
                         std::to_string(s[h]) + " but --input asks for " +
                         std::to_string(a.input_width) + "x" + std::to_string(a.input_height) +
                         "; fix: drop --input");
  }
  return shape;
}

struct Row {
  std::string precision;  // what the convolutions ran in (ModelInfo::precision)
  int batch = 0;
  int threads = 0;
  std::string status;  // "ok", "n/a" (the model cannot take the batch) or "error"
  std::string reason;  // why, when not ok
  std::vector<int64_t> input_shape;
  std::vector<double> ms;  // latency per batch, sorted
};

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / v.size();
}

double samples_per_s(const Row& r) { return r.batch * 1000.0 / mean(r.ms); }

// Progress on stderr, shown when stdout is a terminal (someone is watching) or once the run has
// taken a while. On a terminal it is one line rewritten in place, otherwise a line per row.
class Progress {
 public:
  Progress()
      : start_(Clock::now()),
        watching_(isatty(STDOUT_FILENO) == 1),
        tty_(isatty(STDERR_FILENO) == 1) {}
  ~Progress() {
    if (shown_ && tty_) std::fprintf(stderr, "\r\033[K");
  }

  void update(const std::string& row, int run, int runs) {
    const auto now = Clock::now();
    if (!watching_ && now - start_ < std::chrono::seconds(2)) return;
    if (tty_) {
      if (run > 0 && run + 1 < runs && now - last_ < std::chrono::milliseconds(100)) return;
      last_ = now;
      std::fprintf(stderr, "\r\033[Kiris bench: %s: run %d/%d", row.c_str(), run + 1, runs);
    } else if (row != last_row_) {
      std::fprintf(stderr, "iris bench: %s\n", row.c_str());
    }
    last_row_ = row;
    shown_ = true;
  }

 private:
  const Clock::time_point start_;
  const bool watching_;
  const bool tty_;
  Clock::time_point last_;
  std::string last_row_;
  bool shown_ = false;
};

Row bench_row(const infer::LoadedModel& model, const std::vector<int64_t>& sample, int batch,
              int threads, const BenchArgs& a, const std::string& label, Progress& progress) {
  const infer::ModelInfo& info = model.info();
  Row row{.precision = info.precision, .batch = batch, .threads = threads};
  if (info.max_batch > 0 && batch > info.max_batch) {
    row.status = "n/a";
    row.reason = "the model has a fixed batch of " + std::to_string(info.max_batch) + " (input '" +
                 info.inputs[0].name + "' " + infer::shape_string(info.inputs[0].shape) + ")";
    return row;
  }
  cv::setNumThreads(threads);
  infer::Tensor input{.name = info.inputs[0].name, .shape = sample};
  input.shape[0] = batch;
  row.input_shape = input.shape;
  input.data.resize(input.element_count());
  std::mt19937 rng(batch);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (float& v : input.data) v = uniform(rng);

  // A fresh context per row, so that no row runs on buffers sized by the one before.
  auto context = model.new_context();
  if (!context.ok()) {
    row.status = "error";
    row.reason = context.status().message();
    return row;
  }
  const int runs = a.warmup + a.repeat;
  for (int i = 0; i < runs; ++i) {
    progress.update(label, i, runs);
    const auto t0 = Clock::now();
    auto out = (*context)->infer(input);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!out.ok()) {
      row.status = "error";
      row.reason = out.status().message();
      return row;
    }
    if (i >= a.warmup) row.ms.push_back(ms);
  }
  std::sort(row.ms.begin(), row.ms.end());
  row.status = "ok";
  return row;
}

nlohmann::ordered_json row_json(const Row& r) {
  nlohmann::ordered_json j{
      {"precision", r.precision}, {"batch", r.batch}, {"threads", r.threads}, {"status", r.status}};
  if (r.status != "ok") {
    j["reason"] = r.reason;
    return j;
  }
  j["input_shape"] = r.input_shape;
  j["runs"] = r.ms.size();
  j["p50_ms"] = rounded(percentile(r.ms, 50));
  j["p90_ms"] = rounded(percentile(r.ms, 90));
  j["p99_ms"] = rounded(percentile(r.ms, 99));
  j["mean_ms"] = rounded(mean(r.ms));
  j["min_ms"] = rounded(r.ms.front());
  j["max_ms"] = rounded(r.ms.back());
  j["samples_per_s"] = rounded(samples_per_s(r));
  return j;
}

constexpr char kThreadsScope[] = "process-wide OpenCV thread count (cv::setNumThreads)";

// OpenCV's thread pool (pthreads, TBB, OpenMP), as its build information names it.
std::string parallel_framework() {
  const std::string info = cv::getBuildInformation();
  const std::string key = "Parallel framework:";
  const size_t at = info.find(key);
  if (at == std::string::npos) return "unknown";
  const size_t start = info.find_first_not_of(' ', at + key.size());
  return info.substr(start, info.find('\n', start) - start);
}

void print_json(const BenchArgs& a, const infer::ModelInfo& info, const std::vector<Row>& rows) {
  nlohmann::ordered_json j;
  j["model"] = a.model;
  j["backend"] = a.backend;
  j["input"] = {{"name", info.inputs[0].name}, {"shape", info.inputs[0].shape}};
  j["max_batch"] = info.max_batch;
  j["host"] = {{"cpu", cpu_model()},
               {"cores", std::thread::hardware_concurrency()},
               {"opencv", CV_VERSION},
               {"parallel_framework", parallel_framework()}};
  j["threads"] = kThreadsScope;
  j["warmup"] = a.warmup;
  j["repeat"] = a.repeat;
  j["rows"] = nlohmann::ordered_json::array();
  for (const Row& r : rows) j["rows"].push_back(row_json(r));
  std::printf("%s\n", j.dump(2).c_str());
}

void print_table(const BenchArgs& a, const std::vector<Row>& rows) {
  const std::vector<std::string> head = {"model",  "backend", "precision", "batch",    "threads",
                                         "p50 ms", "p90 ms",  "p99 ms",    "samples/s"};
  std::vector<std::vector<std::string>> cells;
  const std::string model = std::filesystem::path(a.model).filename().string();
  for (const Row& r : rows) {
    std::vector<std::string> c = {model, a.backend, r.precision, std::to_string(r.batch),
                                  std::to_string(r.threads)};
    if (r.status == "ok") {
      for (double p : {50.0, 90.0, 99.0}) c.push_back(fixed(percentile(r.ms, p), 3));
      c.push_back(fixed(samples_per_s(r), 1));
    } else {
      c.insert(c.end(), 4, r.status);
    }
    cells.push_back(std::move(c));
  }
  print_markdown_table(head, cells, 3);
  std::printf("\nlatency: ms per batch over %d runs after %d warm-up runs; threads: %s\n", a.repeat,
              a.warmup, kThreadsScope);
  std::printf("host: %s, %u cores, OpenCV %s (%s)\n", cpu_model().c_str(),
              std::thread::hardware_concurrency(), CV_VERSION, parallel_framework().c_str());
  for (const Row& r : rows) {
    if (r.status == "ok") continue;
    std::printf("%s: %s, batch %d, threads %d: %s\n", r.status.c_str(), r.precision.c_str(),
                r.batch, r.threads, r.reason.c_str());
  }
}

}  // namespace

int bench_main(const Args& args) {
  if (!args.empty() && args[0] == "streams")
    return bench_streams_main({args.begin() + 1, args.end()});
  const auto a = parse(args);
  if (!a) return 2;
  auto backend = infer::make_backend(a->backend);
  if (!backend.ok()) {
    std::fprintf(stderr, "iris bench: --backend: %s\n", backend.status().message().c_str());
    return 2;
  }
  // One model per precision, all loaded before any timing, so that a precision the file cannot
  // run in fails at once.
  std::vector<std::shared_ptr<const infer::LoadedModel>> models;
  for (const std::string& precision :
       a->precisions.empty() ? std::vector<std::string>{""} : a->precisions) {
    infer::ModelSpec spec;
    spec.name = a->model;
    spec.path = a->model;
    spec.backend = a->backend;
    spec.precision = precision;
    auto loaded = (*backend)->load(spec);
    if (!loaded.ok()) {
      std::fprintf(stderr, "iris bench: %s\n", loaded.status().message().c_str());
      return 1;
    }
    models.push_back(std::move(*loaded));
  }
  const infer::ModelInfo& info = models.front()->info();
  bool usage = false;
  const auto sample = sample_shape(info.inputs[0], *a, &usage);
  if (!sample.ok()) {
    std::fprintf(stderr, "iris bench: model '%s': %s\n", a->model.c_str(),
                 sample.status().message().c_str());
    return usage ? 2 : 1;
  }

  std::vector<Row> rows;
  int failed = 0;
  {
    Progress progress;
    const size_t total = models.size() * a->batches.size() * a->threads.size();
    for (const auto& model : models) {
      for (int batch : a->batches) {
        for (int threads : a->threads) {
          const std::string label = model->info().precision + ", batch " + std::to_string(batch) +
                                    ", threads " + std::to_string(threads) + " (" +
                                    std::to_string(rows.size() + 1) + "/" + std::to_string(total) +
                                    ")";
          rows.push_back(bench_row(*model, *sample, batch, threads, *a, label, progress));
          failed += rows.back().status == "error";
        }
      }
    }
  }
  if (a->json) {
    print_json(*a, info, rows);
  } else {
    print_table(*a, rows);
  }
  if (failed > 0) {
    std::fprintf(stderr, "iris bench: %d of %zu combinations failed to run; see their reasons\n",
                 failed, rows.size());
    return 1;
  }
  return 0;
}

}  // namespace iris::app
