#include "eval/events_eval.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <ranges>
#include <set>
#include <sstream>
#include <vector>

#include "core/assignment.h"
#include "core/text.h"
#include "eval/json_input.h"

namespace iris::eval {
namespace {

using json_input::field;
using json_input::show;
using nlohmann::json;

// Times come rounded to milliseconds; a difference of exactly the tolerance must not fail on the
// last bit of a double.
constexpr double kSlack = 1e-9;

struct Stream {
  double duration = 0;
  std::set<std::string> rules;
};

struct Record {
  std::string stream, rule, type, direction;
  double time = 0;
};

Result<std::string> get_string(const json& record, const char* name, const std::string& where) {
  auto value = field(record, name, where);
  if (!value.ok()) return value.status();
  const json& v = **value;
  if (!v.is_string() || v.get_ref<const std::string&>().empty()) {
    return Status::error(where + ": '" + name + "' must be a non-empty string, got " + show(v));
  }
  return v.get<std::string>();
}

Result<double> get_number(const json& record, const char* name, const std::string& where) {
  auto value = field(record, name, where);
  if (!value.ok()) return value.status();
  const json& v = **value;
  if (!v.is_number() || !std::isfinite(v.get<double>())) {
    return Status::error(where + ": '" + name + "' must be a number, got " + show(v));
  }
  return v.get<double>();
}

// The fields matching uses, checked against the truth's streams and rules.
Result<Record> read_record(const json& j, const std::string& where,
                           const std::map<std::string, Stream>& streams,
                           const std::string& truth_name) {
  if (!j.is_object()) return Status::error(where + ": expected a JSON object, got " + show(j));
  Record r;
  auto stream = get_string(j, "stream", where);
  if (!stream.ok()) return stream.status();
  auto rule = get_string(j, "rule", where);
  if (!rule.ok()) return rule.status();
  auto type = get_string(j, "type", where);
  if (!type.ok()) return type.status();
  auto time = get_number(j, "media_time", where);
  if (!time.ok()) return time.status();
  if (*time < 0)
    return Status::error(where + ": 'media_time' must be >= 0, got " + show(j["media_time"]));
  r.stream = *stream;
  r.rule = *rule;
  r.type = *type;
  r.time = *time;
  if (r.type == "line_cross") {
    auto direction = get_string(j, "direction", where);
    if (!direction.ok()) return direction.status();
    if (*direction != "A->B" && *direction != "B->A") {
      return Status::error(where + ": 'direction' must be \"A->B\" or \"B->A\", got " +
                           show(j["direction"]));
    }
    r.direction = *direction;
  }
  const auto s = streams.find(r.stream);
  if (s == streams.end()) {
    return Status::error(where + ": stream '" + r.stream + "' is not in " + truth_name +
                         " (it has: " + join(std::views::keys(streams)) +
                         "); compare a run with the truth of the same scene");
  }
  if (!s->second.rules.count(r.rule)) {
    return Status::error(where + ": rule '" + r.rule + "' is not a rule of stream '" + r.stream +
                         "' in " + truth_name + " (it has: " + join(s->second.rules) +
                         "); compare a run with the truth of the same scene");
  }
  return r;
}

Status read_truth(const std::string& text, const std::string& name,
                  std::map<std::string, Stream>* streams, std::vector<Record>* events) {
  auto parsed = json_input::parse(text, name);
  if (!parsed.ok()) return parsed.status();
  const json& root = *parsed;
  if (!root.is_object()) {
    return Status::error(name + ": expected an object with 'streams' and 'events', got JSON " +
                         root.type_name());
  }
  for (const char* key : {"streams", "events"}) {
    if (!root.contains(key) || !root[key].is_array()) {
      return Status::error(name + ": '" + key + "' must be a list");
    }
  }
  const json& list = root["streams"];
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = name + ": streams[" + std::to_string(i) + "]";
    const json& s = list[i];
    if (!s.is_object()) return Status::error(where + ": expected an object, got " + show(s));
    auto stream_name = get_string(s, "name", where);
    if (!stream_name.ok()) return stream_name.status();
    auto duration = get_number(s, "duration", where);
    if (!duration.ok()) return duration.status();
    if (*duration <= 0) {
      return Status::error(where + ": 'duration' must be > 0 seconds, got " + show(s["duration"]));
    }
    Stream stream{*duration, {}};
    if (!s.contains("rules") || !s["rules"].is_array()) {
      return Status::error(where + ": 'rules' must be a list of {\"name\": ...}");
    }
    for (size_t k = 0; k < s["rules"].size(); ++k) {
      const json& rule = s["rules"][k];
      const std::string rule_where = where + ".rules[" + std::to_string(k) + "]";
      if (!rule.is_object()) return Status::error(rule_where + ": expected an object");
      auto rule_name = get_string(rule, "name", rule_where);
      if (!rule_name.ok()) return rule_name.status();
      stream.rules.insert(*rule_name);
    }
    if (!streams->emplace(*stream_name, std::move(stream)).second) {
      return Status::error(where + ": stream '" + *stream_name + "' is listed twice");
    }
  }
  const json& truth = root["events"];
  for (size_t i = 0; i < truth.size(); ++i) {
    auto r = read_record(truth[i], name + ": events[" + std::to_string(i) + "]", *streams, name);
    if (!r.ok()) return r.status();
    events->push_back(std::move(*r));
  }
  return Status();
}

Status read_events(const std::string& text, const std::string& name,
                   const std::map<std::string, Stream>& streams, const std::string& truth_name,
                   std::vector<Record>* events) {
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (trim(line).empty()) continue;
    const std::string where = name + ":" + std::to_string(number);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error& e) {
      return Status::error(where + ": not valid JSON (" + e.what() +
                           "); each line must be one event object (docs/events.md)");
    }
    auto r = read_record(j, where, streams, truth_name);
    if (!r.ok()) return r.status();
    events->push_back(std::move(*r));
  }
  return Status();
}

