// Config of the false-alarm suppression stage, time windows and the loiter and crowd rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <variant>

#include "pipeline/config.h"
#include "pipeline/config_test_support.h"

namespace iris::pipeline {
namespace {

// A stream header whose url is a stand-in video file; tests append its rules and keys.
class ConfigRulesTest : public VideoConfigTest {
 protected:
  // Errors of one stream whose body (keys, rules) is `body`, indented under "  - ".
  std::string stream_errors(const std::string& body) const {
    return errors("streams:\n  - name: cam\n    url: VIDEO\n    detector: {type: hog}\n" + body);
  }
};

TEST_F(ConfigRulesTest, LoiterAndCrowdParseToExactValues) {
  const Result<PipelineSpec> result = parse(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: hog}
    rules:
      - name: bench
        type: loiter
        classes: [person]
        units: normalized
        polygon: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]
        min_time: 30
        max_gap: 8
        active: ["22:00-06:00", "12:30-13:00"]
      - name: square
        type: crowd
        anchor: center
        polygon: [[0, 0], [100, 0], [100, 100], [0, 100]]
        max_count: 5
        min_time: 10
        end_grace: 2.5
      - name: quiet
        type: loiter
        polygon: [[0, 0], [100, 0], [100, 100]]
        min_time: 5
      - name: few
        type: crowd
        polygon: [[0, 0], [100, 0], [100, 100]]
        max_count: 0
)");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const auto& rules = result->streams.at(0).rules;
  ASSERT_EQ(rules.size(), 4u);

  const auto& bench = std::get<rules::LoiterSpec>(rules[0]);
  EXPECT_EQ(bench.common.name, "bench");
  EXPECT_EQ(bench.common.classes, (std::vector<std::string>{"person"}));
  EXPECT_TRUE(bench.common.normalized);
  EXPECT_EQ(bench.polygon, (std::vector<Point>{{0.1, 0.1}, {0.9, 0.1}, {0.5, 0.9}}));
  EXPECT_DOUBLE_EQ(bench.min_time, 30);
  EXPECT_DOUBLE_EQ(bench.max_gap, 8);
  EXPECT_EQ(bench.common.active,
            (std::vector<rules::TimeWindow>{{22 * 60, 6 * 60}, {12 * 60 + 30, 13 * 60}}));
  EXPECT_FALSE(bench.common.suppression.has_value());

  const auto& square = std::get<rules::CrowdSpec>(rules[1]);
  EXPECT_EQ(square.common.anchor, Anchor::kCenter);
  EXPECT_EQ(square.max_count, 5);
  EXPECT_DOUBLE_EQ(square.min_time, 10);
  EXPECT_DOUBLE_EQ(square.end_grace, 2.5);
  EXPECT_TRUE(square.common.active.empty());

  // Documented defaults.
  const auto& quiet = std::get<rules::LoiterSpec>(rules[2]);
  EXPECT_DOUBLE_EQ(quiet.max_gap, rules::LoiterSpec{}.max_gap);
  EXPECT_DOUBLE_EQ(quiet.max_gap, 5);
  const auto& few = std::get<rules::CrowdSpec>(rules[3]);
  EXPECT_EQ(few.max_count, 0);
  EXPECT_DOUBLE_EQ(few.min_time, 0);
  EXPECT_DOUBLE_EQ(few.end_grace, 1);
}

TEST_F(ConfigRulesTest, SuppressionIsOffUnlessGiven) {
  const Result<PipelineSpec> result = parse(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: hog}
    rules: [{name: z, type: zone, polygon: [[0, 0], [10, 0], [10, 10]]}]
)");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const StreamSpec& s = result->streams.at(0);
  EXPECT_EQ(s.suppression, rules::SuppressionSpec{});
  const rules::SuppressionSpec off;
  EXPECT_EQ(off.min_age, 0);
  EXPECT_EQ(off.min_hits, 0);
  EXPECT_EQ(off.min_area, 0);
  EXPECT_EQ(off.score_enter, 0);
  EXPECT_EQ(off.score_stay, 0);
  EXPECT_EQ(off.static_time, 0);
  EXPECT_EQ(off.cooldown, 0);
  const auto& zone = std::get<rules::ZoneSpec>(s.rules.at(0));
  EXPECT_FALSE(zone.common.suppression.has_value());
  EXPECT_TRUE(zone.common.active.empty());
}

