#include "eval/events_eval.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace iris::eval {
namespace {

using nlohmann::json;

// A truth with one stream of `duration` seconds and the rules gate (line) and yard (zone), and the
// events as JSON lines, built up by the test.
struct Inputs {
  explicit Inputs(double duration = 3600) {
    truth = {{"schema", "iris.truth.v1"},
             {"streams",
              {{{"name", "synth"},
                {"duration", duration},
                {"rules", {{{"name", "gate"}, {"type", "line"}}, {{"name", "yard"}}}}}}},
             {"events", json::array()}};
  }
  static json event(const std::string& rule, const std::string& type, double t,
                    const std::string& direction = "") {
    json e{{"stream", "synth"}, {"rule", rule}, {"type", type}, {"media_time", t}};
    if (!direction.empty()) e["direction"] = direction;
    return e;
  }
  void add_truth(const std::string& rule, const std::string& type, double t,
                 const std::string& direction = "") {
    truth["events"].push_back(event(rule, type, t, direction));
  }
  void add_event(const std::string& rule, const std::string& type, double t,
                 const std::string& direction = "") {
    events += event(rule, type, t, direction).dump() + "\n";
  }
  Result<EventsReport> evaluate(double tolerance = 1) const {
    return evaluate_events_text(truth.dump(), "truth.json", events, "events.jsonl", tolerance);
  }
  std::string error(double tolerance = 1) const {
    auto r = evaluate(tolerance);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.status().message();
  }

  json truth;
  std::string events;
};

TEST(EventsEval, ExactEventsScoreOne) {
  Inputs in;
  in.add_truth("gate", "line_cross", 3.4, "A->B");
  in.add_truth("yard", "zone_enter", 5);
  in.add_truth("yard", "zone_exit", 9);
  in.add_event("yard", "zone_enter", 5.2);
  in.add_event("gate", "line_cross", 3.4, "A->B");
  in.add_event("yard", "zone_exit", 8.9);
  auto r = in.evaluate();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->total.truth, 3);
  EXPECT_EQ(r->total.detected, 3);
  EXPECT_EQ(r->total.matched, 3);
  EXPECT_DOUBLE_EQ(*r->total.precision(), 1);
  EXPECT_DOUBLE_EQ(*r->total.recall(), 1);
  EXPECT_DOUBLE_EQ(*r->false_alarms_per_hour(r->total), 0);
  EXPECT_NEAR(*r->total.mean_abs_dt(), 0.1, 1e-9);
  EXPECT_DOUBLE_EQ(r->camera_hours, 1);
}

TEST(EventsEval, ToleranceIsInclusive) {
  Inputs in;
  in.add_truth("yard", "zone_enter", 10.0);
  in.add_truth("yard", "zone_enter", 20.0);
  in.add_event("yard", "zone_enter", 10.5);    // exactly the tolerance: a match
  in.add_event("yard", "zone_enter", 20.501);  // just beyond: a miss and a false alarm
  auto r = in.evaluate(0.5);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->total.matched, 1);
  EXPECT_EQ(r->total.missed(), 1);
  EXPECT_EQ(r->total.false_alarms(), 1);
  EXPECT_DOUBLE_EQ(*r->total.precision(), 0.5);
  EXPECT_DOUBLE_EQ(*r->total.recall(), 0.5);
}

TEST(EventsEval, MatchingIsOneToOne) {
  Inputs in;
  in.add_truth("yard", "zone_enter", 10);
  in.add_event("yard", "zone_enter", 10.1);
  in.add_event("yard", "zone_enter", 9.9);
  auto r = in.evaluate();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->total.matched, 1);
  EXPECT_EQ(r->total.false_alarms(), 1);
  EXPECT_DOUBLE_EQ(*r->total.precision(), 0.5);
  EXPECT_DOUBLE_EQ(*r->total.recall(), 1);
}