// Matches the times of one (stream, rule, type, direction): within the tolerance, as many pairs
// as possible, then the smallest total difference. Pairs only form within a run of times each no
// more than the tolerance after the one before, so each run is solved on its own.
void match(const std::vector<double>& truth, const std::vector<double>& detected, double tolerance,
           EventCounts* counts) {
  struct Item {
    double time;
    bool truth;
  };
  std::vector<Item> items;
  for (const double t : truth) items.push_back({t, true});
  for (const double t : detected) items.push_back({t, false});
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.time < b.time; });
  for (size_t begin = 0, end = 0; begin < items.size(); begin = end) {
    end = begin + 1;
    while (end < items.size() && items[end].time - items[end - 1].time <= tolerance + kSlack) {
      ++end;
    }
    std::vector<double> run_truth, run_detected;
    for (size_t i = begin; i < end; ++i) {
      (items[i].truth ? run_truth : run_detected).push_back(items[i].time);
    }
    if (run_truth.empty() || run_detected.empty()) continue;
    // Any pair beyond the tolerance costs more than all valid differences together.
    const double invalid =
        (tolerance + 1) * static_cast<double>(std::max(run_truth.size(), run_detected.size()) + 1);
    std::vector<std::vector<double>> cost(run_truth.size(),
                                          std::vector<double>(run_detected.size()));
    for (size_t r = 0; r < run_truth.size(); ++r) {
      for (size_t c = 0; c < run_detected.size(); ++c) {
        const double dt = std::abs(run_truth[r] - run_detected[c]);
        cost[r][c] = dt <= tolerance + kSlack ? dt : invalid;
      }
    }
    const std::vector<int> assigned = solve_assignment(cost);
    for (size_t r = 0; r < run_truth.size(); ++r) {
      if (assigned[r] < 0 || cost[r][assigned[r]] >= invalid) continue;
      ++counts->matched;
      counts->abs_dt_sum += cost[r][assigned[r]];
    }
  }
}

void add(EventCounts* to, const EventCounts& c) {
  to->truth += c.truth;
  to->detected += c.detected;
  to->matched += c.matched;
  to->abs_dt_sum += c.abs_dt_sum;
}

}  // namespace

std::optional<double> EventCounts::precision() const {
  if (detected == 0) return std::nullopt;
  return static_cast<double>(matched) / static_cast<double>(detected);
}

std::optional<double> EventCounts::recall() const {
  if (truth == 0) return std::nullopt;
  return static_cast<double>(matched) / static_cast<double>(truth);
}

std::optional<double> EventCounts::mean_abs_dt() const {
  if (matched == 0) return std::nullopt;
  return abs_dt_sum / static_cast<double>(matched);
}

std::optional<double> EventsReport::false_alarms_per_hour(const EventCounts& c) const {
  if (camera_hours <= 0) return std::nullopt;
  return static_cast<double>(c.false_alarms()) / camera_hours;
}

Result<EventsReport> evaluate_events_text(const std::string& truth_json,
                                          const std::string& truth_name,
                                          const std::string& events_jsonl,
                                          const std::string& events_name, double tolerance) {
  if (!(tolerance >= 0) || !std::isfinite(tolerance)) {
    return Status::error("the tolerance must be a number of seconds >= 0");
  }
  std::map<std::string, Stream> streams;
  std::vector<Record> truth, events;
  if (Status s = read_truth(truth_json, truth_name, &streams, &truth); !s) return s;
  if (Status s = read_events(events_jsonl, events_name, streams, truth_name, &events); !s) {
    return s;
  }

  EventsReport report;
  report.tolerance = tolerance;
  for (const auto& [name, s] : streams) report.camera_hours += s.duration / 3600;
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  std::map<Key, std::pair<std::vector<double>, std::vector<double>>> groups;
  for (const Record& r : truth) {
    groups[{r.stream, r.rule, r.type, r.direction}].first.push_back(r.time);
  }
  for (const Record& r : events) {
    groups[{r.stream, r.rule, r.type, r.direction}].second.push_back(r.time);
  }
  for (auto& [key, times] : groups) {
    EventCounts c;
    c.truth = static_cast<int64_t>(times.first.size());
    c.detected = static_cast<int64_t>(times.second.size());
    match(times.first, times.second, tolerance, &c);
    const auto& [stream, rule, type, direction] = key;
    add(&report.by_rule[{stream, rule, type}], c);
    add(&report.by_type[type], c);
    add(&report.total, c);
  }
  return report;
}

Result<EventsReport> evaluate_events(const std::string& truth_path, const std::string& events_path,
                                     double tolerance) {
  auto truth = read_file(truth_path);
  if (!truth.ok()) return truth.status();
  auto events = read_file(events_path);
  if (!events.ok()) return events.status();
  return evaluate_events_text(*truth, truth_path, *events, events_path, tolerance);
}

}  // namespace iris::eval
