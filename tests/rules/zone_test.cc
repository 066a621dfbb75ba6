#include "rules/zone.h"

#include <gtest/gtest.h>

#include <memory>

#include "scene.h"

namespace iris::rules {
namespace {

using testing::object;
using testing::run_one;
using testing::Runner;

constexpr Point kIn{200, 200};
constexpr Point kOut{50, 200};

// 200x200 square at (100,100)-(300,300) in pixels.
ZoneSpec square(double min_dwell = 0, double exit_grace = 0.5) {
  ZoneSpec s;
  s.common.name = "door";
  s.polygon = {{100, 100}, {300, 100}, {300, 300}, {100, 300}};
  s.min_dwell = min_dwell;
  s.exit_grace = exit_grace;
  return s;
}

TEST(ZoneRule, EnterAndExitAtExactFramesWithDuration) {
  ZoneRule rule(square());
  // Outside on frames 0-2, inside on 3-12, outside from 13 on.
  const auto raised = run_one(&rule, 30, [](int f) { return f >= 3 && f <= 12 ? kIn : kOut; });
  ASSERT_EQ(raised.size(), 2u);

  const events::Event& enter = raised[0].event;
  EXPECT_EQ(raised[0].at, 3);
  EXPECT_EQ(enter.type, "zone_enter");
  EXPECT_EQ(enter.frame, 3);
  EXPECT_DOUBLE_EQ(enter.media_time, 0.3);
  EXPECT_DOUBLE_EQ(enter.wall_time, testing::kWallStart + 0.3);
  EXPECT_EQ(enter.id.size(), 26u);
  EXPECT_EQ(enter.rule, "door");
  EXPECT_EQ(enter.stream, "cam");
  EXPECT_EQ(enter.track_id, 1);
  EXPECT_EQ(enter.label, "person");
  EXPECT_FLOAT_EQ(enter.confidence, 0.8f);
  EXPECT_EQ(enter.box, (Box{190, 160, 210, 200}));
  EXPECT_FALSE(enter.duration.has_value());
  EXPECT_FALSE(enter.reason.has_value());

  // Raised once the anchor has been outside for exit_grace (frame 13 + 0.5 s), but dated at the
  // first outside frame.
  const events::Event& exit = raised[1].event;
  EXPECT_EQ(raised[1].at, 18);
  EXPECT_EQ(exit.type, "zone_exit");
  EXPECT_EQ(exit.frame, 13);
  EXPECT_DOUBLE_EQ(exit.media_time, 1.3);
  ASSERT_TRUE(exit.duration.has_value());
  EXPECT_NEAR(*exit.duration, 1.0, 1e-9);
  EXPECT_EQ(exit.reason, "left");
  EXPECT_NE(exit.id, enter.id);
  EXPECT_EQ(rule.tracked_count(), 0u);
}

TEST(ZoneRule, ZeroGraceEndsTheVisitOnTheFirstOutsideFrame) {
  ZoneRule rule(square(0, 0));
  const auto raised = run_one(&rule, 10, [](int f) { return f >= 2 && f <= 4 ? kIn : kOut; });
  ASSERT_EQ(raised.size(), 2u);
  EXPECT_EQ(raised[1].at, 5);
  EXPECT_EQ(raised[1].event.frame, 5);
  EXPECT_NEAR(*raised[1].event.duration, 0.3, 1e-9);
}

TEST(ZoneRule, ShortVisitBelowMinDwellRaisesNothing) {
  ZoneRule rule(square(1.0));
  // Inside on frames 0-8: 0.8 s < 1 s.
  const auto raised = run_one(&rule, 30, [](int f) { return f <= 8 ? kIn : kOut; });
  EXPECT_TRUE(raised.empty());
  EXPECT_EQ(rule.counters(), (std::map<std::string, int64_t>{{"enter", 0}, {"exit", 0}}));
  EXPECT_EQ(rule.tracked_count(), 0u);
}

TEST(ZoneRule, LongVisitRaisesEnterAfterMinDwell) {
  ZoneRule rule(square(1.0));
  // Inside from frame 3 (t_in 0.3) to frame 24, outside from frame 25 (2.5 s).
  const auto raised = run_one(&rule, 40, [](int f) { return f >= 3 && f <= 24 ? kIn : kOut; });
  ASSERT_EQ(raised.size(), 2u);
  EXPECT_EQ(raised[0].event.type, "zone_enter");
  EXPECT_EQ(raised[0].at, 13);
  EXPECT_EQ(raised[0].event.frame, 13);
  EXPECT_DOUBLE_EQ(raised[0].event.media_time, 1.3);
  EXPECT_EQ(raised[1].event.type, "zone_exit");
  EXPECT_EQ(raised[1].event.frame, 25);
  // Duration counts from the first inside frame, not from the enter event.
  EXPECT_NEAR(*raised[1].event.duration, 2.2, 1e-9);
}

TEST(ZoneRule, BoundaryJitterWithinGraceIsOneVisit) {
  ZoneRule rule(square());
  // Frames 0-39 alternate 2 inside / 2 outside (0.2 s out < 0.5 s grace); outside from 40 on.
  const auto raised = run_one(&rule, 60, [](int f) {
    return f < 40 && f % 4 < 2 ? Point{299, 200} : kOut;
  });
  ASSERT_EQ(raised.size(), 2u);
  EXPECT_EQ(raised[0].event.type, "zone_enter");
  EXPECT_EQ(raised[0].event.frame, 0);
  EXPECT_EQ(raised[1].event.type, "zone_exit");
  // The last excursion starts at frame 38.
  EXPECT_EQ(raised[1].event.frame, 38);
  EXPECT_NEAR(*raised[1].event.duration, 3.8, 1e-9);
}

TEST(ZoneRule, JitterBeforeMinDwellKeepsTheVisitClock) {
  ZoneRule rule(square(1.0));
  // Inside from 0 with one-frame dips outside every 5th frame: the visit started at 0 goes on.
  const auto raised = run_one(&rule, 20, [](int f) { return f % 5 == 4 ? kOut : kIn; });
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].event.type, "zone_enter");
  EXPECT_EQ(raised[0].event.frame, 10);
}

