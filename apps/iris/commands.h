// The iris subcommands. Each takes the arguments after its name and returns the exit code.
#pragma once

#include <cstdint>
#include <functional>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace iris::app {

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;  // one line for `iris --help`
  const char* usage;    // full text for `iris help <command>`
  int (*run)(const Args& args);
};

int run_main(const Args& args);
int validate_main(const Args& args);
int eval_main(const Args& args);
int synth_main(const Args& args);
int bench_main(const Args& args);
int bench_streams_main(const Args& args);   // `iris bench streams`, dispatched by bench_main
int eval_precision_main(const Args& args);  // `iris eval precision`, dispatched by eval_main
int profile_main(const Args& args);
int quantize_main(const Args& args);
int serve_main(const Args& args);

// Shared by the subcommands (defined in run.cc and cli.cc).
// SIGINT and SIGTERM ask the command to stop (stop_requested() turns true); a second one exits.
void catch_stop_signals();
bool stop_requested();

// Option values: a whole number in [lo, hi]; "640x480" with each side in [1, 16384] (what
// kInputSizeWant says to the user).
std::optional<int> int_in_range(std::string_view text, int lo, int hi);
bool parse_input_size(std::string_view text, int* width, int* height);
inline constexpr const char* kInputSizeWant = "size WxH such as 640x480 (sides from 1 to 16384)";
// "fp32,bf16": runtime precisions, in order, each once; nullopt when a field is not one (what
// kPrecisionsWant says to the user).
std::optional<std::vector<std::string>> parse_precisions(std::string_view text);
inline constexpr const char* kPrecisionsWant =
    "comma-separated list of precisions (fp32, bf16, int8), such as fp32,bf16";

// Stores a flag's value and returns what the value must be when it is not that ("whole number
// from 1 to 256"), "" when it is; nullopt for a flag the command does not have.
using OptionReader =
    std::function<std::optional<std::string>(const std::string& flag, const std::string& value)>;
// Reads the arguments of `command` ("iris bench"): --json sets *json; with `model`, the one
// argument not starting with "--" is MODEL; every other flag takes the next argument as its
// value, handed to `option`. Prints the problem (with `usage` where it helps) and returns false
// when the arguments are wrong.
bool read_options(const char* command, const char* usage, const Args& args, std::string* model,
                  bool* json, const OptionReader& option);

// Where an image input keeps its channels, height and width: [N, C, H, W], or [N, H, W, C] when
// the last axis holds 3 channels and the second does not.
struct ImageAxes {
  size_t c, h, w;
};
ImageAxes image_axes(const std::vector<int64_t>& shape);
// A model's input shape for a batch of `batch`; for an image, a free channel axis is 3 and the
// sides are `width` x `height` when given (> 0), fixed or not (whoever runs it refuses a size the
// model does not take). Other free dimensions stay -1.
std::vector<int64_t> image_shape(std::vector<int64_t> shape, int64_t batch, int width, int height);

// The pictures a command runs on, chosen before any is decoded so that progress can count them:
// images of a directory (.jpg, .jpeg, .png, .bmp; sorted by name) or frames of a video.
struct PictureSet {
  std::string dir;                 // images: the directory
  std::vector<std::string> files;  // images: names in `dir`, in order
  std::string video;               // frames: the clip
  std::vector<int64_t> frames;     // frames: indices (from 0), ascending
  int64_t clip_frames = 0;         // frames: the clip's frame count (it is decoded to count)
  size_t size() const { return files.empty() ? frames.size() : files.size(); }
};
// `count` images of `dir`, or `count` frames of `video` (exactly one of them given), spread
// evenly with the first included; every one when `count` is 0 or more than there are. Errors name
// the path and the fix.
Result<PictureSet> choose_pictures(const std::string& dir, const std::string& video, int64_t count);
// Calls `use(name, index, bgr)` for every picture in order: an image's file name and position,
// or "CLIP#N" and the frame index N.
Status for_each_picture(
    const PictureSet& set,
    const std::function<Status(const std::string& name, int64_t index, const cv::Mat& bgr)>& use);

// Reports: the CPU's model name from /proc/cpuinfo; `v` to `decimals` places, so that JSON shows
// 2.01 rather than 2.0100000000000002; `v` with exactly `decimals` places, for tables.
std::string cpu_model();
double rounded(double v, int decimals = 4);
std::string fixed(double v, int decimals);
// The nearest-rank percentile `p` of `sorted` (ascending, not empty), so that p50 <= p90 <= p99
// are all measured values.
double percentile(const std::vector<double>& sorted, double p);
// A markdown table on stdout, each column as wide as its widest cell: the first `text_columns`
// left-aligned, the rest (numbers) right-aligned, as markdown renders them.
void print_markdown_table(const std::vector<std::string>& head,
                          const std::vector<std::vector<std::string>>& rows, size_t text_columns);

extern const char kRunUsage[];
extern const char kValidateUsage[];
extern const char kEvalUsage[];
extern const char kSynthUsage[];
extern const char kBenchUsage[];
extern const char kBenchStreamsUsage[];
extern const char kProfileUsage[];
extern const char kQuantizeUsage[];
extern const char kServeUsage[];

}  // namespace iris::app