TEST_F(ConfigRulesTest, StreamSuppressionAndDefaults) {
  const Result<PipelineSpec> result = parse(R"(defaults:
  detector: {type: hog}
  suppression: {min_age: 1.5, cooldown: 20}
streams:
  - name: a
    url: VIDEO
  - name: b
    url: VIDEO
    suppression:
      min_hits: 4
      min_area: 0.002
      score_enter: 0.6
      score_stay: 0.4
      static_time: 30
      static_distance: 0.25
)");
  ASSERT_TRUE(result.ok()) << result.status().message();
  rules::SuppressionSpec a;
  a.min_age = 1.5;
  a.cooldown = 20;
  EXPECT_EQ(result->streams.at(0).suppression, a);
  // A stream's map replaces the defaults' one as a whole, like every stream key.
  rules::SuppressionSpec b;
  b.min_hits = 4;
  b.min_area = 0.002;
  b.score_enter = 0.6;
  b.score_stay = 0.4;
  b.static_time = 30;
  b.static_distance = 0.25;
  EXPECT_EQ(result->streams.at(1).suppression, b);
}

TEST_F(ConfigRulesTest, RuleSuppressionOverridesTheStreamKeyByKey) {
  const Result<PipelineSpec> result = parse(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: hog}
    suppression: {min_age: 1, score_enter: 0.6, score_stay: 0.4, static_time: 10}
    rules:
      - name: loiter
        type: loiter
        polygon: [[0, 0], [10, 0], [10, 10]]
        min_time: 30
        suppression: {static_time: 0, cooldown: 60}
      - name: plain
        type: line
        points: [[0, 5], [10, 5]]
)");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const StreamSpec& s = result->streams.at(0);
  const auto& loiter = std::get<rules::LoiterSpec>(s.rules.at(0));
  ASSERT_TRUE(loiter.common.suppression.has_value());
  rules::SuppressionSpec expected = s.suppression;
  expected.static_time = 0;
  expected.cooldown = 60;
  EXPECT_EQ(*loiter.common.suppression, expected);
  EXPECT_DOUBLE_EQ(loiter.common.suppression->min_age, 1);  // from the stream
  EXPECT_FALSE(std::get<rules::LineSpec>(s.rules.at(1)).common.suppression.has_value());
}

TEST_F(ConfigRulesTest, ActiveWindowsAtEveryRuleType) {
  const Result<PipelineSpec> result = parse(R"(streams:
  - name: cam
    url: VIDEO
    detector: {type: hog}
    rules:
      - {name: z, type: zone, polygon: [[0, 0], [10, 0], [10, 10]], active: ["00:00-24:00"]}
      - {name: l, type: line, points: [[0, 5], [10, 5]], active: ["23:59-00:01"]}
      - {name: o, type: loiter, polygon: [[0, 0], [10, 0], [10, 10]], min_time: 1,
         active: ["08:00-17:00"]}
      - {name: c, type: crowd, polygon: [[0, 0], [10, 0], [10, 10]], max_count: 2,
         active: [22:00-06:00]}
)");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const auto& r = result->streams.at(0).rules;
  EXPECT_EQ(rules::common_of(r.at(0)).active, (std::vector<rules::TimeWindow>{{0, 1440}}));
  EXPECT_EQ(rules::common_of(r.at(1)).active, (std::vector<rules::TimeWindow>{{1439, 1}}));
  EXPECT_EQ(rules::common_of(r.at(2)).active, (std::vector<rules::TimeWindow>{{480, 1020}}));
  EXPECT_EQ(rules::common_of(r.at(3)).active, (std::vector<rules::TimeWindow>{{1320, 360}}));
}

