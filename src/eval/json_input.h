// Reading the evaluators' JSON inputs (COCO files, truth.json, events.jsonl) with errors that name
// the file and the record. Internal to src/eval.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace iris::eval::json_input {

// The value as JSON, cut short to fit in an error message.
std::string show(const nlohmann::json& value);

// The parsed text; the error names the input (`name`) and the parser's line and column.
Result<nlohmann::json> parse(const std::string& text, const std::string& name);

// The record's field `name`, or an error "<where>: missing field '<name>'".
Result<const nlohmann::json*> field(const nlohmann::json& record, const char* name,
                                    const std::string& where);

}  // namespace iris::eval::json_input
