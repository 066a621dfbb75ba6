#include "rules/loiter.h"

#include <gtest/gtest.h>

#include <memory>

#include "rules/zone.h"
#include "scene.h"

namespace iris::rules {
namespace {

using testing::object;
using testing::run_one;
using testing::Runner;

constexpr Point kIn{200, 200};
constexpr Point kOut{50, 200};
const std::vector<Point> kSquare{{100, 100}, {300, 100}, {300, 300}, {100, 300}};

LoiterSpec lobby(double min_time = 2, double max_gap = 5) {
  LoiterSpec s;
  s.common.name = "lobby";
  s.polygon = kSquare;
  s.min_time = min_time;
  s.max_gap = max_gap;
  return s;
}

// Inside on frames 0-14 (1.4 s), outside on 15-34 (2 s), inside again from 35.
Point pacing(int f) { return f < 15 || f >= 35 ? kIn : kOut; }

TEST(LoiterRule, ShortExitPausesTheClockWhereAZoneDwellStartsOver) {
  LoiterRule loiter(lobby(2, 5));
  const auto raised = run_one(&loiter, 60, pacing);
  ASSERT_EQ(raised.size(), 1u);
  const events::Event& e = raised[0].event;
  EXPECT_EQ(e.type, "loiter_start");
  // 1.4 s before the exit, 0.6 s more after coming back at frame 35.
  EXPECT_EQ(raised[0].at, 41);
  EXPECT_EQ(e.frame, 41);
  EXPECT_DOUBLE_EQ(e.media_time, 4.1);
  ASSERT_TRUE(e.duration.has_value());
  EXPECT_NEAR(*e.duration, 2.0, 1e-9);
  EXPECT_EQ(e.rule, "lobby");
  EXPECT_EQ(e.track_id, 1);
  EXPECT_EQ(e.label, "person");
  EXPECT_EQ(e.box, (Box{190, 160, 210, 200}));
  EXPECT_FALSE(e.reason.has_value());

  // An intrusion zone with the same dwell: the exit ended the first visit, so its clock starts
  // again at frame 35 and needs the full 2 s.
  ZoneSpec zone;
  zone.common.name = "door";
  zone.polygon = kSquare;
  zone.min_dwell = 2;
  ZoneRule door(zone);
  const auto zone_raised = run_one(&door, 60, pacing);
  ASSERT_EQ(zone_raised.size(), 1u);
  EXPECT_EQ(zone_raised[0].event.type, "zone_enter");
  EXPECT_EQ(zone_raised[0].at, 55);
}

TEST(LoiterRule, ExitOfMaxGapEndsTheVisit) {
  LoiterRule rule(lobby(1, 2));
  // Inside 0-19 (1.9 s), outside from 20: the visit ends 2 s later, dated when it went out.
  const auto raised = run_one(&rule, 50, [](int f) { return f < 20 ? kIn : kOut; });
  ASSERT_EQ(raised.size(), 2u);
  EXPECT_EQ(raised[0].event.type, "loiter_start");
  EXPECT_EQ(raised[0].at, 10);
  EXPECT_NEAR(*raised[0].event.duration, 1.0, 1e-9);
  const events::Event& end = raised[1].event;
  EXPECT_EQ(end.type, "loiter_end");
  EXPECT_EQ(raised[1].at, 40);
  EXPECT_EQ(end.frame, 20);
  EXPECT_DOUBLE_EQ(end.media_time, 2.0);
  EXPECT_EQ(end.box, (Box{40, 160, 60, 200}));
  EXPECT_NEAR(*end.duration, 1.9, 1e-9);
  EXPECT_EQ(end.reason, "left");
  EXPECT_EQ(rule.tracked_count(), 0u);
}

TEST(LoiterRule, TimeOutsideDoesNotCount) {
  LoiterRule rule(lobby(2, 5));
  // Alternating 5 frames in, 5 out: 0.4 s inside per 1 s, so 2 s inside takes 5 cycles.
  const auto raised = run_one(&rule, 80, [](int f) { return f % 10 < 5 ? kIn : kOut; });
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, 44);
  EXPECT_NEAR(*raised[0].event.duration, 2.0, 1e-9);
}

TEST(LoiterRule, NewVisitAfterTheEndStartsFromZero) {
  LoiterRule rule(lobby(1, 0.5));
  // Inside 0-14, outside 15-24 (1 s > max_gap), inside from 25.
  const auto raised = run_one(&rule, 45, [](int f) { return f < 15 || f >= 25 ? kIn : kOut; });
  ASSERT_EQ(raised.size(), 3u);
  EXPECT_EQ(raised[0].event.type, "loiter_start");
  EXPECT_EQ(raised[0].at, 10);
  EXPECT_EQ(raised[1].event.type, "loiter_end");
  EXPECT_EQ(raised[1].at, 20);
  EXPECT_NEAR(*raised[1].event.duration, 1.4, 1e-9);
  EXPECT_EQ(raised[2].event.type, "loiter_start");
  EXPECT_EQ(raised[2].at, 35);
  EXPECT_EQ(rule.counters(), (std::map<std::string, int64_t>{{"start", 2}, {"end", 1}}));
}

TEST(LoiterRule, VisitShorterThanMinTimeRaisesNothing) {
  LoiterRule rule(lobby(2, 0.5));
  const auto raised = run_one(&rule, 40, [](int f) { return f < 15 ? kIn : kOut; });
  EXPECT_TRUE(raised.empty());
  EXPECT_EQ(rule.tracked_count(), 0u);
}

TEST(LoiterRule, TrackLostInsideEndsWithReasonLost) {
  LoiterRule rule(lobby(1));
  Runner r(&rule);
  for (int f = 0; f < 15; ++f) r.step(object(1, kIn));  // matched on frames 0-14
  track::Track coasting = object(1, kIn);
  coasting.matched = false;
  coasting.last_matched = 1.4;
  for (int f = 15; f < 20; ++f) r.step(coasting);
  const auto out = r.step({}, {coasting});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, "loiter_end");
  EXPECT_EQ(out[0].reason, "lost");
  EXPECT_EQ(out[0].frame, 14);
  EXPECT_DOUBLE_EQ(out[0].media_time, 1.4);
  // Time inside up to the last match: predicted frames do not add to it.
  EXPECT_NEAR(*out[0].duration, 1.4, 1e-9);
  EXPECT_EQ(rule.tracked_count(), 0u);
}