TEST(EventsEval, MatchingFindsTheMostPairsNotTheClosestFirst) {
  // Closest first would pair 1 with 0.9 and leave 0 and 1.8 unpaired; two pairs are possible.
  Inputs in;
  in.add_truth("yard", "zone_enter", 0);
  in.add_truth("yard", "zone_enter", 1);
  in.add_event("yard", "zone_enter", 0.9);
  in.add_event("yard", "zone_enter", 1.8);
  auto r = in.evaluate(1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->total.matched, 2);
  EXPECT_NEAR(r->total.abs_dt_sum, 0.9 + 0.8, 1e-9);
}

TEST(EventsEval, AmongEqualCountsTheClosestPairsWin) {
  Inputs in;
  in.add_truth("yard", "zone_enter", 10);
  in.add_truth("yard", "zone_enter", 11);
  in.add_event("yard", "zone_enter", 10.2);
  in.add_event("yard", "zone_enter", 10.9);
  auto r = in.evaluate(1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->total.matched, 2);
  EXPECT_NEAR(r->total.abs_dt_sum, 0.3, 1e-9);
}

TEST(EventsEval, DirectionRuleAndTypeMustAgree) {
  Inputs in;
  in.add_truth("gate", "line_cross", 5, "A->B");
  in.add_truth("yard", "zone_enter", 7);
  in.add_event("gate", "line_cross", 5, "B->A");
  in.add_event("gate", "zone_enter", 7);
  in.add_event("yard", "zone_exit", 7);
  auto r = in.evaluate();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->total.matched, 0);
  EXPECT_EQ(r->total.missed(), 2);
  EXPECT_EQ(r->total.false_alarms(), 3);
  EXPECT_DOUBLE_EQ(*r->total.precision(), 0);
}

TEST(EventsEval, FalseAlarmsPerCameraHourAndBreakdowns) {
  Inputs in(1800);  // half an hour
  in.add_truth("gate", "line_cross", 5, "A->B");
  in.add_truth("yard", "zone_enter", 7);
  in.add_event("gate", "line_cross", 5.1, "A->B");
  in.add_event("gate", "line_cross", 50, "A->B");
  in.add_event("gate", "line_cross", 60, "B->A");
  in.add_event("yard", "zone_exit", 70);
  auto r = in.evaluate();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_DOUBLE_EQ(r->camera_hours, 0.5);
  EXPECT_EQ(r->total.false_alarms(), 3);
  EXPECT_DOUBLE_EQ(*r->false_alarms_per_hour(r->total), 6);

  const EventCounts& gate = r->by_rule.at({"synth", "gate", "line_cross"});
  EXPECT_EQ(gate.truth, 1);
  EXPECT_EQ(gate.detected, 3);
  EXPECT_EQ(gate.matched, 1);
  EXPECT_DOUBLE_EQ(*r->false_alarms_per_hour(gate), 4);
  const EventCounts& enter = r->by_rule.at({"synth", "yard", "zone_enter"});
  EXPECT_EQ(enter.missed(), 1);
  EXPECT_FALSE(enter.precision().has_value());  // nothing raised: no precision to speak of
  EXPECT_DOUBLE_EQ(*enter.recall(), 0);
  const EventCounts& exit = r->by_type.at("zone_exit");
  EXPECT_FALSE(exit.recall().has_value());  // nothing to find
  EXPECT_EQ(exit.false_alarms(), 1);
  EXPECT_EQ(r->by_type.at("line_cross").detected, 3);
}

TEST(EventsEval, BlankLinesAreSkippedAndExtraFieldsIgnored) {
  Inputs in;
  in.add_truth("yard", "zone_enter", 7);
  in.events =
      "\n{\"schema\":\"iris.event.v1\",\"stream\":\"synth\",\"rule\":\"yard\","
      "\"type\":\"zone_enter\",\"media_time\":7,\"track_id\":3}\n\n";
  auto r = in.evaluate();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->total.matched, 1);
}

