// Text helpers for the file formats iris reads (detection and track files, JSON inputs) and the
// messages it writes: whole-field number and size parsing that refuses trailing junk, whole-file
// reads with errors that name the file, and joining lists.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace iris {

// Enum names kept in a table in the enum's order (its values 0, 1, ...): the name of `e`, and
// the value named `name` (nullopt for none). The names are literals, so data() ends in NUL.
template <typename E, size_t N>
const char* name_of(const std::string_view (&names)[N], E e) {
  return names[static_cast<size_t>(e)].data();
}
template <typename E, size_t N>
std::optional<E> enum_of(const std::string_view (&names)[N], std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}

// Without spaces, tabs and carriage returns at either end.
std::string_view trim(std::string_view s);
// `s` with ASCII letters in lower case: for names matched without regard to case.
std::string lower(std::string_view s);
// The comma-separated fields of one line, each trimmed.
std::vector<std::string_view> split_fields(std::string_view line);
// The whole of `s` is one integer / one finite number.
bool parse_int(std::string_view s, int64_t* out);
bool parse_finite(std::string_view s, double* out);
// "640x480": the whole of `s` is a width and a height, whole numbers that fit an int, joined by
// 'x'. The caller checks their range.
bool parse_size(std::string_view s, int* width, int* height);
// "1 s", "0.5 s": a duration in a message, as a person writes it.
std::string seconds_text(double seconds);
// The file's bytes; errors name the file and the system's reason.
Result<std::string> read_file(const std::string& path);

// The items with `separator` between them, each as `show` writes it: join(names) gives
// "a, b, c"; join(std::views::keys(map), ",") a map's keys.
template <typename Range, typename Show = std::identity>
std::string join(const Range& items, std::string_view separator = ", ", Show show = {}) {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += separator;
    first = false;
    out += show(item);
  }
  return out;
}

}  // namespace iris