TEST(LoiterRule, TrackSeenLeavingThenRemovedLeft) {
  LoiterRule rule(lobby(1));
  Runner r(&rule);
  for (int f = 0; f < 15; ++f) r.step(object(1, kIn));
  for (int f = 15; f < 18; ++f) r.step(object(1, kOut));  // matched outside, gap still running
  const auto out = r.step({}, {object(1, kOut)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].reason, "left");
  EXPECT_EQ(out[0].frame, 15);
  EXPECT_NEAR(*out[0].duration, 1.4, 1e-9);
}

TEST(LoiterRule, ClassFilter) {
  LoiterSpec spec = lobby(1);
  spec.common.classes = {"car"};
  LoiterRule rule(spec);
  Runner r(&rule);
  for (int f = 0; f < 30; ++f) r.step({object(1, kIn, "person"), object(2, kIn, "car")});
  ASSERT_EQ(r.events().size(), 1u);
  EXPECT_EQ(r.events()[0].track_id, 2);
  EXPECT_EQ(r.events()[0].label, "car");
  EXPECT_EQ(rule.tracked_count(), 1u);  // no state for the person
}

TEST(LoiterRule, StateIsBoundedByRemovedTracks) {
  LoiterRule rule(lobby(0));
  Runner r(&rule);
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<track::Track> live;
    for (int i = 0; i < 100; ++i) live.push_back(object(batch * 100 + i, {110.0 + i, 150}));
    r.step(live);
    EXPECT_EQ(rule.tracked_count(), 100u);
    r.step({}, live);
    EXPECT_EQ(rule.tracked_count(), 0u);
  }
  EXPECT_EQ(rule.counters(), (std::map<std::string, int64_t>{{"start", 1000}, {"end", 1000}}));
}

TEST(LoiterRule, OverlayAndRegistry) {
  const std::unique_ptr<Rule> rule = make_rule(lobby(1));
  EXPECT_STREQ(rule->type(), "loiter");
  EXPECT_EQ(rule->name(), "lobby");
  ASSERT_NE(dynamic_cast<LoiterRule*>(rule.get()), nullptr);
  EXPECT_LT(rule->overlay().last_event_time, 0);
  run_one(rule.get(), 15, [](int) { return kIn; });
  const Overlay o = rule->overlay();
  EXPECT_TRUE(o.closed);
  EXPECT_EQ(o.points, kSquare);
  EXPECT_EQ(o.caption, "lobby  loitering 1  total 1");
  EXPECT_DOUBLE_EQ(o.last_event_time, 1.0);
}

}  // namespace
}  // namespace iris::rules
