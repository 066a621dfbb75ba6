#include <cstdio>

#include "apps/iris/commands.h"
#include "infer/model.h"
#include "pipeline/config.h"

namespace iris::app {

const char kValidateUsage[] =
    "usage: iris validate CONFIG\n\n"
    "Checks CONFIG (YAML) without running it: keys, types, ranges, geometry, and that the\n"
    "video files it names exist. Loads every model it lists, checks its outputs against its\n"
    "decoder and runs one inference on a blank input. Prints every problem (config problems\n"
    "with file:line:column) and exits 1 if there is any; prints a summary and exits 0\n"
    "otherwise.\n";

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
  int failed = 0;
  for (const infer::ModelSpec& m : spec->models) {
    auto model = infer::load_model(m);
    if (!model.ok()) {
      std::fprintf(stderr, "%s: models: %s\n", args[0].c_str(), model.status().message().c_str());
      ++failed;
      continue;
    }
    const infer::ModelSpec& loaded = (*model)->spec();
    std::printf("model %s: ok (%s, input %dx%d, %s)\n", m.name.c_str(), m.path.c_str(),
                loaded.input_width, loaded.input_height,
                (*model)->info().max_batch == 1 ? "fixed batch 1" : "dynamic batch");
  }
  if (failed > 0) return 1;
  size_t rules = 0;
  for (const auto& s : spec->streams) rules += s.rules.size();
  const size_t models = spec->models.size();
  std::printf("%s: ok (%zu stream%s, %zu rule%s, %zu model%s)\n", args[0].c_str(),
              spec->streams.size(), spec->streams.size() == 1 ? "" : "s", rules,
              rules == 1 ? "" : "s", models, models == 1 ? "" : "s");
  return 0;
}

}  // namespace iris::app