TEST(ZoneRule, ReEntryAfterRealExitIsASecondVisit) {
  ZoneRule rule(square());
  // Inside 0-9, outside 10-19 (1 s > grace), inside 20-29, outside from 30.
  const auto raised =
      run_one(&rule, 45, [](int f) { return (f / 10) % 2 == 0 && f < 30 ? kIn : kOut; });
  ASSERT_EQ(raised.size(), 4u);
  EXPECT_EQ(raised[0].event.type, "zone_enter");
  EXPECT_EQ(raised[0].event.frame, 0);
  EXPECT_EQ(raised[1].event.type, "zone_exit");
  EXPECT_EQ(raised[1].event.frame, 10);
  EXPECT_NEAR(*raised[1].event.duration, 1.0, 1e-9);
  EXPECT_EQ(raised[2].event.type, "zone_enter");
  EXPECT_EQ(raised[2].event.frame, 20);
  EXPECT_EQ(raised[3].event.type, "zone_exit");
  EXPECT_EQ(raised[3].event.frame, 30);
  EXPECT_NEAR(*raised[3].event.duration, 1.0, 1e-9);
  EXPECT_EQ(rule.counters(), (std::map<std::string, int64_t>{{"enter", 2}, {"exit", 2}}));
}

TEST(ZoneRule, TrackLostInsideExitsWithReasonLost) {
  ZoneRule rule(square());
  Runner r(&rule);
  for (int f = 0; f < 10; ++f) r.step(object(1, kIn));  // matched on frames 0-9
  track::Track coasting = object(1, kIn);
  coasting.matched = false;
  coasting.last_matched = 0.9;
  for (int f = 10; f < 15; ++f) EXPECT_TRUE(r.step(coasting).empty());
  EXPECT_EQ(rule.tracked_count(), 1u);

  const auto out = r.step({}, {coasting});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, "zone_exit");
  EXPECT_EQ(out[0].reason, "lost");
  EXPECT_DOUBLE_EQ(out[0].media_time, 0.9);
  EXPECT_EQ(out[0].frame, 9);
  EXPECT_NEAR(*out[0].duration, 0.9, 1e-9);
  EXPECT_EQ(rule.tracked_count(), 0u);
  EXPECT_EQ(r.events().size(), 2u);
}

