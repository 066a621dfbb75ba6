// The rule registry: one line per rule type, so adding a rule is one file and one line here (plus
// its spec in the RuleSpec variant).
#include <memory>
#include <variant>

#include "rules/crowd.h"
#include "rules/line.h"
#include "rules/loiter.h"
#include "rules/rule.h"
#include "rules/zone.h"

namespace iris::rules {

namespace {
std::unique_ptr<Rule> create(const ZoneSpec& s) { return std::make_unique<ZoneRule>(s); }
std::unique_ptr<Rule> create(const LineSpec& s) { return std::make_unique<LineRule>(s); }
std::unique_ptr<Rule> create(const LoiterSpec& s) { return std::make_unique<LoiterRule>(s); }
std::unique_ptr<Rule> create(const CrowdSpec& s) { return std::make_unique<CrowdRule>(s); }
}  // namespace

std::unique_ptr<Rule> make_rule(const RuleSpec& spec) {
  return std::visit([](const auto& s) { return create(s); }, spec);
}

const RuleCommon& common_of(const RuleSpec& spec) {
  return std::visit([](const auto& s) -> const RuleCommon& { return s.common; }, spec);
}

}  // namespace iris::rules
