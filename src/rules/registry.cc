// The rule registry: one line per rule type, so adding a rule is one file and one line here (plus
// its spec in the RuleSpec variant).
#include <memory>
#include <variant>

#include "rules/line.h"
#include "rules/rule.h"
#include "rules/zone.h"

namespace iris::rules {

namespace {
std::unique_ptr<Rule> create(const ZoneSpec& s) { return std::make_unique<ZoneRule>(s); }
std::unique_ptr<Rule> create(const LineSpec& s) { return std::make_unique<LineRule>(s); }
}  // namespace

std::unique_ptr<Rule> make_rule(const RuleSpec& spec) {
  return std::visit([](const auto& s) { return create(s); }, spec);
}

}  // namespace iris::rules