TEST(ZoneRule, TrackSeenOutsideThenRemovedWithinGraceLeft) {
  ZoneRule rule(square());
  Runner r(&rule);
  for (int f = 0; f < 10; ++f) r.step(object(1, kIn));
  track::Track out = object(1, kOut);
  for (int f = 10; f < 13; ++f) r.step(out);  // matched outside on 10-12, grace still running
  out.last_matched = 1.2;
  const auto ev = r.step({}, {out});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].reason, "left");
  EXPECT_EQ(ev[0].frame, 10);
  EXPECT_NEAR(*ev[0].duration, 1.0, 1e-9);
}

TEST(ZoneRule, TrackRemovedBeforeMinDwellRaisesNothing) {
  ZoneRule rule(square(2.0));
  Runner r(&rule);
  for (int f = 0; f < 10; ++f) r.step(object(1, kIn));
  track::Track t = object(1, kIn);
  t.last_matched = 0.9;
  EXPECT_TRUE(r.step({}, {t}).empty());
  EXPECT_EQ(rule.tracked_count(), 0u);
  EXPECT_TRUE(r.events().empty());
}

TEST(ZoneRule, ClassFilter) {
  ZoneSpec spec = square();
  spec.common.classes = {"car"};
  ZoneRule rule(spec);
  Runner r(&rule);
  for (int f = 0; f < 20; ++f) {
    const Point p = f < 10 ? kIn : kOut;
    r.step({object(1, p, "person"), object(2, p, "car")});
  }
  ASSERT_EQ(r.events().size(), 2u);
  for (const events::Event& e : r.events()) {
    EXPECT_EQ(e.track_id, 2);
    EXPECT_EQ(e.label, "car");
  }
}

TEST(ZoneRule, TentativeTracksAreIgnored) {
  ZoneRule rule(square());
  Runner r(&rule);
  track::Track t = object(1, kIn);
  t.confirmed = false;
  for (int f = 0; f < 5; ++f) EXPECT_TRUE(r.step(t).empty());
  EXPECT_EQ(rule.tracked_count(), 0u);
  t.confirmed = true;
  const auto ev = r.step(t);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].frame, 5);  // the visit starts when the track is confirmed
}

// Same path in two frame sizes: pixels at 640x480, then everything doubled at 1280x960.
std::vector<events::Event> run_scaled(ZoneRule* rule) {
  Runner r(rule, 640, 480);
  for (int f = 0; f < 30; ++f) r.step(object(1, f >= 5 && f < 15 ? kIn : kOut));
  r.resize(1280, 960);
  const Point in2{kIn.x * 2, kIn.y * 2}, out2{kOut.x * 2, kOut.y * 2};
  for (int f = 30; f < 60; ++f) r.step(object(1, f >= 35 && f < 45 ? in2 : out2));
  return r.events();
}

