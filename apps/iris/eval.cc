#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/iris/commands.h"
#include "core/text.h"
#include "eval/coco.h"
#include "eval/events_eval.h"
#include "eval/mot.h"

namespace iris::app {

const char kEvalUsage[] =
    "usage: iris eval det --gt GT.json --dt DT.json [--json]\n"
    "       iris eval mot --gt gt.txt --tracker tracker.txt [--json]\n"
    "       iris eval events --truth truth.json --events events.jsonl --tolerance S [--json]\n"
    "       iris eval precision CONFIG --model NAME (--images DIR | --video CLIP) [--int8 FILE]\n"
    "                           [--gt COCO.json] [--frames N] [--threads N]\n"
    "                           [--precisions fp32,bf16,int8] [--json]\n\n"
    "det: COCO bbox evaluation with pycocotools' semantics (101-point interpolation, area\n"
    "     ranges, maxDets 1/10/100, iscrowd). GT is a COCO instances file, DT a JSON list of\n"
    "     {image_id, category_id, bbox: [x, y, w, h], score}.\n"
    "mot: HOTA (DetA, AssA, DetRe, DetPr, AssRe, AssPr, LocA), CLEAR (MOTA, MOTP, IDSW, Frag,\n"
    "     MT, PT, ML) and Identity (IDF1, IDP, IDR) with TrackEval's semantics, on\n"
    "     MOTChallenge text files (frame,id,x,y,w,h,...; frames from 1).\n"
    "events: a run's events (events.jsonl) against the truth of its scene (truth.json, as\n"
    "     `iris synth` writes it). Events pair one-to-one on stream, rule, type and direction\n"
    "     when their media times differ by at most S seconds (most pairs, then the closest).\n"
    "     Precision, recall, false alarms per camera-hour, per rule and event type.\n"
    "precision: the config's model NAME (its preprocessing, decoder and thresholds) on the iris\n"
    "     runtime at each precision, over the images of DIR (sorted by name; .jpg, .jpeg, .png,\n"
    "     .bmp) or N frames spread evenly over CLIP (default 200; every frame of a shorter clip).\n"
    "     fp32 and bf16 run the config's model file; int8 runs --int8 FILE, else that file when\n"
    "     `iris quantize` calibrated it, else is skipped. Detections are scored with COCO mAP\n"
    "     against --gt (a COCO instances file whose images' file_name are DIR's files;\n"
    "     categories matched by name) or, without it, against the fp32 detections (category id:\n"
    "     class index + 1; fp32 is then the reference and not scored). Reports AP, AP50, AP75,\n"
    "     detections, and p50 ms and fps of the backend's infer call alone. --frames N with\n"
    "     --images takes N images spread evenly; --threads sets OpenCV's thread count.\n\n"
    "--json prints one JSON object: det {\"stats\": [12 numbers], \"names\": [...]}, mot a flat\n"
    "object of every metric, events the totals with by_type and by_rule breakdowns (null where\n"
    "a ratio has nothing to divide by), precision one row per precision (docs/runtime.md,\n"
    "\"Accuracy loop\"). Without it, a table.\n";

namespace {

// The values of a subcommand's options, by flag ("--gt"), and whether --json was given.
struct EvalArgs {
  std::map<std::string, std::string> values;
  bool json = false;
};

// Parses `iris eval <subcommand> ...` where every one of `flags` takes a value and is required;
// prints the problem and returns nullopt if the arguments are wrong.
std::optional<EvalArgs> parse(const Args& args, const std::vector<std::string>& flags) {
  EvalArgs out;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      out.json = true;
    } else if (std::find(flags.begin(), flags.end(), a) != flags.end() && i + 1 < args.size()) {
      out.values[a] = args[++i];
    } else {
      std::fprintf(stderr, "iris eval %s: unexpected argument '%s'\n\n%s", args[0].c_str(),
                   a.c_str(), kEvalUsage);
      return std::nullopt;
    }
  }
  std::string needs;  // "--gt and --dt", "--truth, --events and --tolerance"
  bool missing = false;
  for (size_t i = 0; i < flags.size(); ++i) {
    needs += (i == 0 ? "" : i + 1 < flags.size() ? ", " : " and ") + flags[i];
    missing |= out.values[flags[i]].empty();
  }
  if (missing) {
    std::fprintf(stderr, "iris eval %s: needs %s\n\n%s", args[0].c_str(), needs.c_str(),
                 kEvalUsage);
    return std::nullopt;
  }
  return out;
}

