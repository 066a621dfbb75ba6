#include "server/state.h"

#include <algorithm>
#include <filesystem>

#include "core/files.h"
#include "core/text.h"

namespace iris::server {
namespace {

using nlohmann::json;

constexpr int kVersion = 1;

std::string fix(const std::string& path) {
  return "; fix or delete that entry of " + path + " (or the whole file) and start again";
}

}  // namespace

Result<ApiState> ApiState::load(const std::string& path) {
  ApiState state;
  state.path_ = path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return state;
  auto text = read_file(path);
  if (!text.ok()) return text.status();
  json root;
  try {
    root = json::parse(*text);
  } catch (const json::parse_error& e) {
    return Status::error("state file " + path + " is not valid JSON (" + e.what() +
                         "); delete it to start from the config alone");
  }
  const auto bad = [&](const std::string& what) {
    return Status::error("state file " + path + ": " + what +
                         "; it is written by iris serve: delete it to start from the config alone");
  };
  if (!root.is_object() || root.value("iris_state", 0) != kVersion) {
    return bad("not an iris state file of version " + std::to_string(kVersion));
  }
  try {
    for (const json& name : root.value("removed", json::array())) {
      state.removed_.insert(name.get<std::string>());
    }
    for (const json& body : root.value("added", json::array())) {
      if (!body.is_object() || !body.contains("name") || !body["name"].is_string()) {
        return bad("an added stream has no name");
      }
      state.added_.push_back(body);
    }
    for (const json& name : root.value("paused", json::array())) {
      state.paused_.insert(name.get<std::string>());
    }
    const json rules = root.value("rules", json::object());
    for (const auto& [name, list] : rules.items()) state.rules_[name] = list;
  } catch (const json::exception& e) {
    return bad(std::string("an entry has the wrong type (") + e.what() + ")");
  }
  return state;
}

Status ApiState::apply(pipeline::PipelineSpec* pipeline) const {
  std::erase_if(pipeline->streams,
                [&](const pipeline::StreamSpec& s) { return removed_.count(s.name) > 0; });
  for (size_t i = 0; i < added_.size(); ++i) {
    const std::string where = path_ + " added[" + std::to_string(i) + "]";
    auto stream = pipeline::parse_stream(added_[i].dump(2), where, *pipeline);
    if (!stream.ok()) return Status::error(stream.status().message() + fix(path_));
    for (const auto& other : pipeline->streams) {
      if (other.name == stream->name) {
        return Status::error(where + ": stream '" + other.name + "' is now also in the config" +
                             fix(path_));
      }
    }
    pipeline->streams.push_back(std::move(stream).value());
  }
  for (const auto& [name, rules] : rules_) {
    auto it = std::find_if(pipeline->streams.begin(), pipeline->streams.end(),
                           [&](const pipeline::StreamSpec& s) { return s.name == name; });
    if (it == pipeline->streams.end()) {
      return Status::error(path_ + " rules." + name + ": there is no stream '" + name + "' now" +
                           fix(path_));
    }
    auto parsed = pipeline::parse_rules(rules.dump(2), path_ + " rules." + name, *it);
    if (!parsed.ok()) return Status::error(parsed.status().message() + fix(path_));
    it->rules = std::move(parsed).value();
  }
  return Status();
}

const nlohmann::json* ApiState::rules(const std::string& stream) const {
  const auto it = rules_.find(stream);
  return it == rules_.end() ? nullptr : &it->second;
}

const nlohmann::json* ApiState::added(const std::string& stream) const {
  for (const json& body : added_) {
    if (body["name"] == stream) return &body;
  }
  return nullptr;
}

Status ApiState::add_stream(nlohmann::json body) {
  added_.push_back(std::move(body));
  return save();
}

Status ApiState::remove_stream(const std::string& name) {
  const size_t before = added_.size();
  std::erase_if(added_, [&](const json& body) { return body["name"] == name; });
  if (added_.size() == before) removed_.insert(name);
  paused_.erase(name);
  rules_.erase(name);
  return save();
}

Status ApiState::set_paused(const std::string& name, bool paused) {
  if (paused) {
    paused_.insert(name);
  } else {
    paused_.erase(name);
  }
  return save();
}

Status ApiState::set_rules(const std::string& name, nlohmann::json rules) {
  rules_[name] = std::move(rules);
  return save();
}

Status ApiState::save() const {
  const json root = {{"iris_state", kVersion},
                     {"removed", removed_},
                     {"added", added_},
                     {"paused", paused_},
                     {"rules", rules_}};
  if (Status s = replace_file(path_, root.dump(2) + "\n"); !s) {
    return Status::error("cannot save the API state to " + path_ + " (" + s.message() +
                         "); the change is live but will not survive a restart: check that "
                         "directory's space and permissions, or give --state PATH");
  }
  return Status();
}

}  // namespace iris::server