TEST_F(ConfigRulesTest, BadActiveWindows) {
  const std::string message = stream_errors(R"(    rules:
      - name: z
        type: zone
        polygon: [[0, 0], [10, 0], [10, 10]]
        active: ["25:00-03:00", "8-9", "22:00-22:00", "24:00-06:00", "22:00", "07:60-08:00"]
      - {name: l, type: line, points: [[0, 5], [10, 5]], active: []}
      - {name: m, type: line, points: [[0, 5], [10, 5]], active: "22:00-06:00"}
      - {name: n, type: line, points: [[0, 5], [10, 5]], active: [8]}
)");
  constexpr const char* kForm =
      "write \"HH:MM-HH:MM\" in 24-hour local time, e.g. \"22:00-06:00\" (a window may wrap "
      "midnight)";
  EXPECT_TRUE(contains(message, std::string("test.yaml:9:18: streams[0].rules[0].active[0]: "
                                            "'25:00-03:00' has a time out of range (hours 00 to "
                                            "23, minutes 00 to 59; 24:00 may end a window); ") +
                                    kForm));
  EXPECT_TRUE(contains(message, std::string("test.yaml:9:33: streams[0].rules[0].active[1]: "
                                            "'8-9' is not a time window; ") +
                                    kForm));
  EXPECT_TRUE(contains(message,
                       "test.yaml:9:40: streams[0].rules[0].active[2]: '22:00-22:00' is empty (it "
                       "starts where it ends); give two different times, or leave out active to "
                       "be active all day"));
  EXPECT_TRUE(contains(message,
                       "streams[0].rules[0].active[3]: '24:00-06:00' starts at 24:00; write 00:00 "
                       "for midnight at the start of a window"));
  EXPECT_TRUE(contains(message, "streams[0].rules[0].active[4]: '22:00' is not a time window"));
  EXPECT_TRUE(contains(message,
                       "streams[0].rules[0].active[5]: '07:60-08:00' has a time out of "
                       "range"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:10:66: streams[0].rules[1].active: the list is empty, so the "
                       "rule would never be active; give windows such as [\"22:00-06:00\"], or "
                       "leave out active to be active all day"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:11:66: streams[0].rules[2].active: expected a list, got "
                       "'22:00-06:00'; write e.g. active: [\"22:00-06:00\"]"));
  EXPECT_TRUE(contains(message, "streams[0].rules[3].active[0]: '8' is not a time window"));
}

TEST_F(ConfigRulesTest, ScoreStayAboveScoreEnterIsAnError) {
  const std::string message = errors(R"(defaults:
  detector: {type: hog}
  suppression: {score_stay: 0.3}
streams:
  - name: a
    url: VIDEO
    suppression: {score_enter: 0.5, score_stay: 0.7}
  - name: b
    url: VIDEO
    suppression: {score_enter: 0.6, score_stay: 0.4}
    rules:
      - name: z
        type: zone
        polygon: [[0, 0], [10, 0], [10, 10]]
        suppression: {score_enter: 0.3}
      - name: ok
        type: zone
        polygon: [[0, 0], [10, 0], [10, 10]]
        suppression: {score_enter: 0.4}
)");
  const std::string kFix =
      "; a track must not need a higher score to stay eligible than to become eligible: make "
      "score_stay <= score_enter, e.g. score_enter: 0.6, score_stay: 0.4";
  EXPECT_TRUE(contains(message,
                       "test.yaml:3:29: defaults.suppression.score_stay: score_stay 0.3 "
                       "is above score_enter 0 (the default)" +
                           kFix));
  EXPECT_TRUE(contains(message,
                       "test.yaml:7:49: streams[0].suppression.score_stay: score_stay "
                       "0.7 is above score_enter 0.5" +
                           kFix));
  EXPECT_TRUE(contains(message,
                       "test.yaml:15:36: streams[1].rules[0].suppression.score_enter: score_stay "
                       "0.4 (from the stream) is above score_enter 0.3" +
                           kFix));
  EXPECT_FALSE(contains(message, "rules[1]"));
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 2);  // three lines
}

