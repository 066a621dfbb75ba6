// Geometry shared by detectors, trackers, rules and the OSD: points, boxes, polygons, segments.
// All coordinates are in source pixels unless a name says otherwise.
#pragma once

#include <string>
#include <vector>

namespace iris {

struct Point {
  double x = 0;
  double y = 0;
  bool operator==(const Point&) const = default;
};

// Axis-aligned box, corners [x1, y1] (top-left) and [x2, y2] (bottom-right).
struct Box {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;

  double width() const { return x2 - x1; }
  double height() const { return y2 - y1; }
  double area() const { return width() > 0 && height() > 0 ? width() * height() : 0.0; }
  Point center() const { return {(x1 + x2) / 2, (y1 + y2) / 2}; }
  bool operator==(const Box&) const = default;
};

double intersection_area(const Box& a, const Box& b);
double iou(const Box& a, const Box& b);
// The smallest box holding both.
Box unite(const Box& a, const Box& b);
Box clip(const Box& b, double width, double height);

// Which point of a box stands for the object when it is tested against zones and lines.
enum class Anchor { kBottomCenter, kCenter, kTopCenter };
Point anchor_point(const Box& b, Anchor anchor);
// Parses "bottom_center" | "center" | "top_center"; false if the name is unknown.
bool parse_anchor(const std::string& name, Anchor* out);
const char* anchor_name(Anchor anchor);

// Simple polygon (vertices in order, implicitly closed).
struct Polygon {
  std::vector<Point> points;
  // Even-odd rule; points exactly on an edge count as inside.
  bool contains(const Point& p) const;
};

// z of (b - a) x (p - a): > 0 when p is on one side of the line a->b, < 0 on the other.
double cross(const Point& a, const Point& b, const Point& p);
// Signed distance of p from the infinite line through a and b (same sign as cross()).
double signed_distance(const Point& a, const Point& b, const Point& p);
// True when the closed segments p1-p2 and q1-q2 share at least one point.
bool segments_intersect(const Point& p1, const Point& p2, const Point& q1, const Point& q2);

}  // namespace iris