int eval_det(const EvalArgs& a) {
  auto r = eval::evaluate_coco(a.values.at("--gt"), a.values.at("--dt"));
  if (!r.ok()) {
    std::fprintf(stderr, "iris eval det: %s\n", r.status().message().c_str());
    return 1;
  }
  if (a.json) {
    nlohmann::json j;
    j["stats"] = r->stats;
    j["names"] = eval::CocoStats::kNames;
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  for (size_t i = 0; i < r->stats.size(); ++i) {
    std::printf("%-6s %8.4f\n", eval::CocoStats::kNames[i], r->stats[i]);
  }
  return 0;
}

int eval_mot(const EvalArgs& a) {
  auto r = eval::evaluate_mot(a.values.at("--gt"), a.values.at("--tracker"));
  if (!r.ok()) {
    std::fprintf(stderr, "iris eval mot: %s\n", r.status().message().c_str());
    return 1;
  }
  const std::vector<eval::MotField> fields = eval::to_fields(*r);
  if (a.json) {
    nlohmann::ordered_json j;
    for (const eval::MotField& f : fields) {
      j[f.name] = f.count ? nlohmann::ordered_json(static_cast<int64_t>(f.value))
                          : nlohmann::ordered_json(f.value);
    }
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  for (const eval::MotField& f : fields) {
    if (f.count) {
      std::printf("%-6s %8lld\n", f.name.c_str(), static_cast<long long>(f.value));
    } else {
      std::printf("%-6s %8.4f\n", f.name.c_str(), f.value);
    }
  }
  return 0;
}

nlohmann::ordered_json or_null(const std::optional<double>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json counts_json(const eval::EventsReport& r, const eval::EventCounts& c) {
  return {{"truth", c.truth},
          {"events", c.detected},
          {"matched", c.matched},
          {"missed", c.missed()},
          {"false_alarms", c.false_alarms()},
          {"precision", or_null(c.precision())},
          {"recall", or_null(c.recall())},
          {"false_alarms_per_hour", or_null(r.false_alarms_per_hour(c))},
          {"mean_abs_dt", or_null(c.mean_abs_dt())}};
}

std::string cell(const std::optional<double>& v, const char* format) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, *v);
  return buf;
}

void print_counts_row(const std::string& name, const eval::EventsReport& r,
                      const eval::EventCounts& c) {
  std::printf("%-36s %6lld %6lld %7lld %9s %7s %9s\n", name.c_str(),
              static_cast<long long>(c.truth), static_cast<long long>(c.detected),
              static_cast<long long>(c.matched), cell(c.precision(), "%.4f").c_str(),
              cell(c.recall(), "%.4f").c_str(), cell(r.false_alarms_per_hour(c), "%.1f").c_str());
}

int eval_events(const EvalArgs& a) {
  const std::string& text = a.values.at("--tolerance");
  double tolerance = 0;
  if (!parse_finite(text, &tolerance) || tolerance < 0) {
    std::fprintf(stderr, "iris eval events: --tolerance needs seconds >= 0, got '%s'\n",
                 text.c_str());
    return 2;
  }
  auto r = eval::evaluate_events(a.values.at("--truth"), a.values.at("--events"), tolerance);
  if (!r.ok()) {
    std::fprintf(stderr, "iris eval events: %s\n", r.status().message().c_str());
    return 1;
  }
  if (a.json) {
    nlohmann::ordered_json j{{"tolerance", r->tolerance}, {"camera_hours", r->camera_hours}};
    j.update(counts_json(*r, r->total));
    j["by_type"] = nlohmann::ordered_json::object();
    for (const auto& [type, c] : r->by_type) j["by_type"][type] = counts_json(*r, c);
    j["by_rule"] = nlohmann::ordered_json::array();
    for (const auto& [key, c] : r->by_rule) {
      const auto& [stream, rule, type] = key;
      nlohmann::ordered_json row{{"stream", stream}, {"rule", rule}, {"type", type}};
      row.update(counts_json(*r, c));
      j["by_rule"].push_back(std::move(row));
    }
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("%-36s %6s %6s %7s %9s %7s %9s\n", "stream/rule/type", "truth", "events", "matched",
              "precision", "recall", "FA/hour");
  for (const auto& [key, c] : r->by_rule) {
    const auto& [stream, rule, type] = key;
    print_counts_row(stream + "/" + rule + "/" + type, *r, c);
  }
  print_counts_row("total", *r, r->total);
  std::printf("tolerance %g s, %.3f camera-hours, mean |dt| %s s\n", r->tolerance, r->camera_hours,
              cell(r->total.mean_abs_dt(), "%.3f").c_str());
  return 0;
}

}  // namespace

int eval_main(const Args& args) {
  if (!args.empty() && args[0] == "precision") {
    return eval_precision_main({args.begin() + 1, args.end()});
  }
  const struct {
    const char* name;
    std::vector<std::string> flags;
    int (*run)(const EvalArgs&);
  } kSubcommands[] = {{"det", {"--gt", "--dt"}, eval_det},
                      {"mot", {"--gt", "--tracker"}, eval_mot},
                      {"events", {"--truth", "--events", "--tolerance"}, eval_events}};
  for (const auto& sub : kSubcommands) {
    if (args.empty() || args[0] != sub.name) continue;
    const std::optional<EvalArgs> a = parse(args, sub.flags);
    return a ? sub.run(*a) : 2;
  }
  std::fputs(kEvalUsage, stderr);
  return 2;
}

}  // namespace iris::app
