// The remote sink types a config can name. Adding one: its file in this folder, and its line here.
#include "events/remote_sink.h"

#include <ranges>

#include "core/text.h"

namespace iris::events {

using RemoteSinkFactory = Result<std::unique_ptr<RemoteSink>> (*)(const SinkSpec&);

Result<std::unique_ptr<RemoteSink>> make_webhook_sink(const SinkSpec&);
Result<std::unique_ptr<RemoteSink>> make_mqtt_sink(const SinkSpec&);
Result<std::unique_ptr<RemoteSink>> make_redis_sink(const SinkSpec&);

namespace {

const std::map<std::string, RemoteSinkFactory>& registry() {
  static const std::map<std::string, RemoteSinkFactory> kSinks = {
      {"webhook", make_webhook_sink},
      {"mqtt", make_mqtt_sink},
      {"redis", make_redis_sink},
  };
  return kSinks;
}

}  // namespace

Result<std::unique_ptr<RemoteSink>> make_remote_sink(const SinkSpec& spec) {
  const auto it = registry().find(spec.type);
  if (it != registry().end()) return it->second(spec);
  return Status::error("sink '" + spec.name + "': unknown type '" + spec.type +
                       "'; fix: use one of: " + join(std::views::keys(registry())));
}

std::vector<std::string> remote_sink_types() {
  const auto keys = std::views::keys(registry());
  return {keys.begin(), keys.end()};
}

SinkOptions::SinkOptions(const SinkSpec& spec)
    : label_("sink '" + spec.name + "' (" + spec.type + ")"), options_(spec.options) {
  if (!options_.is_object()) error_ = Status::error(label_ + ": options must be a mapping");
}

const nlohmann::json* SinkOptions::find(const std::string& key) {
  asked_.insert(key);
  if (!options_.is_object()) return nullptr;
  const auto it = options_.find(key);
  return it == options_.end() || it->is_null() ? nullptr : &*it;
}

void SinkOptions::fail(const std::string& key, const std::string& problem) {
  if (error_) error_ = Status::error(label_ + ": option '" + key + "' " + problem);
}

std::string SinkOptions::text(const std::string& key, const std::string& fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number() || v->is_boolean()) return v->dump();  // `password: 1234` is text too
  fail(key, "must be text, got " + v->dump());
  return fallback;
}

std::string SinkOptions::required_text(const std::string& key) {
  const std::string v = text(key, "");
  if (v.empty() && error_) fail(key, "is required");
  return v;
}

int64_t SinkOptions::integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  int64_t n = 0;
  if (v->is_number_integer()) {
    n = v->get<int64_t>();
  } else if (!v->is_string() || !parse_int(v->get<std::string>(), &n)) {
    fail(key, "must be a whole number, got " + v->dump());
    return fallback;
  }
  if (n < min || n > max) {
    fail(key, "must be in " + std::to_string(min) + ".." + std::to_string(max) + ", got " +
                  std::to_string(n));
    return fallback;
  }
  return n;
}

std::map<std::string, std::string> SinkOptions::text_map(const std::string& key) {
  std::map<std::string, std::string> out;
  const nlohmann::json* v = find(key);
  if (!v) return out;
  if (!v->is_object()) {
    fail(key, "must be a mapping of names to text, got " + v->dump());
    return out;
  }
  for (const auto& [name, value] : v->items()) {
    if (!value.is_string() && !value.is_number()) {
      fail(key + "." + name, "must be text, got " + value.dump());
      continue;
    }
    out[name] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  return out;
}

std::string SinkOptions::pattern(const std::string& key, const std::string& fallback,
                                 const std::set<std::string>& allowed) {
  const std::string p = text(key, fallback);
  for (size_t open = p.find('{'); open != std::string::npos; open = p.find('{', open + 1)) {
    const size_t close = p.find('}', open);
    const std::string name = close == std::string::npos ? "" : p.substr(open + 1, close - open - 1);
    if (!allowed.contains(name)) {
      fail(key, "'" + p + "' has an unknown placeholder at '" + p.substr(open) + "'; use: {" +
                    join(allowed, "}, {") + "}");
      break;
    }
  }
  return p;
}

Status SinkOptions::finish() const {
  if (!error_) return error_;
  if (options_.is_object()) {
    for (const auto& [key, value] : options_.items()) {
      if (!asked_.contains(key)) {
        return Status::error(label_ + ": unknown option '" + key + "'; known: " + join(asked_));
      }
    }
  }
  return {};
}

std::string expand(const std::string& pattern, const LogRecord& r,
                   std::string (*clean)(const std::string&)) {
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    const size_t open = pattern.find('{', i);
    if (open == std::string::npos) {
      out += pattern.substr(i);
      break;
    }
    out += pattern.substr(i, open - i);
    const size_t close = pattern.find('}', open);
    const std::string name = pattern.substr(open + 1, close - open - 1);
    const std::string* value = name == "stream" ? &r.stream
                               : name == "rule" ? &r.rule
                               : name == "type" ? &r.type
                                                : &r.id;
    out += clean ? clean(*value) : *value;
    i = close + 1;
  }
  return out;
}

}  // namespace iris::events
