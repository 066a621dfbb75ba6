#include "pipeline/config_events.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.h"
#include "events/event_log.h"
#include "events/remote_sink.h"

namespace iris::pipeline {
namespace {

constexpr std::string_view kEventsKeys[] = {"log", "max_mb", "sinks"};
// The keys every sink takes (docs/events.md); the others are the type's own options.
constexpr std::string_view kCommonSinkKeys[] = {"type",       "name",         "window",
                                                "timeout_ms", "retry_min_ms", "retry_max_ms"};

// A sink's own options as the sink reads them: every scalar as the text written. The sinks
// read numbers from text, and a text option keeps every character ("password: 0123").
nlohmann::json to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& pair : node) out[pair.first.Scalar()] = to_json(pair.second);
    return out;
  }
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& value : node) out.push_back(to_json(value));
    return out;
  }
  if (node.IsScalar()) return node.Scalar();
  return nullptr;
}

// Where a sink's own complaint points: at the option it names (its messages say "option 'port'
// ..." or "option 'headers.X' ..."), else at the sink.
Item complaint_item(const MapReader& map, const nlohmann::json& options,
                    const std::string& message) {
  for (const auto& [key, value] : options.items()) {
    const std::string named = "option '" + key;
    const size_t at = message.find(named);
    if (at == std::string::npos || at + named.size() >= message.size()) continue;
    const char next = message[at + named.size()];
    if (next == '\'' || next == '.') return *map.get(key);
  }
  return map.item();
}

std::optional<events::SinkSpec> read_sink(Diagnostics& diag, const Item& item,
                                          std::map<std::string, YAML::Mark>* names) {
  const MapReader map(diag, item);
  if (!map.is_map()) return std::nullopt;
  const std::vector<std::string> types = events::remote_sink_types();
  const std::vector<std::string_view> choices(types.begin(), types.end());
  const std::optional<Item> type = map.get("type");
  if (!type) {
    map.missing("type", "choose one of: " + join(types));
    return std::nullopt;
  }
  const std::optional<std::string> type_name = read_choice(diag, *type, "sink type", choices);
  if (!type_name) return std::nullopt;
  events::SinkSpec sink;
  sink.type = *type_name;
  sink.name = sink.type;
  const std::optional<Item> name = map.get("name");
  if (name && map.read("name", &sink.name) && !events::valid_sink_name(sink.name)) {
    diag.error(name->mark, name->path,
               "'" + sink.name +
                   "' may only have letters, digits, '_', '-' and '.' (it names the sink's "
                   "cursor file); e.g. name: alarms-1");
  }
  const Item name_at = name ? *name : *type;
  if (const auto [first, inserted] = names->emplace(sink.name, name_at.mark); !inserted) {
    diag.error(name_at.mark, name_at.path,
               "a second sink named '" + sink.name + "' (the first at " +
                   diag.where(first->second) + ")" +
                   (name ? "" : ", as a sink without a name is named after its type") +
                   "; give each sink its own name: it names the sink's cursor in the log");
  }

  int window = static_cast<int>(sink.window);
  int timeout = static_cast<int>(sink.timeout.count());
  int retry_min = static_cast<int>(sink.retry_min.count());
  int retry_max = static_cast<int>(sink.retry_max.count());
  map.read("window", &window, Range::closed(1, 10000));
  map.read("timeout_ms", &timeout, Range::closed(10, 600000));
  // A value already reported as wrong is not compared again.
  const bool min_ok =
      map.read("retry_min_ms", &retry_min, Range::closed(1, 600000)) || !map.get("retry_min_ms");
  const bool max_ok =
      map.read("retry_max_ms", &retry_max, Range::closed(1, 3600000)) || !map.get("retry_max_ms");
  if (min_ok && max_ok && retry_max < retry_min) {
    const Item at = map.get("retry_max_ms") ? *map.get("retry_max_ms") : *map.get("retry_min_ms");
    diag.error(at.mark, at.path,
               "retry_max_ms " + std::to_string(retry_max) + " is below retry_min_ms " +
                   std::to_string(retry_min) +
                   "; the longest delay between attempts must be at least the first one");
  }
  sink.window = static_cast<size_t>(window);
  sink.timeout = std::chrono::milliseconds(timeout);
  sink.retry_min = std::chrono::milliseconds(retry_min);
  sink.retry_max = std::chrono::milliseconds(retry_max);

  for (const auto& pair : item.node) {
    // A key that is not a name was reported by the MapReader.
    if (!pair.first.IsScalar() || is_one_of(kCommonSinkKeys, pair.first.Scalar())) continue;
    sink.options[pair.first.Scalar()] = to_json(pair.second);
  }
  if (auto made = events::make_remote_sink(sink); !made) {
    const std::string message = made.status().message();
    const Item at = complaint_item(map, sink.options, message);
    diag.error(at.mark, at.path, message + " (docs/events.md, Delivery)");
    return std::nullopt;
  }
  return sink;
}

}  // namespace

std::optional<events::DeliverySpec> read_events(Diagnostics& diag, const Item& item) {
  const MapReader map(diag, item);
  if (!map.is_map()) return std::nullopt;
  map.check_keys(kEventsKeys);
  events::DeliverySpec spec;
  if (!map.get("log")) {
    map.missing("log", "give the directory of the event log, e.g. log: out/events-log");
  } else if (map.read("log", &spec.log_dir)) {
    std::error_code ec;
    if (std::filesystem::exists(spec.log_dir, ec) &&
        !std::filesystem::is_directory(spec.log_dir, ec)) {
      const Item log = *map.get("log");
      diag.error(log.mark, log.path,
                 "'" + spec.log_dir + "' is a file" + relative_note(spec.log_dir) +
                     "; the event log is a directory of its own, e.g. log: out/events-log");
    }
  }
  int max_mb = static_cast<int>(spec.max_bytes >> 20);
  map.read("max_mb", &max_mb, Range::closed(1, 65536));
  spec.max_bytes = static_cast<uint64_t>(max_mb) << 20;

  const std::optional<Item> sinks = map.get("sinks");
  if (!sinks) {
    map.missing("sinks",
                "list where events go, e.g. sinks: [{type: webhook, url: "
                "http://127.0.0.1:8080/events}]");
    return std::nullopt;
  }
  const auto items = read_list(diag, *sinks, "sinks: [{type: mqtt, host: 127.0.0.1, port: 1883}]");
  if (!items) return std::nullopt;
  if (items->empty()) {
    diag.error(sinks->mark, sinks->path,
               "the list is empty; add at least one sink (" + join(events::remote_sink_types()) +
                   "), or remove events:");
    return std::nullopt;
  }
  std::map<std::string, YAML::Mark> names;
  for (const Item& sink_item : *items) {
    if (auto sink = read_sink(diag, sink_item, &names)) spec.sinks.push_back(std::move(*sink));
  }
  return spec;
}

}  // namespace iris::pipeline