TEST_F(ConfigRulesTest, SuppressionKeysAreChecked) {
  struct Case {
    std::string yaml_line;  // placed under a stream
    std::string expected;
  };
  const Case cases[] = {
      {"suppression: {min_age: -1}", "suppression.min_age: -1 is out of range; it must be >= 0"},
      {"suppression: {min_hits: 1.5}", "suppression.min_hits: expected a whole number, got '1.5'"},
      {"suppression: {min_area: 1}", "min_area: 1 is out of range; it must be in [0, 1)"},
      {"suppression: {score_enter: 1.5}", "score_enter: 1.5 is out of range; it must be in [0, 1]"},
      {"suppression: {score_stay: -0.1}", "score_stay: -0.1 is out of range; it must be in [0, 1]"},
      {"suppression: {static_time: -3}", "static_time: -3 is out of range; it must be >= 0"},
      {"suppression: {static_distance: -1}",
       "static_distance: -1 is out of range; it must be >= 0"},
      {"suppression: {cooldown: -5}", "cooldown: -5 is out of range; it must be >= 0"},
      {"suppression: {min_hit: 3}",
       "unknown key 'min_hit' in streams[0].suppression (did you mean 'min_hits'?); allowed keys: "
       "min_age, min_hits, min_area, score_enter, score_stay, static_time, static_distance, "
       "cooldown"},
      {"suppression: 3", "streams[0].suppression: expected a map"},
      {"rules: [{name: z, type: zone, polygon: [[0, 0], [1, 0], [1, 1]], suppression: {coldown: "
       "1}}]",
       "unknown key 'coldown' in streams[0].rules[0].suppression (did you mean 'cooldown'?)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml_line);
    const std::string message = stream_errors("    " + c.yaml_line + "\n");
    EXPECT_TRUE(contains(message, "test.yaml:5:"));
    EXPECT_TRUE(contains(message, c.expected));
  }
}

TEST_F(ConfigRulesTest, LoiterAndCrowdKeysAreChecked) {
  const std::string message = stream_errors(R"(    rules:
      - {name: a, type: loiter, polygon: [[0, 0], [10, 0], [10, 10]]}
      - {name: b, type: crowd, polygon: [[0, 0], [10, 0], [10, 10]]}
      - {name: c, type: crowd, polygon: [[0, 0], [10, 0]], max_count: 1.5, end_grace: -1}
      - {name: d, type: loiter, min_time: -1, max_gap: -2}
      - {name: e, type: zone, polygon: [[0, 0], [10, 0], [10, 10]], max_gap: 3}
      - {name: f, type: line, points: [[0, 0], [10, 0]], polygon: [[0, 0], [1, 0], [1, 1]]}
      - {name: g, type: loiter, polygon: [[0, 0], [10, 0], [10, 10]], min_time: 1, max_count: 2}
)");
  EXPECT_TRUE(contains(message,
                       "test.yaml:6:9: streams[0].rules[0].min_time: missing required key "
                       "'min_time'; give the seconds inside that count as loitering, e.g. "
                       "min_time: 30"));
  EXPECT_TRUE(contains(message,
                       "test.yaml:7:9: streams[0].rules[1].max_count: missing required key "
                       "'max_count'; give the most objects allowed inside; more is a crowd, e.g. "
                       "max_count: 5"));
  EXPECT_TRUE(contains(message,
                       "streams[0].rules[2].polygon: has 2 point(s); a crowd rule needs "
                       "at least 3"));
  EXPECT_TRUE(
      contains(message, "streams[0].rules[2].max_count: expected a whole number, got '1.5'"));
  EXPECT_TRUE(contains(message, "streams[0].rules[2].end_grace: -1 is out of range"));
  EXPECT_TRUE(contains(message, "streams[0].rules[3].min_time: -1 is out of range"));
  EXPECT_TRUE(contains(message, "streams[0].rules[3].max_gap: -2 is out of range"));
  EXPECT_TRUE(contains(message,
                       "streams[0].rules[3].polygon: missing required key 'polygon'; a loiter "
                       "rule needs at least 3 [x, y] points"));
  EXPECT_TRUE(contains(message,
                       "streams[0].rules[4].max_gap: key 'max_gap' does not apply in "
                       "streams[0].rules[4]: it is a loiter rule key and this one has type: "
                       "zone; allowed keys: name, type, classes, anchor, units, polygon, "
                       "min_dwell, exit_grace, active, suppression"));
  EXPECT_TRUE(contains(message,
                       "streams[0].rules[5].polygon: key 'polygon' does not apply in "
                       "streams[0].rules[5]: it is a zone, loiter or crowd rule key and this one "
                       "has type: line"));
  EXPECT_TRUE(contains(message,
                       "streams[0].rules[6].max_count: key 'max_count' does not apply in "
                       "streams[0].rules[6]: it is a crowd rule key and this one has type: "
                       "loiter"));
}

TEST_F(ConfigRulesTest, BadRulesAreNotKeptButTheirNamesStillCount) {
  // A rule whose only problem is its window or suppression is reported, not silently kept.
  const std::string message = stream_errors(R"(    rules:
      - {name: z, type: zone, polygon: [[0, 0], [10, 0], [10, 10]], active: ["9-17"]}
      - {name: z, type: crowd, polygon: [[0, 0], [10, 0], [10, 10]], max_count: 1}
)");
  EXPECT_TRUE(contains(message, "'9-17' is not a time window"));
  EXPECT_TRUE(contains(message, "duplicate rule name 'z'"));
}

}  // namespace
}  // namespace iris::pipeline
