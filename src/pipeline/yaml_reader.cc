#include "pipeline/yaml_reader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

namespace iris::pipeline {
namespace {

// YAML allows a leading '+', which from_chars (under parse_int and parse_finite) rejects.
std::string_view unsigned_text(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  return text;
}

std::optional<double> parse_double(std::string_view text) {
  double v = 0;
  if (!parse_finite(unsigned_text(text), &v)) return std::nullopt;
  return v;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The allowed word closest to a misspelled one, if it is close enough to be a likely typo.
std::optional<std::string_view> closest_word(std::string_view key,
                                             std::span<const std::string_view> allowed) {
  const std::string key_lower = lower(key);
  std::optional<std::string_view> best;
  size_t best_distance = 0;
  for (std::string_view candidate : allowed) {
    const size_t d = edit_distance(key_lower, candidate);
    if (!best || d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  // Two edits suit words like 'polygn' or 'detectr'; short keys need a tighter bound.
  const size_t limit = std::min<size_t>(2, std::max<size_t>(1, key.size() / 3));
  if (best && best_distance <= limit) return best;
  return std::nullopt;
}

}  // namespace

bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

std::string format_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

bool is_one_of(std::span<const std::string_view> words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

std::string relative_note(const std::string& path) {
  if (!std::filesystem::path(path).is_relative()) return "";
  std::error_code ec;
  return " (relative to the working directory " + std::filesystem::current_path(ec).string() + ")";
}

void Diagnostics::error(const YAML::Mark& mark, std::string_view path, std::string_view message) {
  std::string text = where(mark) + ": ";
  if (!path.empty()) {
    text += path;
    text += ": ";
  }
  text += message;
  problems_.push_back({std::max(mark.line, 0), std::max(mark.column, 0), std::move(text)});
}

std::string Diagnostics::where(const YAML::Mark& mark) const {
  return source_ + ":" + std::to_string(std::max(mark.line, 0) + 1) + ":" +
         std::to_string(std::max(mark.column, 0) + 1);
}

Status Diagnostics::status() const {
  if (problems_.empty()) return Status();
  std::vector<Problem> sorted = problems_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Problem& a, const Problem& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  std::string message;
  for (const Problem& p : sorted) {
    if (!message.empty()) message += '\n';
    message += p.text;
  }
  return Status::error(message);
}

Item list_item(const Item& list, size_t i) {
  const YAML::Node node = list.node[i];
  return {node, list.path + "[" + std::to_string(i) + "]", node.IsNull() ? list.mark : node.Mark()};
}

bool Range::contains(double v) const {
  const bool above_min = min_open ? v > min : v >= min;
  const bool below_max = max_open ? v < max : v <= max;
  return above_min && below_max;
}

std::string Range::describe() const {
  if (std::isinf(max)) return (min_open ? "> " : ">= ") + format_number(min);
  if (std::isinf(min)) return (max_open ? "< " : "<= ") + format_number(max);
  return std::string("in ") + (min_open ? "(" : "[") + format_number(min) + ", " +
         format_number(max) + (max_open ? ")" : "]");
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      constexpr size_t kMaxShown = 40;
      const std::string& s = node.Scalar();
      return "'" + (s.size() > kMaxShown ? s.substr(0, kMaxShown) + "..." : s) + "'";
    }
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::optional<double> read_number(Diagnostics& diag, const Item& item, const Range& range) {
  const YAML::Node& node = item.node;
  if (!node.IsScalar()) {
    diag.error(item.mark, item.path,
               "expected a number, got " + describe(node) + "; write e.g. 10 or 0.5");
    return std::nullopt;
  }
  const std::optional<double> v = parse_double(node.Scalar());
  if (v && is_quoted(node)) {
    diag.error(
        item.mark, item.path,
        "expected a number, got the quoted string '" + node.Scalar() + "'; remove the quotes");
    return std::nullopt;
  }
  if (!v) {
    diag.error(item.mark, item.path,
               "expected a number, got " + describe(node) + "; write e.g. 10 or 0.5");
    return std::nullopt;
  }
  if (!range.contains(*v)) {
    diag.error(item.mark, item.path,
               node.Scalar() + " is out of range; it must be " + range.describe());
    return std::nullopt;
  }
  return v;
}

std::optional<int> read_int(Diagnostics& diag, const Item& item, const Range& range) {
  const YAML::Node& node = item.node;
  int64_t v = 0;
  if (node.IsScalar() && !is_quoted(node)) {
    if (parse_int(unsigned_text(node.Scalar()), &v)) {
      // Bound by int's range first so the cast below is exact.
      const Range bounded{std::max(range.min, double{std::numeric_limits<int>::min()}),
                          std::min(range.max, double{std::numeric_limits<int>::max()}),
                          range.min_open, range.max_open};
      if (!bounded.contains(static_cast<double>(v))) {
        diag.error(item.mark, item.path,
                   node.Scalar() + " is out of range; it must be " + range.describe());
        return std::nullopt;
      }
      return static_cast<int>(v);
    }
  }
  if (node.IsScalar() && is_quoted(node) && parse_double(node.Scalar())) {
    diag.error(item.mark, item.path,
               "expected a whole number, got the quoted string '" + node.Scalar() +
                   "'; remove the quotes");
  } else {
    diag.error(item.mark, item.path,
               "expected a whole number, got " + describe(node) + "; write e.g. 1 or 8");
  }
  return std::nullopt;
}

std::optional<bool> read_bool(Diagnostics& diag, const Item& item) {
  const YAML::Node& node = item.node;
  if (node.IsScalar() && !is_quoted(node)) {
    if (node.Scalar() == "true") return true;
    if (node.Scalar() == "false") return false;
  }
  if (node.IsScalar() && is_quoted(node) && (node.Scalar() == "true" || node.Scalar() == "false")) {
    diag.error(
        item.mark, item.path,
        "expected a boolean, got the quoted string '" + node.Scalar() + "'; remove the quotes");
    return std::nullopt;
  }
  diag.error(item.mark, item.path,
             "expected a boolean, got " + describe(node) + "; write true or false");
  return std::nullopt;
}

std::optional<std::string> read_string(Diagnostics& diag, const Item& item) {
  const YAML::Node& node = item.node;
  if (!node.IsScalar()) {
    diag.error(item.mark, item.path,
               "expected a string, got " + describe(node) + "; give a single value");
    return std::nullopt;
  }
  if (node.Scalar().empty()) {
    diag.error(item.mark, item.path, "the value is empty; give a non-empty string");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<std::string> read_choice(Diagnostics& diag, const Item& item, std::string_view what,
                                       std::span<const std::string_view> choices) {
  std::optional<std::string> value = read_string(diag, item);
  if (!value) return std::nullopt;
  if (is_one_of(choices, *value)) return value;
  std::string message = "unknown " + std::string(what) + " '" + *value + "'";
  if (const auto suggestion = closest_word(*value, choices)) {
    message += " (did you mean '" + std::string(*suggestion) + "'?)";
  }
  diag.error(item.mark, item.path, message + "; choose one of: " + join(choices));
  return std::nullopt;
}

std::optional<std::vector<Item>> read_list(Diagnostics& diag, const Item& item,
                                           std::string_view example) {
  if (!item.node.IsSequence()) {
    diag.error(
        item.mark, item.path,
        "expected a list, got " + describe(item.node) + "; write e.g. " + std::string(example));
    return std::nullopt;
  }
  std::vector<Item> items;
  for (size_t i = 0; i < item.node.size(); ++i) items.push_back(list_item(item, i));
  return items;
}

std::vector<std::string> read_strings(Diagnostics& diag, const Item& item,
                                      std::string_view example) {
  std::vector<std::string> out;
  if (const auto items = read_list(diag, item, example)) {
    for (const Item& i : *items) {
      if (auto s = read_string(diag, i)) out.push_back(std::move(*s));
    }
  }
  return out;
}

MapReader::MapReader(Diagnostics& diag, Item item) : diag_(&diag), item_(std::move(item)) {
  if (!item_.node.IsMap()) {
    diag_->error(item_.mark, item_.path,
                 "expected a map of key: value pairs, got " + describe(item_.node) +
                     "; see docs/config.md for the keys");
    return;
  }
  is_map_ = true;
  for (const auto& pair : item_.node) {
    const YAML::Node& key = pair.first;
    if (!key.IsScalar()) {
      diag_->error(key.Mark(), item_.path,
                   "a key must be a plain name, got " + describe(key) + "; write name: value");
      continue;
    }
    const auto first = std::find_if(entries_.begin(), entries_.end(),
                                    [&](const Entry& e) { return e.key == key.Scalar(); });
    if (first != entries_.end()) {
      diag_->error(key.Mark(), key_path(key.Scalar()),
                   "duplicate key '" + key.Scalar() + "' (first given at " +
                       diag_->where(first->key_mark) + "); give each key once");
      continue;
    }
    entries_.push_back({key.Scalar(), key.Mark(), pair.second});
  }
}

std::string MapReader::key_path(std::string_view key) const {
  return item_.path.empty() ? std::string(key) : item_.path + "." + std::string(key);
}

std::optional<Item> MapReader::get(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key)
      return Item{e.value, key_path(key), e.value.IsNull() ? e.key_mark : e.value.Mark()};
  }
  return std::nullopt;
}

void MapReader::check_keys(std::span<const std::string_view> allowed,
                           const std::function<std::string(std::string_view)>& misplaced) const {
  const std::string where = item_.path.empty() ? "at the top level" : "in " + item_.path;
  for (const Entry& e : entries_) {
    if (is_one_of(allowed, e.key)) continue;
    std::string message;
    const std::string reason = misplaced ? misplaced(e.key) : std::string();
    if (!reason.empty()) {
      message = "key '" + e.key + "' does not apply " + where + ": " + reason;
    } else if (e.key == "<<") {
      message = "YAML merge keys ('<<') are not supported " + where +
                "; put shared settings under defaults: instead";
    } else {
      message = "unknown key '" + e.key + "' " + where;
      if (const auto suggestion = closest_word(e.key, allowed)) {
        message += " (did you mean '" + std::string(*suggestion) + "'?)";
      }
    }
    message += "; allowed keys: " + join(allowed);
    diag_->error(e.key_mark, key_path(e.key), message);
  }
}

void MapReader::missing(std::string_view key, std::string_view hint) const {
  diag_->error(item_.mark, key_path(key),
               "missing required key '" + std::string(key) + "'; " + std::string(hint));
}

bool MapReader::read(std::string_view key, double* out, const Range& range) const {
  const std::optional<Item> item = get(key);
  if (!item) return false;
  const std::optional<double> v = read_number(*diag_, *item, range);
  if (v) *out = *v;
  return v.has_value();
}

bool MapReader::read(std::string_view key, int* out, const Range& range) const {
  const std::optional<Item> item = get(key);
  if (!item) return false;
  const std::optional<int> v = read_int(*diag_, *item, range);
  if (v) *out = *v;
  return v.has_value();
}

bool MapReader::read(std::string_view key, bool* out) const {
  const std::optional<Item> item = get(key);
  if (!item) return false;
  const std::optional<bool> v = read_bool(*diag_, *item);
  if (v) *out = *v;
  return v.has_value();
}

bool MapReader::read(std::string_view key, std::string* out) const {
  const std::optional<Item> item = get(key);
  if (!item) return false;
  std::optional<std::string> v = read_string(*diag_, *item);
  if (v) *out = std::move(*v);
  return v.has_value();
}

}  // namespace iris::pipeline
