// ApiState: the changes made through the control API (streams added, removed, paused; rules
// replaced), kept in a JSON file beside the config so that they survive a restart. The config
// file itself is never rewritten: at startup the state is applied on top of it. Each change is
// written at once, atomically (a temporary file renamed over the old one).
//
// The file: {"iris_state": 1, "removed": [config stream names], "added": [stream bodies as
// sent], "paused": [names], "rules": {name: [rules as sent]}}.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/config.h"

namespace iris::server {

class ApiState {
 public:
  // The state in `path`; an absent file is an empty state. Errors name the file and the fix.
  static Result<ApiState> load(const std::string& path);

  // Applies the state to the config's pipeline: removed streams are dropped, added ones read
  // (with the config's defaults and models) and appended, rules replaced. Errors name the
  // state file's entry and say to fix or delete it.
  Status apply(pipeline::PipelineSpec* pipeline) const;

  const std::string& path() const { return path_; }
  const std::set<std::string>& paused_streams() const { return paused_; }
  // The rules a stream got through the API, if it did.
  const nlohmann::json* rules(const std::string& stream) const;
  // The body a stream was added with, if it was added through the API.
  const nlohmann::json* added(const std::string& stream) const;

  // Each change is saved before it returns; errors name the file.
  Status add_stream(nlohmann::json body);         // the body names the stream
  Status remove_stream(const std::string& name);  // forgets its pause and rules too
  Status set_paused(const std::string& name, bool paused);
  Status set_rules(const std::string& name, nlohmann::json rules);

 private:
  Status save() const;

  std::string path_;
  std::set<std::string> removed_;      // streams of the config file
  std::vector<nlohmann::json> added_;  // in the order they were added
  std::set<std::string> paused_;
  std::map<std::string, nlohmann::json> rules_;
};

}  // namespace iris::server
