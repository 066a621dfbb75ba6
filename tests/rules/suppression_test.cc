#include "rules/suppression.h"

#include <gtest/gtest.h>

#include <ctime>
#include <string>
#include <vector>

#include "rules/line.h"
#include "rules/zone.h"
#include "scene.h"

namespace iris::rules {
namespace {

using testing::object;
using testing::StageRunner;

constexpr Point kIn{200, 200};
constexpr Point kOut{50, 200};

// 200x200 square at (100,100)-(300,300) in pixels, raising zone_enter on the first inside frame.
ZoneSpec door(double exit_grace = 0.5) {
  ZoneSpec s;
  s.common.name = "door";
  s.polygon = {{100, 100}, {300, 100}, {300, 300}, {100, 300}};
  s.exit_grace = exit_grace;
  return s;
}

// A track as the tracker reports it: `hits` matches so far, first detected at media time 0.
track::Track seen(int64_t id, Point foot, float score, int hits) {
  track::Track t = object(id, foot);
  t.score = score;
  t.hits = hits;
  return t;
}

std::vector<std::string> types(const std::vector<events::Event>& events) {
  std::vector<std::string> out;
  for (const events::Event& e : events) out.push_back(e.type);
  return out;
}

// Two frames of a low-score detection inside the zone, then the tracker drops it; beside it a
// steady person walks in from the left.
std::vector<events::Event> flicker_and_walker(const SuppressionSpec& spec) {
  StageRunner r(spec, {door()});
  for (int f = 0; f < 30; ++f) {
    std::vector<track::Track> live;
    std::vector<track::Track> removed;
    if (f < 2) live.push_back(seen(1, kIn, 0.3f, f + 1));
    if (f == 2) removed.push_back(seen(1, kIn, 0.3f, 2));
    live.push_back(seen(2, {50.0 + 10 * f, 200}, 0.8f, f + 1));
    r.step(live, removed);
  }
  return r.events();
}

TEST(Suppression, RemovesAFlickerAlarmAndKeepsARealOne) {
  // Without suppression the blip raises an alarm (and its exit), as does the walker.
  const auto plain = flicker_and_walker({});
  ASSERT_EQ(plain.size(), 3u);
  EXPECT_EQ(plain[0].track_id, 1);
  EXPECT_EQ(plain[0].type, "zone_enter");
  EXPECT_EQ(plain[1].track_id, 1);
  EXPECT_EQ(plain[1].type, "zone_exit");
  EXPECT_EQ(plain[2].track_id, 2);
  EXPECT_EQ(plain[2].frame, 5);  // foot at x = 100, the zone's edge

  SuppressionSpec spec;
  spec.min_hits = 3;
  spec.score_enter = 0.5;
  spec.score_stay = 0.4;
  const auto filtered = flicker_and_walker(spec);
  ASSERT_EQ(filtered.size(), 1u);
  EXPECT_EQ(filtered[0].track_id, 2);
  EXPECT_EQ(filtered[0].type, "zone_enter");
  EXPECT_EQ(filtered[0].frame, 5);  // the walker had its 3 hits long before the zone
}

TEST(Suppression, CountsWhatItHeldBackOncePerTrackAndReason) {
  SuppressionSpec spec;
  spec.min_hits = 3;
  spec.score_enter = 0.5;
  StageRunner r(spec, {door()});
  for (int f = 0; f < 5; ++f) r.step(seen(1, kIn, 0.3f, f + 1));
  // Held back for its hits on frames 0-1, then for its score on 2-4: one track per reason.
  EXPECT_EQ(r.suppression().counters(),
            (std::map<std::string, int64_t>{{"min_hits", 1}, {"score", 1}}));
  EXPECT_EQ(r.suppression().total(), 2);
  EXPECT_TRUE(r.events().empty());

  // Tentative tracks are not counted: rules would not act on them anyway.
  track::Track tentative = seen(2, kIn, 0.3f, 1);
  tentative.confirmed = false;
  r.step(tentative);
  EXPECT_EQ(r.suppression().counters().at("min_hits"), 1);
  EXPECT_EQ(r.suppression().total(), 2);
}

TEST(Suppression, HysteresisHoldsATrackWhoseScoreDipsBetweenStayAndEnter) {
  SuppressionSpec spec;
  spec.score_enter = 0.6;
  spec.score_stay = 0.4;
  StageRunner r(spec, {door(0)});
  // 0.7 on frames 0-4, 0.5 (between stay and enter) on 5-14, 0.7 again on 15-19.
  for (int f = 0; f < 20; ++f) r.step(seen(1, kIn, f >= 5 && f < 15 ? 0.5f : 0.7f, 5));
  ASSERT_EQ(types(r.events()), (std::vector<std::string>{"zone_enter"}));
  EXPECT_EQ(r.events()[0].frame, 0);
  // A track that never reached score_enter is never eligible, however long it stays at 0.5.
  for (int f = 0; f < 20; ++f) r.step(std::vector{seen(1, kIn, 0.7f, 5), seen(2, kIn, 0.5f, 5)});
  EXPECT_EQ(r.events().size(), 1u);

  // Below score_stay the track drops out: the rule sees it removed, so the visit ends "lost";
  // back above score_enter it is a new visit.
  const auto out = r.step(seen(1, kIn, 0.3f, 5));
  ASSERT_EQ(types(out), (std::vector<std::string>{"zone_exit"}));
  EXPECT_EQ(out[0].reason, "lost");
  EXPECT_TRUE(r.step(seen(1, kIn, 0.5f, 5)).empty());  // 0.5 < score_enter: still out
  EXPECT_EQ(types(r.step(seen(1, kIn, 0.6f, 5))), (std::vector<std::string>{"zone_enter"}));
}

// Foot of a person walking right through the zone at 5 px per frame (an eighth of its height).
Point walking(int f) { return {110.0 + 5 * (f % 36), 200}; }

TEST(Suppression, StaticPosterRaisesNoIntrusionWhileAWalkerDoes) {
  SuppressionSpec spec;
  spec.static_time = 2;
  spec.static_distance = 0.1;  // 4 px for these 40 px tall boxes
  spec.min_age = 2;            // as long as static_time: a poster is static before it is old enough
  StageRunner r(spec, {door()});
  for (int f = 0; f < 200; ++f) {
    // The poster's box jitters by a pixel, as detections do.
    const Point poster{kIn.x + (f % 2), kIn.y};
    r.step(std::vector{object(1, poster), object(2, walking(f))});
  }
  ASSERT_FALSE(r.events().empty());
  for (const events::Event& e : r.events()) EXPECT_EQ(e.track_id, 2);
  EXPECT_EQ(r.events()[0].type, "zone_enter");
  EXPECT_EQ(r.events()[0].frame, 20);  // min_age
  EXPECT_EQ(r.suppression().counters(),
            (std::map<std::string, int64_t>{{"min_age", 2}, {"static", 1}}));
}

TEST(Suppression, StaticTrackIsIneligibleUntilItMovesAgain) {
  SuppressionSpec spec;
  spec.static_time = 2;
  StageRunner r(spec, {door()});
  for (int f = 0; f < 60; ++f) r.step(object(1, kIn));
  // Eligible at first (it has not stood still for static_time yet), then the visit ends.
  ASSERT_EQ(types(r.events()), (std::vector<std::string>{"zone_enter", "zone_exit"}));
  // Withdrawn on frame 20 (2 s still); the exit is dated when the rule last saw it.
  EXPECT_EQ(r.events()[1].frame, 19);
  EXPECT_EQ(r.events()[1].reason, "lost");
  // Moving by more than static_distance (0.1 x 40 px) makes it eligible again: a new visit.
  const auto moved = r.step(object(1, {kIn.x + 5, kIn.y}));
  ASSERT_EQ(types(moved), (std::vector<std::string>{"zone_enter"}));
  EXPECT_EQ(moved[0].frame, 60);
}

TEST(Suppression, SlowDriftIsMovement) {
  SuppressionSpec spec;
  spec.static_time = 2;
  StageRunner r(spec, {door()});
  // 1 px per frame never moves 4 px between two frames, but does within 5 frames.
  for (int f = 0; f < 100; ++f) r.step(object(1, {110.0 + f, 200}));
  EXPECT_EQ(types(r.events()), (std::vector<std::string>{"zone_enter"}));
}

TEST(Suppression, MinAgeAndMinArea) {
  SuppressionSpec spec;
  spec.min_age = 1;
  spec.min_area = 0.005;  // of 640x480: 1536 px^2; object() boxes are 20x40 = 800
  StageRunner r(spec, {door(0)});
  track::Track big = object(1, kIn);
  big.box = {180, 120, 220, 200};  // 40x80 = 3200 px^2
  track::Track small = object(2, {150, 200});
  for (int f = 0; f < 20; ++f) r.step(std::vector{big, small});
  ASSERT_EQ(r.events().size(), 1u);
  EXPECT_EQ(r.events()[0].track_id, 1);
  EXPECT_EQ(r.events()[0].frame, 10);  // first_seen 0 + min_age 1 s
  // Once admitted, a track that gets smaller (walking away) keeps its visit.
  big.box = {195, 170, 205, 200};
  for (int f = 0; f < 10; ++f) r.step(big);
  EXPECT_EQ(r.events().size(), 1u);
  EXPECT_EQ(r.suppression().counters(),
            (std::map<std::string, int64_t>{{"min_age", 2}, {"min_area", 1}}));
}

TEST(Suppression, CooldownSuppressesAReentryWithinTheWindowAndNotAfter) {
  SuppressionSpec spec;
  spec.cooldown = 5;
  StageRunner r(spec, {door(0)});
  // Inside on frames 0-9, 20-29 (t = 2 s: within 5 s of the first enter) and 60-69 (t = 6 s).
  for (int f = 0; f < 80; ++f) {
    const bool inside = f < 10 || (f >= 20 && f < 30) || (f >= 60 && f < 70);
    std::vector<track::Track> live{object(1, inside ? kIn : kOut)};
    if (f >= 20 && f < 30) live.push_back(object(2, kIn));  // another person: not cooled down
    r.step(live);
  }
  std::vector<std::pair<int64_t, int64_t>> got;  // (track, frame)
  for (const events::Event& e : r.events()) got.emplace_back(e.track_id, e.frame);
  // Track 1: enter 0, exit 10, then enter 60, exit 70; its second visit (and the exit that would
  // end it) are dropped. Track 2 enters at 20 and is not seen again.
  EXPECT_EQ(types(r.events()), (std::vector<std::string>{"zone_enter", "zone_exit", "zone_enter",
                                                         "zone_enter", "zone_exit"}));
  EXPECT_EQ(got,
            (std::vector<std::pair<int64_t, int64_t>>{{1, 0}, {1, 10}, {2, 20}, {1, 60}, {1, 70}}));
  EXPECT_EQ(r.suppression().counters(), (std::map<std::string, int64_t>{{"cooldown", 2}}));
  EXPECT_EQ(r.suppression().total(), 2);
}

TEST(Suppression, CooldownKeepsEveryEndWhoseStartGotThrough) {
  SuppressionSpec spec;
  spec.cooldown = 5;
  StageRunner r(spec, {door(0)});
  // A long visit (0-8.9 s), then a short one starting 9 s: 9 s after the first enter it passes,
  // and its exit 1 s after the previous exit must pass with it.
  for (int f = 0; f < 110; ++f) r.step(object(1, f < 89 || (f >= 90 && f < 100) ? kIn : kOut));
  EXPECT_EQ(types(r.events()),
            (std::vector<std::string>{"zone_enter", "zone_exit", "zone_enter", "zone_exit"}));
}

TEST(Suppression, CooldownAppliesPerEventType) {
  LineSpec gate;
  gate.common.name = "gate";
  gate.a = {100, 240};
  gate.b = {540, 240};
  SuppressionSpec spec;
  spec.cooldown = 5;
  StageRunner r(spec, {gate});
  // Down, up, down through the line within 1.5 s: only the first crossing gets through.
  for (double y : {200, 260, 200, 260}) {
    r.step(object(1, {300, y}));
    r.step(object(1, {300, y}));
  }
  ASSERT_EQ(r.events().size(), 1u);
  EXPECT_EQ(r.events()[0].direction, "B->A");
  r.skip(5);
  r.step(object(1, {300, 200}));
  EXPECT_EQ(r.events().size(), 2u);
}

TEST(Suppression, PerRuleOverrideOfTheStreamSetting) {
  SuppressionSpec stream;
  stream.min_hits = 10;
  ZoneSpec strict = door();
  strict.common.name = "strict";
  ZoneSpec eager = door();
  eager.common.name = "eager";
  eager.common.suppression = stream;
  eager.common.suppression->min_hits = 0;
  ZoneSpec same = door();
  same.common.name = "same";
  same.common.suppression = stream;  // equal to the stream's: shares its view
  StageRunner r(stream, {strict, eager, same});
  EXPECT_EQ(r.suppression().view_count(), 2u);
  for (int f = 0; f < 15; ++f) r.step(seen(1, kIn, 0.8f, f + 1));
  ASSERT_EQ(r.events().size(), 3u);
  EXPECT_EQ(r.events()[0].rule, "eager");
  EXPECT_EQ(r.events()[0].frame, 0);
  EXPECT_EQ(r.events()[1].rule, "strict");
  EXPECT_EQ(r.events()[1].frame, 9);  // 10 hits
  EXPECT_EQ(r.events()[2].rule, "same");
  EXPECT_EQ(r.events()[2].frame, 9);
}

TEST(Suppression, AllOffPassesTheTrackerOutputThrough) {
  StageRunner r({}, {door()});
  track::Track tentative = object(2, kIn);
  tentative.confirmed = false;
  tentative.hits = 1;
  tentative.score = 0;
  r.step(std::vector{object(1, kIn), tentative});
  const track::TrackUpdate& in = r.suppression().input(0);
  ASSERT_EQ(in.tracks.size(), 2u);
  EXPECT_EQ(in.tracks[0].id, 1);
  EXPECT_EQ(in.tracks[1].id, 2);
  EXPECT_TRUE(r.suppression().counters().empty());
  EXPECT_EQ(r.suppression().total(), 0);
}

TEST(Suppression, StateIsBoundedByRemovedTracks) {
  SuppressionSpec spec;
  spec.cooldown = 10;
  spec.score_enter = 0.5;
  StageRunner r(spec, {door(0)});
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<track::Track> live;
    for (int i = 0; i < 100; ++i) live.push_back(object(batch * 100 + i, {110.0 + i, 150}));
    r.step(live);
    EXPECT_GT(r.suppression().tracked_count(), 100u);
    r.step({}, live);
    EXPECT_EQ(r.suppression().tracked_count(), 0u);
  }
  EXPECT_EQ(r.events().size(), 2000u);  // every enter and its "lost" exit
}

// Unix time of a local time of day on 2024-03-05 (plus `days`), in the process's time zone.
double local_time(int hour, int minute, int second = 0, int days = 0) {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 2;
  tm.tm_mday = 5 + days;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  tm.tm_isdst = -1;
  return static_cast<double>(std::mktime(&tm));
}

TEST(ActiveWindows, ContainsWithAndWithoutWrappingMidnight) {
  const TimeWindow night{22 * 60, 6 * 60};
  const auto at = [](int h, int m) { return h * 3600.0 + m * 60; };
  EXPECT_TRUE(night.contains(at(22, 0)));
  EXPECT_TRUE(night.contains(at(23, 59)));
  EXPECT_TRUE(night.contains(at(0, 0)));
  EXPECT_TRUE(night.contains(at(5, 59)));
  EXPECT_FALSE(night.contains(at(6, 0)));
  EXPECT_FALSE(night.contains(at(12, 0)));
  EXPECT_FALSE(night.contains(at(21, 59)));
  const TimeWindow office{8 * 60, 17 * 60};
  EXPECT_FALSE(office.contains(at(7, 59)));
  EXPECT_TRUE(office.contains(at(8, 0)));
  EXPECT_TRUE(office.contains(at(16, 59)));
  EXPECT_FALSE(office.contains(at(17, 0)));
  const TimeWindow day{0, 24 * 60};
  EXPECT_TRUE(day.contains(at(0, 0)));
  EXPECT_TRUE(day.contains(at(23, 59) + 59.9));
}

TEST(ActiveWindows, RuleRaisesOnlyInsideAWindowThatWrapsMidnight) {
  ZoneSpec spec = door();
  spec.common.active = {{22 * 60, 6 * 60}};
  // A person stands in the zone from 21:59:55 local time.
  StageRunner r({}, {spec}, local_time(21, 59, 55));
  for (int f = 0; f < 100; ++f) r.step(object(1, kIn));
  // The visit that began outside the window is not alarmed from before: it counts from 22:00.
  ASSERT_EQ(types(r.events()), (std::vector<std::string>{"zone_enter"}));
  EXPECT_EQ(r.events()[0].frame, 50);

  // Across midnight nothing changes; at 06:00 the window closes and the open visit ends.
  r.skip(local_time(5, 59, 59, 1) - local_time(22, 0, 5));
  for (int f = 0; f < 10; ++f) EXPECT_TRUE(r.step(object(1, kIn)).empty());  // to 05:59:59.9
  const auto closed = r.step(object(1, kIn));
  ASSERT_EQ(types(closed), (std::vector<std::string>{"zone_exit"}));
  EXPECT_EQ(closed[0].reason, "lost");
  // Outside the window nothing is raised, whatever happens.
  for (int f = 0; f < 50; ++f) {
    EXPECT_TRUE(r.step(std::vector{object(1, f % 10 < 5 ? kIn : kOut), object(2, kIn)}).empty());
  }
}

TEST(ActiveWindows, SeveralWindows) {
  ZoneSpec spec = door(0);
  spec.common.active = {{8 * 60, 9 * 60}, {17 * 60, 18 * 60}};
  StageRunner r({}, {spec}, local_time(7, 59, 59));
  for (int f = 0; f < 20; ++f) r.step(object(f, kIn));  // a new person every frame
  r.skip(local_time(12, 0) - local_time(8, 0, 1));
  for (int f = 0; f < 20; ++f) r.step(object(100 + f, kIn));
  r.skip(local_time(17, 0) - local_time(12, 0, 2));
  for (int f = 0; f < 20; ++f) r.step(object(200 + f, kIn));
  // 08:00:00-08:00:00.9 and 17:00:00-17:00:01.9 raise; 07:59:59.x and 12:00:0x do not.
  ASSERT_EQ(r.events().size(), 30u);
  for (const events::Event& e : r.events()) {
    EXPECT_EQ(e.type, "zone_enter");
    EXPECT_TRUE((e.track_id >= 10 && e.track_id < 20) || e.track_id >= 200) << e.track_id;
  }
}

}  // namespace
}  // namespace iris::rules
