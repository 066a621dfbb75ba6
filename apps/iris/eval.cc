#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "apps/iris/commands.h"
#include "eval/coco.h"
#include "eval/mot.h"

namespace iris::app {

const char kEvalUsage[] =
    "usage: iris eval det --gt GT.json --dt DT.json [--json]\n"
    "       iris eval mot --gt gt.txt --tracker tracker.txt [--json]\n\n"
    "det: COCO bbox evaluation with pycocotools' semantics (101-point interpolation, area\n"
    "     ranges, maxDets 1/10/100, iscrowd). GT is a COCO instances file, DT a JSON list of\n"
    "     {image_id, category_id, bbox: [x, y, w, h], score}.\n"
    "mot: HOTA (DetA, AssA, DetRe, DetPr, AssRe, AssPr, LocA), CLEAR (MOTA, MOTP, IDSW, Frag,\n"
    "     MT, PT, ML) and Identity (IDF1, IDP, IDR) with TrackEval's semantics, on\n"
    "     MOTChallenge text files (frame,id,x,y,w,h,...; frames from 1).\n\n"
    "--json prints one JSON object: det {\"stats\": [12 numbers], \"names\": [...]}, mot a flat\n"
    "object of every metric. Without it, a table.\n";

namespace {

struct EvalArgs {
  std::string gt, other;
  bool json = false;
};

// Parses --gt X --<other_flag> Y [--json]; prints the problem and returns false if wrong.
bool parse(const Args& args, const std::string& other_flag, EvalArgs* out) {
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      out->json = true;
    } else if ((a == "--gt" || a == other_flag) && i + 1 < args.size()) {
      (a == "--gt" ? out->gt : out->other) = args[++i];
    } else {
      std::fprintf(stderr, "iris eval %s: unexpected argument '%s'\n\n%s", args[0].c_str(),
                   a.c_str(), kEvalUsage);
      return false;
    }
  }
  if (out->gt.empty() || out->other.empty()) {
    std::fprintf(stderr, "iris eval %s: needs --gt and %s\n\n%s", args[0].c_str(),
                 other_flag.c_str(), kEvalUsage);
    return false;
  }
  return true;
}

int eval_det(const EvalArgs& a) {
  auto r = eval::evaluate_coco(a.gt, a.other);
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

bool is_count(const std::string& name) {
  static const std::set<std::string> kCounts = {"IDSW", "Frag",   "MT",     "PT",
                                                "ML",   "CLR_TP", "CLR_FN", "CLR_FP"};
  return kCounts.count(name) > 0;
}

int eval_mot(const EvalArgs& a) {
  auto r = eval::evaluate_mot(a.gt, a.other);
  if (!r.ok()) {
    std::fprintf(stderr, "iris eval mot: %s\n", r.status().message().c_str());
    return 1;
  }
  const auto fields = eval::to_fields(*r);
  nlohmann::ordered_json j;
  for (const auto& [name, value] : fields) {
    if (is_count(name)) {
      j[name] = static_cast<int64_t>(value);
    } else {
      j[name] = value;
    }
  }
  if (a.json) {
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  for (const auto& [name, value] : fields) {
    if (is_count(name)) {
      std::printf("%-6s %8lld\n", name.c_str(), static_cast<long long>(value));
    } else {
      std::printf("%-6s %8.4f\n", name.c_str(), value);
    }
  }
  return 0;
}

}  // namespace

int eval_main(const Args& args) {
  EvalArgs a;
  if (!args.empty() && args[0] == "det") return parse(args, "--dt", &a) ? eval_det(a) : 2;
  if (!args.empty() && args[0] == "mot") return parse(args, "--tracker", &a) ? eval_mot(a) : 2;
  std::fputs(kEvalUsage, stderr);
  return 2;
}

}  // namespace iris::app