TEST(ZoneRule, NormalizedCoordinatesFollowTheFrameSize) {
  ZoneSpec pixel = square();
  ZoneSpec norm = square();
  norm.common.normalized = true;
  for (Point& p : norm.polygon) p = {p.x / 640, p.y / 480};

  ZoneRule pixel_rule(pixel);
  Runner r(&pixel_rule, 640, 480);
  for (int f = 0; f < 30; ++f) r.step(object(1, f >= 5 && f < 15 ? kIn : kOut));
  ASSERT_EQ(r.events().size(), 2u);

  ZoneRule norm_rule(norm);
  const auto got = run_scaled(&norm_rule);
  // The first half matches the pixel zone exactly; after the resize the zone scales with it.
  ASSERT_EQ(got.size(), 4u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(got[i].type, r.events()[i].type);
    EXPECT_EQ(got[i].frame, r.events()[i].frame);
    EXPECT_DOUBLE_EQ(got[i].media_time, r.events()[i].media_time);
  }
  EXPECT_EQ(got[2].type, "zone_enter");
  EXPECT_EQ(got[2].frame, 35);
  EXPECT_EQ(got[3].type, "zone_exit");
  EXPECT_EQ(got[3].frame, 45);
  const std::vector<Point> want{{200, 200}, {600, 200}, {600, 600}, {200, 600}};
  const Overlay o = norm_rule.overlay();
  ASSERT_EQ(o.points.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(o.points[i].x, want[i].x, 1e-9);
    EXPECT_NEAR(o.points[i].y, want[i].y, 1e-9);
  }

  // A pixel zone does not scale: after the resize the doubled path misses it.
  ZoneRule fixed(pixel);
  EXPECT_EQ(run_scaled(&fixed).size(), 2u);
}

TEST(ZoneRule, AnchorChoiceMatters) {
  ZoneSpec spec = square();
  // Box 190..210 x 240..340: center (200, 290) is inside, bottom center (200, 340) is not.
  track::Track t = object(1, {200, 340});
  t.box = {190, 240, 210, 340};

  ZoneRule bottom(spec);
  Runner rb(&bottom);
  for (int f = 0; f < 5; ++f) rb.step(t);
  EXPECT_TRUE(rb.events().empty());

  spec.common.anchor = Anchor::kCenter;
  ZoneRule center(spec);
  Runner rc(&center);
  for (int f = 0; f < 5; ++f) rc.step(t);
  ASSERT_EQ(rc.events().size(), 1u);
  EXPECT_EQ(rc.events()[0].type, "zone_enter");
}

TEST(ZoneRule, StateIsBoundedByRemovedTracks) {
  ZoneRule rule(square());
  Runner r(&rule);
  constexpr int kTracks = 1000;
  for (int batch = 0; batch < kTracks / 100; ++batch) {
    std::vector<track::Track> live;
    for (int i = 0; i < 100; ++i) {
      // All inside (confirmed visits), each at its own place.
      live.push_back(object(batch * 100 + i, {110.0 + i, 150}));
    }
    r.step(live);
    EXPECT_EQ(rule.tracked_count(), 100u);
    for (track::Track& t : live) t.last_matched = r.media_time();
    r.step({}, live);
    EXPECT_EQ(rule.tracked_count(), 0u);
  }
  EXPECT_EQ(rule.counters(),
            (std::map<std::string, int64_t>{{"enter", kTracks}, {"exit", kTracks}}));
}

TEST(ZoneRule, OverlayAndCounters) {
  ZoneRule rule(square());
  EXPECT_LT(rule.overlay().last_event_time, 0);
  run_one(&rule, 20, [](int f) { return f >= 2 && f < 6 ? kIn : kOut; });
  const Overlay o = rule.overlay();
  EXPECT_TRUE(o.closed);
  EXPECT_EQ(o.points, square().polygon);
  EXPECT_EQ(o.caption, "door  enter 1  exit 1");
  EXPECT_DOUBLE_EQ(o.last_event_time, 0.6);  // the exit, dated at its first outside frame
}

TEST(ZoneRule, MadeByTheRegistry) {
  const std::unique_ptr<Rule> rule = make_rule(square());
  EXPECT_STREQ(rule->type(), "zone");
  EXPECT_EQ(rule->name(), "door");
  EXPECT_NE(dynamic_cast<ZoneRule*>(rule.get()), nullptr);
}

}  // namespace
}  // namespace iris::rules
