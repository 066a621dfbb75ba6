// Text helpers for the file formats iris reads (detection and track files, JSON inputs):
// whole-field number parsing that refuses trailing junk, and whole-file reads with errors that
// name the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace iris {

// Without spaces, tabs and carriage returns at either end.
std::string_view trim(std::string_view s);
// The comma-separated fields of one line, each trimmed.
std::vector<std::string_view> split_fields(std::string_view line);
// The whole of `s` is one integer / one finite number.
bool parse_int(std::string_view s, int64_t* out);
bool parse_finite(std::string_view s, double* out);
// The file's bytes; errors name the file and the system's reason.
Result<std::string> read_file(const std::string& path);

}  // namespace iris
