#include "rules/line.h"

#include <gtest/gtest.h>

#include <memory>

#include "scene.h"

namespace iris::rules {
namespace {

using testing::object;
using testing::Runner;

// Horizontal segment y = 240 from x = 100 to x = 540; drawn left to right, so side A (right of
// a->b on screen, y down) is below it: walking down crosses B->A.
LineSpec gate(double margin = 4) {
  LineSpec s;
  s.common.name = "gate";
  s.a = {100, 240};
  s.b = {540, 240};
  s.margin = margin;
  return s;
}

// Steps track `id` through the anchor positions; returns the events and, in *frames, the index
// of the frame each was raised on.
std::vector<events::Event> walk(Runner* r, int64_t id, const std::vector<Point>& path,
                                const std::string& label = "person",
                                std::vector<int64_t>* frames = nullptr) {
  std::vector<events::Event> out;
  for (const Point& p : path) {
    for (events::Event& e : r->step(object(id, p, label))) {
      if (frames) frames->push_back(r->frame() - 1);
      out.push_back(std::move(e));
    }
  }
  return out;
}

std::vector<Point> vertical(double x, std::vector<double> ys) {
  std::vector<Point> path;
  for (double y : ys) path.push_back({x, y});
  return path;
}

const std::vector<double> kDown{200, 220, 238, 250, 270};
const std::vector<double> kUp{270, 250, 242, 230, 200};

TEST(LineRule, SideAIsOnTheRightOfABOnScreen) {
  LineRule rule(gate());
  Runner r(&rule);
  auto ev = walk(&r, 1, vertical(300, kDown));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].direction, "B->A");

  LineSpec reversed = gate();
  std::swap(reversed.a, reversed.b);
  LineRule back(reversed);
  Runner rb(&back);
  ev = walk(&rb, 1, vertical(300, kDown));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].direction, "A->B");
}

TEST(LineRule, CrossesBothDirectionsWithCounts) {
  LineRule rule(gate());
  Runner r(&rule);
  std::vector<int64_t> at;
  auto first = walk(&r, 1, vertical(300, kDown), "person", &at);
  ASSERT_EQ(first.size(), 1u);
  // Raised on the first frame beyond the margin on the new side (y = 250, the 4th frame).
  EXPECT_EQ(at, (std::vector<int64_t>{3}));
  const events::Event& e = first[0];
  EXPECT_EQ(e.type, "line_cross");
  EXPECT_EQ(e.rule, "gate");
  EXPECT_EQ(e.stream, "cam");
  EXPECT_EQ(e.frame, 3);
  EXPECT_DOUBLE_EQ(e.media_time, 0.3);
  EXPECT_EQ(e.id.size(), 26u);
  EXPECT_EQ(e.track_id, 1);
  EXPECT_EQ(e.label, "person");
  EXPECT_EQ(e.box, (Box{290, 210, 310, 250}));
  EXPECT_EQ(e.count, 1);
  EXPECT_FALSE(e.duration.has_value());

  auto second = walk(&r, 2, vertical(200, kDown));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].direction, "B->A");
  EXPECT_EQ(second[0].count, 2);

  auto third = walk(&r, 3, vertical(400, kUp));
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].direction, "A->B");
  EXPECT_EQ(third[0].count, 1);
  EXPECT_EQ(rule.counters(),
            (std::map<std::string, int64_t>{{"person A->B", 1}, {"person B->A", 2}}));
}

std::vector<double> jitter_then(double end) {
  std::vector<double> ys{200};
  for (int i = 0; i < 40; ++i) ys.push_back(i % 2 ? 242 : 238);  // +-2 px around the line
  ys.push_back(end);
  return ys;
}

TEST(LineRule, JitterOnTheLineIsNotCounted) {
  LineRule rule(gate(4));
  Runner r(&rule);
  std::vector<int64_t> at;
  const auto ev = walk(&r, 1, vertical(300, jitter_then(300)), "person", &at);
  // Only the real crossing, on the last frame.
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(at, (std::vector<int64_t>{41}));
  EXPECT_EQ(ev[0].direction, "B->A");

  LineRule back(gate(4));
  Runner rb(&back);
  EXPECT_TRUE(walk(&rb, 1, vertical(300, jitter_then(200))).empty());
}

TEST(LineRule, WithoutMarginJitterWouldCountEveryFlip) {
  // The same path with margin 0 counts each of the 39 flips: the double counting the margin
  // prevents.
  LineRule rule(gate(0));
  Runner r(&rule);
  EXPECT_EQ(walk(&r, 1, vertical(300, jitter_then(300))).size(), 39u);
}

TEST(LineRule, CrossingOutsideTheSegmentIsSilent) {
  LineRule rule(gate());
  Runner r(&rule);
  // Down past the right end (x = 600 > 540), then along side A under the segment: no event.
  EXPECT_TRUE(walk(&r, 1, vertical(600, kDown)).empty());
  EXPECT_TRUE(walk(&r, 1, {{500, 270}, {400, 270}, {300, 270}}).empty());
  // The side was updated silently: going up through the segment counts as A->B.
  const auto ev = walk(&r, 1, vertical(300, kUp));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].direction, "A->B");
  EXPECT_EQ(rule.counters(), (std::map<std::string, int64_t>{{"person A->B", 1}}));
}

TEST(LineRule, PathThroughTheSegmentCountsEvenWithEndsBeyondIt) {
  LineRule rule(gate());
  Runner r(&rule);
  // One big step from beyond the right end to below the middle: the path crosses at x = 480.
  const auto ev = walk(&r, 1, {{600, 200}, {300, 300}});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].direction, "B->A");
}

