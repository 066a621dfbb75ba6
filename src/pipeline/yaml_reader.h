// YAML reading with diagnostics, for config files: typed access to map keys and list items that
// records every problem (file:line:column, key path, what is wrong and what would be right) and
// carries on, so a user sees all mistakes at once. It is stricter than yaml-cpp 0.7 on purpose:
// a duplicated key is an error (yaml-cpp keeps both), booleans are only true/false (yaml-cpp
// also takes yes/no/on/off), and a quoted "10" is a string, not a number.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/text.h"

namespace iris::pipeline {

// Collects problems; each becomes one line "FILE:LINE:COL: PATH: what is wrong; what is right".
class Diagnostics {
 public:
  explicit Diagnostics(std::string source) : source_(std::move(source)) {}

  // `path` may be empty for problems with the document as a whole.
  void error(const YAML::Mark& mark, std::string_view path, std::string_view message);
  // "FILE:LINE:COL", 1-based; a mark yaml-cpp did not set counts as the start of the file.
  std::string where(const YAML::Mark& mark) const;
  bool ok() const { return problems_.empty(); }
  // Every problem in file order, one per line; ok when there were none.
  Status status() const;

 private:
  struct Problem {
    int line;
    int column;
    std::string text;
  };
  std::string source_;
  std::vector<Problem> problems_;
};

// A value in the document with the name a user knows it by.
struct Item {
  YAML::Node node;
  std::string path;  // "streams[0].rules[1].polygon"
  YAML::Mark mark;   // where to point: the value, or its key when the value is empty (yaml-cpp
                     // marks an empty value at the next token, often on the next line)
};

// The item at index `i` of a list item.
Item list_item(const Item& list, size_t i);

// Numeric bounds and how to say them to a user.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;  // min itself is outside the range
  bool max_open = false;

  static Range at_least(double v) { return {v}; }
  static Range above(double v) { return {v, std::numeric_limits<double>::infinity(), true}; }
  static Range closed(double lo, double hi) { return {lo, hi}; }
  static Range open_closed(double lo, double hi) { return {lo, hi, true, false}; }  // (lo, hi]
  static Range closed_open(double lo, double hi) { return {lo, hi, false, true}; }  // [lo, hi)

  bool contains(double v) const;
  std::string describe() const;  // "> 0", ">= 1", "in [0, 1]", "in (0, 1]"
};

// Whether `word` is one of `words` (allowed keys, choices).
bool is_one_of(std::span<const std::string_view> words, std::string_view word);
// A number for messages, in ostream's default form: 0.5, 3, 1e+10.
std::string format_number(double v);
// " (relative to the working directory D)" for a relative path, else "": where a file the config
// names is looked for.
std::string relative_note(const std::string& path);

// A scalar written as text ("5", !!str 5; yaml-cpp tags the first "!" and the second with the
// full tag): the user meant a string, so it never reads as a number or boolean.
bool is_quoted(const YAML::Node& node);

// What a node is, for "got ..." messages: 'abc', a list, a map, nothing.
std::string describe(const YAML::Node& node);

// Scalar readers: the value, or nullopt after reporting why not.
std::optional<double> read_number(Diagnostics& diag, const Item& item, const Range& range = {});
std::optional<int> read_int(Diagnostics& diag, const Item& item, const Range& range = {});
std::optional<bool> read_bool(Diagnostics& diag, const Item& item);
// A non-empty string.
std::optional<std::string> read_string(Diagnostics& diag, const Item& item);
// A string that must be one of `choices`; `what` names it in the message ("detector type").
std::optional<std::string> read_choice(Diagnostics& diag, const Item& item, std::string_view what,
                                       std::span<const std::string_view> choices);
// The items of a list, or nullopt after reporting; `example` shows the right form in the hint.
std::optional<std::vector<Item>> read_list(Diagnostics& diag, const Item& item,
                                           std::string_view example);
// A list of strings (class names); the valid ones, after reporting the others.
std::vector<std::string> read_strings(Diagnostics& diag, const Item& item,
                                      std::string_view example);

// Keys of one map. Construction reports a value that is not a map, keys that are not plain
// names, and keys given twice (yaml-cpp 0.7 keeps both pairs; get() returns the first).
class MapReader {
 public:
  MapReader(Diagnostics& diag, Item item);

  bool is_map() const { return is_map_; }
  const Item& item() const { return item_; }
  // The value of `key`, or nullopt when it is absent.
  std::optional<Item> get(std::string_view key) const;
  // Reports every key not in `allowed`, with an edit-distance suggestion. `misplaced` may
  // return a reason for a key that belongs to another variant (a zone key on a line rule).
  void check_keys(std::span<const std::string_view> allowed,
                  const std::function<std::string(std::string_view)>& misplaced = {}) const;
  // Reports that a required key is absent; `hint` says what to write.
  void missing(std::string_view key, std::string_view hint) const;

  // Each read() leaves *out unchanged when the key is absent or invalid; returns whether *out was
  // set from the document.
  bool read(std::string_view key, double* out, const Range& range = {}) const;
  bool read(std::string_view key, int* out, const Range& range = {}) const;
  bool read(std::string_view key, bool* out) const;
  bool read(std::string_view key, std::string* out) const;

 private:
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    YAML::Node value;
  };
  std::string key_path(std::string_view key) const;

  Diagnostics* diag_;
  Item item_;
  bool is_map_ = false;
  std::vector<Entry> entries_;  // first occurrence of each key, in file order
};

}  // namespace iris::pipeline
