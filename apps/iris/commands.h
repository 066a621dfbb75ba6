// The iris subcommands. Each takes the arguments after its name and returns the exit code.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
int bench_streams_main(const Args& args);  // `iris bench streams`, dispatched by bench_main
int profile_main(const Args& args);
int serve_main(const Args& args);

// Shared by the subcommands (defined in run.cc and bench.cc).
// SIGINT and SIGTERM ask the command to stop (stop_requested() turns true); a second one exits.
void catch_stop_signals();
bool stop_requested();
// The CPU's model name from /proc/cpuinfo, for benchmark reports.
std::string cpu_model();
// Option values: a whole number in [lo, hi]; "640x480" with each side in [1, 16384] (what
// kInputSizeWant says to the user).
std::optional<int> int_in_range(std::string_view text, int lo, int hi);
bool parse_input_size(std::string_view text, int* width, int* height);
inline constexpr const char* kInputSizeWant = "size WxH such as 640x480 (sides from 1 to 16384)";

extern const char kRunUsage[];
extern const char kValidateUsage[];
extern const char kEvalUsage[];
extern const char kSynthUsage[];
extern const char kBenchUsage[];
extern const char kBenchStreamsUsage[];
extern const char kProfileUsage[];
extern const char kServeUsage[];

}  // namespace iris::app
