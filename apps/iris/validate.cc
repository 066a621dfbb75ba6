#include <cstdio>

#include "apps/iris/commands.h"
#include "pipeline/config.h"

namespace iris::app {

const char kValidateUsage[] =
    "usage: iris validate CONFIG\n\n"
    "Checks CONFIG (YAML) without running it: keys, types, ranges, geometry, and that the\n"
    "video files it names exist. Prints every problem with file:line:column and exits 1 if\n"
    "there is any; prints a one-line summary and exits 0 otherwise.\n";

int validate_main(const Args& args) {
  if (args.size() != 1) {
    std::fputs(kValidateUsage, stderr);
    return 2;
  }
  auto spec = pipeline::load_config(args[0]);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().message().c_str());
    return 1;
  }
  size_t rules = 0;
  for (const auto& s : spec->streams) rules += s.rules.size();
  std::printf("%s: ok (%zu stream%s, %zu rule%s)\n", args[0].c_str(), spec->streams.size(),
              spec->streams.size() == 1 ? "" : "s", rules, rules == 1 ? "" : "s");
  return 0;
}

}  // namespace iris::app
