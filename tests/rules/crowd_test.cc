#include "rules/crowd.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "scene.h"

namespace iris::rules {
namespace {

using testing::object;
using testing::Runner;

const std::vector<Point> kSquare{{100, 100}, {300, 100}, {300, 300}, {100, 300}};
constexpr Point kOut{50, 200};

CrowdSpec plaza(int max_count = 2, double min_time = 1) {
  CrowdSpec s;
  s.common.name = "plaza";
  s.polygon = kSquare;
  s.max_count = max_count;
  s.min_time = min_time;
  return s;
}

// Person `i` standing inside the square, each at its own place.
track::Track person(int64_t i, const std::string& label = "person") {
  return object(i, {120.0 + 30 * i, 150.0 + 10 * i}, label);
}

// Persons 1..n inside, persons n+1..3 outside.
std::vector<track::Track> inside(int n) {
  std::vector<track::Track> out;
  for (int i = 1; i <= 3; ++i) out.push_back(i <= n ? person(i) : object(i, kOut));
  return out;
}

// Runs `rule` with count_at(frame) persons inside.
std::vector<testing::Raised> run(Rule* rule, int frames, const std::function<int(int)>& count_at) {
  return testing::run_frames(rule, frames, [&count_at](int f) { return inside(count_at(f)); });
}

TEST(CrowdRule, StartAndEndAtExactTimes) {
  CrowdRule rule(plaza(2, 1));
  // Two inside from frame 0, a third from frame 10 (t = 1 s) to 49, then two again.
  const auto raised = run(&rule, 80, [](int f) { return f >= 10 && f < 50 ? 3 : 2; });
  ASSERT_EQ(raised.size(), 2u);

  const events::Event& start = raised[0].event;
  EXPECT_EQ(start.type, "crowd_start");
  EXPECT_EQ(raised[0].at, 20);  // more than 2 since t = 1 s, for min_time 1 s
  EXPECT_EQ(start.frame, 20);
  EXPECT_DOUBLE_EQ(start.media_time, 2.0);
  EXPECT_EQ(start.rule, "plaza");
  EXPECT_EQ(start.track_id, 0);
  EXPECT_EQ(start.count, 3);
  EXPECT_EQ(start.label, "person");
  EXPECT_FLOAT_EQ(start.confidence, 0.8f);
  // Union of the three boxes: feet at (150,160), (180,170), (210,180), boxes 20x40.
  EXPECT_EQ(start.box, (Box{140, 120, 220, 180}));
  EXPECT_FALSE(start.duration.has_value());

  // Back to 2 at frame 50 (t = 5 s); ended after end_grace (1 s), dated when it went back.
  const events::Event& end = raised[1].event;
  EXPECT_EQ(end.type, "crowd_end");
  EXPECT_EQ(raised[1].at, 60);
  EXPECT_EQ(end.frame, 50);
  EXPECT_DOUBLE_EQ(end.media_time, 5.0);
  EXPECT_NEAR(*end.duration, 4.0, 1e-9);  // from t = 1 s, when the count first exceeded 2
  EXPECT_EQ(end.count, 3);                // the most inside at once
  EXPECT_EQ(end.track_id, 0);
  EXPECT_EQ(end.box, (Box{140, 120, 220, 180}));
  EXPECT_EQ(rule.counters(), (std::map<std::string, int64_t>{{"start", 1}, {"end", 1}}));
}

TEST(CrowdRule, FlickerWithinEndGraceIsOneCrowd) {
  CrowdRule rule(plaza(2, 0));
  // 3 inside with dips to 2 for 0.5 s (< end_grace 1 s) every 2 s, then 2 from frame 60.
  const auto raised = run(&rule, 90, [](int f) { return f < 60 && f % 20 < 15 ? 3 : 2; });
  ASSERT_EQ(raised.size(), 2u);
  EXPECT_EQ(raised[0].event.type, "crowd_start");
  EXPECT_EQ(raised[0].at, 0);
  EXPECT_EQ(raised[1].event.type, "crowd_end");
  EXPECT_EQ(raised[1].event.frame, 55);  // the last dip, which did not end
  EXPECT_EQ(raised[1].at, 65);
  EXPECT_NEAR(*raised[1].event.duration, 5.5, 1e-9);
}

TEST(CrowdRule, EndGraceIsConfigurable) {
  CrowdSpec spec = plaza(2, 0);
  spec.end_grace = 0.3;
  CrowdRule rule(spec);
  // The same dips (0.5 s) now end each crowd.
  const auto raised = run(&rule, 60, [](int f) { return f % 20 < 15 ? 3 : 2; });
  ASSERT_EQ(raised.size(), 6u);
  EXPECT_EQ(raised[1].event.type, "crowd_end");
  EXPECT_EQ(raised[1].at, 18);
  EXPECT_EQ(raised[2].event.type, "crowd_start");
  EXPECT_EQ(raised[2].at, 20);
}

TEST(CrowdRule, CrowdShorterThanMinTimeRaisesNothing) {
  CrowdRule rule(plaza(2, 2));
  // 3 inside for 1.5 s, twice, with 1.5 s (> end_grace) between.
  const auto raised = run(&rule, 80, [](int f) { return f % 30 < 15 ? 3 : 2; });
  EXPECT_TRUE(raised.empty());
  EXPECT_EQ(rule.counters(), (std::map<std::string, int64_t>{{"start", 0}, {"end", 0}}));
}

TEST(CrowdRule, DipsShorterThanEndGraceDoNotRestartMinTime) {
  CrowdRule rule(plaza(2, 2));
  // 3 inside from frame 0 with one 0.3 s dip at frames 10-12: min_time still counts from 0.
  const auto raised = run(&rule, 30, [](int f) { return f >= 10 && f < 13 ? 2 : 3; });
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, 20);
}

TEST(CrowdRule, ExactlyMaxCountIsNoCrowd) {
  CrowdRule rule(plaza(3, 0));
  EXPECT_TRUE(run(&rule, 30, [](int) { return 3; }).empty());
}

TEST(CrowdRule, ClassFilterAndObjectsOutside) {
  CrowdSpec spec = plaza(1, 0);
  spec.common.classes = {"person"};
  CrowdRule rule(spec);
  Runner r(&rule);
  // Two cars inside, one person inside, two persons outside: one counts.
  const std::vector<track::Track> scene{person(1, "car"), person(2, "car"), person(3),
                                        object(4, kOut), object(5, {400, 400})};
  for (int f = 0; f < 10; ++f) r.step(scene);
  EXPECT_TRUE(r.events().empty());
  EXPECT_EQ(rule.overlay().caption, "plaza  inside 1 (max 1)  crowds 0");
  std::vector<track::Track> more = scene;
  more.push_back(person(6));
  const auto out = r.step(more);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].count, 2);
  EXPECT_EQ(out[0].label, "person");
}