TEST(LineRule, CrossingBackLaterCountsAgain) {
  LineRule rule(gate());
  Runner r(&rule);
  std::vector<double> ys = kDown;
  ys.insert(ys.end(), kUp.begin(), kUp.end());
  ys.insert(ys.end(), kDown.begin(), kDown.end());
  const auto ev = walk(&r, 1, vertical(300, ys));
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].direction, "B->A");
  EXPECT_EQ(ev[0].count, 1);
  EXPECT_EQ(ev[1].direction, "A->B");
  EXPECT_EQ(ev[1].count, 1);
  EXPECT_EQ(ev[2].direction, "B->A");
  EXPECT_EQ(ev[2].count, 2);
}

TEST(LineRule, CountersArePerClass) {
  LineRule rule(gate());
  Runner r(&rule);
  const auto p1 = walk(&r, 1, vertical(200, kDown), "person");
  const auto c1 = walk(&r, 2, vertical(300, kDown), "car");
  const auto p2 = walk(&r, 3, vertical(400, kDown), "person");
  ASSERT_EQ(p1.size() + c1.size() + p2.size(), 3u);
  EXPECT_EQ(p1[0].count, 1);
  EXPECT_EQ(c1[0].count, 1);
  EXPECT_EQ(c1[0].label, "car");
  EXPECT_EQ(p2[0].count, 2);
  EXPECT_EQ(rule.counters(), (std::map<std::string, int64_t>{{"car B->A", 1}, {"person B->A", 2}}));
  EXPECT_EQ(rule.overlay().caption, "gate  A->B 0  B->A 3");
}

TEST(LineRule, FirstObservationOnlySetsTheSide) {
  LineRule rule(gate());
  Runner r(&rule);
  // First seen on side A: nothing. First seen inside the margin band, then on side A: nothing.
  EXPECT_TRUE(walk(&r, 1, {{300, 300}}).empty());
  EXPECT_TRUE(walk(&r, 2, vertical(200, {239, 241, 300})).empty());
  // From there on both count.
  EXPECT_EQ(walk(&r, 1, vertical(300, kUp)).size(), 1u);
  EXPECT_EQ(walk(&r, 2, vertical(200, kUp)).size(), 1u);
}

TEST(LineRule, ClassFilterAndTentativeTracks) {
  LineSpec spec = gate();
  spec.common.classes = {"car"};
  LineRule rule(spec);
  Runner r(&rule);
  EXPECT_TRUE(walk(&r, 1, vertical(300, kDown), "person").empty());
  for (double y : kDown) {
    track::Track t = object(2, {300, y}, "car");
    t.confirmed = false;
    EXPECT_TRUE(r.step(t).empty());
  }
  EXPECT_EQ(rule.tracked_count(), 0u);
  EXPECT_EQ(walk(&r, 3, vertical(300, kDown), "car").size(), 1u);
}

TEST(LineRule, NormalizedCoordinatesFollowTheFrameSize) {
  LineSpec spec = gate();
  spec.common.normalized = true;
  spec.a = {100.0 / 640, 0.5};
  spec.b = {540.0 / 640, 0.5};
  LineRule rule(spec);
  Runner r(&rule, 640, 480);
  ASSERT_EQ(walk(&r, 1, vertical(300, kDown)).size(), 1u);

  r.resize(1280, 960);
  // The line is now at y = 480 from x = 200 to 1080: the old path (y 200..270) stays above it.
  EXPECT_TRUE(walk(&r, 2, vertical(300, kDown)).empty());
  const auto ev = walk(&r, 3, vertical(600, {400, 440, 478, 500, 540}));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].direction, "B->A");
  const Overlay o = rule.overlay();
  ASSERT_EQ(o.points.size(), 2u);
  EXPECT_NEAR(o.points[0].x, 200, 1e-9);
  EXPECT_NEAR(o.points[0].y, 480, 1e-9);
  EXPECT_NEAR(o.points[1].x, 1080, 1e-9);
  EXPECT_NEAR(o.points[1].y, 480, 1e-9);
}

TEST(LineRule, StateIsBoundedByRemovedTracks) {
  LineRule rule(gate());
  Runner r(&rule);
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<track::Track> live;
    for (int i = 0; i < 100; ++i) live.push_back(object(batch * 100 + i, {300, 200.0 - i}));
    r.step(live);
    EXPECT_EQ(rule.tracked_count(), 100u);
    r.step({}, live);
    EXPECT_EQ(rule.tracked_count(), 0u);
  }
}

TEST(LineRule, Overlay) {
  LineRule rule(gate());
  Runner r(&rule);
  EXPECT_LT(rule.overlay().last_event_time, 0);
  walk(&r, 1, vertical(300, kDown));  // B->A on frame 3
  walk(&r, 1, vertical(300, kUp));    // A->B on frame 8
  walk(&r, 1, vertical(300, kDown));  // B->A on frame 13
  const Overlay o = rule.overlay();
  EXPECT_FALSE(o.closed);
  EXPECT_EQ(o.points, (std::vector<Point>{{100, 240}, {540, 240}}));
  EXPECT_EQ(o.caption, "gate  A->B 1  B->A 2");
  EXPECT_DOUBLE_EQ(o.last_event_time, 1.3);
}

TEST(LineRule, MadeByTheRegistry) {
  const std::unique_ptr<Rule> rule = make_rule(gate());
  EXPECT_STREQ(rule->type(), "line");
  EXPECT_EQ(rule->name(), "gate");
  EXPECT_NE(dynamic_cast<LineRule*>(rule.get()), nullptr);
}

}  // namespace
}  // namespace iris::rules
