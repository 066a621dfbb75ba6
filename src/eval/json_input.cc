#include "eval/json_input.h"

namespace iris::eval::json_input {

std::string show(const nlohmann::json& value) {
  constexpr size_t kMaxShown = 60;
  std::string text = value.dump();
  if (text.size() > kMaxShown) text = text.substr(0, kMaxShown) + "...";
  return text;
}

Result<nlohmann::json> parse(const std::string& text, const std::string& name) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Status::error(name + ": not valid JSON: " + e.what());
  }
}

Result<const nlohmann::json*> field(const nlohmann::json& record, const char* name,
                                    const std::string& where) {
  const auto it = record.find(name);
  if (it == record.end()) return Status::error(where + ": missing field '" + name + "'");
  return &*it;
}

}  // namespace iris::eval::json_input