TEST(EventsEvalErrors, MalformedEventsNameTheLine) {
  Inputs in;
  in.events =
      "{\"stream\":\"synth\",\"rule\":\"yard\",\"type\":\"zone_enter\",\"media_time\":1}\n{";
  EXPECT_EQ(in.error().rfind("events.jsonl:2: not valid JSON (", 0), 0u) << in.error();

  in.events = "\n{\"stream\":\"synth\",\"rule\":\"yard\",\"type\":\"zone_enter\"}\n";
  EXPECT_EQ(in.error(), "events.jsonl:2: missing field 'media_time'");

  in.events =
      "{\"stream\":\"synth\",\"rule\":\"yard\",\"type\":\"zone_enter\",\"media_time\":\"1\"}";
  EXPECT_EQ(in.error(), "events.jsonl:1: 'media_time' must be a number, got \"1\"");

  in.events = "[1, 2]";
  EXPECT_EQ(in.error(), "events.jsonl:1: expected a JSON object, got [1,2]");

  in.events = "{\"stream\":\"synth\",\"rule\":\"gate\",\"type\":\"line_cross\",\"media_time\":1}";
  EXPECT_EQ(in.error(), "events.jsonl:1: missing field 'direction'");

  in.events =
      "{\"stream\":\"synth\",\"rule\":\"gate\",\"type\":\"line_cross\",\"media_time\":1,"
      "\"direction\":\"up\"}";
  EXPECT_EQ(in.error(), "events.jsonl:1: 'direction' must be \"A->B\" or \"B->A\", got \"up\"");
}

TEST(EventsEvalErrors, EventsOfAnotherSceneAreRefused) {
  Inputs in;
  in.add_event("yard", "zone_enter", 1);
  in.events +=
      "{\"stream\":\"lobby\",\"rule\":\"yard\",\"type\":\"zone_enter\",\"media_time\":1}\n";
  EXPECT_EQ(in.error(),
            "events.jsonl:2: stream 'lobby' is not in truth.json (it has: synth); compare a run "
            "with the truth of the same scene");
  in.events = Inputs::event("door", "zone_enter", 1).dump();
  EXPECT_EQ(in.error(),
            "events.jsonl:1: rule 'door' is not a rule of stream 'synth' in truth.json (it has: "
            "gate, yard); compare a run with the truth of the same scene");
}

TEST(EventsEvalErrors, MalformedTruthNamesTheRecord) {
  Inputs in;
  in.truth["streams"][0].erase("duration");
  EXPECT_EQ(in.error(), "truth.json: streams[0]: missing field 'duration'");

  Inputs zero(0);
  EXPECT_EQ(zero.error(), "truth.json: streams[0]: 'duration' must be > 0 seconds, got 0.0");

  Inputs twice;
  twice.truth["streams"].push_back(twice.truth["streams"][0]);
  EXPECT_EQ(twice.error(), "truth.json: streams[1]: stream 'synth' is listed twice");

  Inputs event;
  event.add_truth("yard", "zone_enter", 1);
  event.add_truth("yard", "zone_enter", -1);
  EXPECT_EQ(event.error(), "truth.json: events[1]: 'media_time' must be >= 0, got -1.0");

  Inputs list;
  list.truth.erase("events");
  EXPECT_EQ(list.error(), "truth.json: 'events' must be a list");

  EXPECT_EQ(evaluate_events_text("{\"streams\": [", "truth.json", "", "events.jsonl", 1)
                .status()
                .message()
                .substr(0, 26),
            "truth.json: not valid JSON");
}

TEST(EventsEvalErrors, ToleranceAndFiles) {
  Inputs in;
  EXPECT_EQ(in.error(-1), "the tolerance must be a number of seconds >= 0");
  auto r = evaluate_events("/nonexistent/iris/truth.json", "/nonexistent/events.jsonl", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/iris/truth.json"), std::string::npos);
}

}  // namespace
}  // namespace iris::eval