TEST(CrowdRule, GroupOfSeveralClassesAndTentativeTracks) {
  CrowdRule rule(plaza(1, 0));
  Runner r(&rule);
  track::Track tentative = person(3);
  tentative.confirmed = false;
  EXPECT_TRUE(r.step({person(1), tentative}).empty());  // a tentative track does not count
  const auto out = r.step({person(1), person(2, "bicycle")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].label, "bicycle,person");
  EXPECT_EQ(out[0].count, 2);
}

TEST(CrowdRule, OverlayAndRegistry) {
  const std::unique_ptr<Rule> rule = make_rule(plaza(2, 0));
  EXPECT_STREQ(rule->type(), "crowd");
  EXPECT_EQ(rule->name(), "plaza");
  ASSERT_NE(dynamic_cast<CrowdRule*>(rule.get()), nullptr);
  run(rule.get(), 10, [](int f) { return f < 5 ? 2 : 3; });
  const Overlay o = rule->overlay();
  EXPECT_TRUE(o.closed);
  EXPECT_EQ(o.points, kSquare);
  EXPECT_EQ(o.caption, "plaza  inside 3 (max 2)  crowds 1");
  EXPECT_DOUBLE_EQ(o.last_event_time, 0.5);
}

}  // namespace
}  // namespace iris::rules
