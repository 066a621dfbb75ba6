#include "core/geometry.h"

#include <gtest/gtest.h>

namespace iris {
namespace {

TEST(Geometry, IouOfKnownBoxes) {
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {0, 0, 10, 10}), 1.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {5, 0, 15, 10}), 50.0 / 150.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {10, 0, 20, 10}), 0.0);  // touching edges share no area
  EXPECT_DOUBLE_EQ(iou({0, 0, 0, 0}, {0, 0, 0, 0}), 0.0);       // degenerate boxes
}

TEST(Geometry, ClipKeepsBoxesInsideTheFrame) {
  EXPECT_EQ(clip({-5, -5, 700, 500}, 640, 480), (Box{0, 0, 640, 480}));
}

TEST(Geometry, Anchors) {
  const Box b{10, 20, 30, 60};
  EXPECT_EQ(anchor_point(b, Anchor::kBottomCenter), (Point{20, 60}));
  EXPECT_EQ(anchor_point(b, Anchor::kCenter), (Point{20, 40}));
  EXPECT_EQ(anchor_point(b, Anchor::kTopCenter), (Point{20, 20}));
  Anchor a;
  EXPECT_TRUE(parse_anchor("center", &a));
  EXPECT_EQ(a, Anchor::kCenter);
  EXPECT_FALSE(parse_anchor("middle", &a));
}

TEST(Geometry, PolygonContainsConvexAndConcave) {
  const Polygon square{{{0, 0}, {10, 0}, {10, 10}, {0, 10}}};
  EXPECT_TRUE(square.contains({5, 5}));
  EXPECT_FALSE(square.contains({15, 5}));
  EXPECT_TRUE(square.contains({10, 5}));  // on an edge
  EXPECT_TRUE(square.contains({0, 0}));   // on a vertex
  // A U shape: the notch between the arms is outside.
  const Polygon u{{{0, 0}, {3, 0}, {3, 7}, {7, 7}, {7, 0}, {10, 0}, {10, 10}, {0, 10}}};
  EXPECT_FALSE(u.contains({5, 3}));
  EXPECT_TRUE(u.contains({1, 3}));
  EXPECT_TRUE(u.contains({5, 9}));
  const Polygon two{{{0, 0}, {1, 1}}};
  EXPECT_FALSE(two.contains({0, 0}));  // fewer than 3 points
}

TEST(Geometry, SideAndSegments) {
  // a->b points right; with y down, positive cross is below the line on screen.
  EXPECT_GT(cross({0, 0}, {10, 0}, {5, 3}), 0);
  EXPECT_LT(cross({0, 0}, {10, 0}, {5, -3}), 0);
  EXPECT_DOUBLE_EQ(signed_distance({0, 0}, {10, 0}, {5, 3}), 3.0);
  EXPECT_TRUE(segments_intersect({0, 0}, {10, 10}, {0, 10}, {10, 0}));
  EXPECT_FALSE(segments_intersect({0, 0}, {4, 4}, {0, 10}, {10, 0}));  // ends before meeting
  EXPECT_FALSE(segments_intersect({0, 0}, {4, 0}, {5, -1}, {5, 1}));   // stops short
  EXPECT_TRUE(segments_intersect({0, 0}, {5, 0}, {5, -1}, {5, 1}));    // touches
  EXPECT_FALSE(segments_intersect({0, 0}, {4, 0}, {5, 0}, {9, 0}));    // collinear, apart
  EXPECT_TRUE(segments_intersect({0, 0}, {6, 0}, {5, 0}, {9, 0}));     // collinear, overlapping
}

}  // namespace
}  // namespace iris
