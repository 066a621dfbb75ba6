#include "core/geometry.h"

#include <algorithm>
#include <cmath>

namespace iris {

double intersection_area(const Box& a, const Box& b) {
  const double w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const double h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  return w > 0 && h > 0 ? w * h : 0.0;
}

Box unite(const Box& a, const Box& b) {
  return {std::min(a.x1, b.x1), std::min(a.y1, b.y1), std::max(a.x2, b.x2), std::max(a.y2, b.y2)};
}

double iou(const Box& a, const Box& b) {
  const double inter = intersection_area(a, b);
  const double uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0;
}

Box clip(const Box& b, double width, double height) {
  return {std::clamp(b.x1, 0.0, width), std::clamp(b.y1, 0.0, height), std::clamp(b.x2, 0.0, width),
          std::clamp(b.y2, 0.0, height)};
}

Point anchor_point(const Box& b, Anchor anchor) {
  const double cx = (b.x1 + b.x2) / 2;
  switch (anchor) {
    case Anchor::kBottomCenter:
      return {cx, b.y2};
    case Anchor::kTopCenter:
      return {cx, b.y1};
    case Anchor::kCenter:
      break;
  }
  return {cx, (b.y1 + b.y2) / 2};
}

bool parse_anchor(const std::string& name, Anchor* out) {
  if (name == "bottom_center") {
    *out = Anchor::kBottomCenter;
  } else if (name == "center") {
    *out = Anchor::kCenter;
  } else if (name == "top_center") {
    *out = Anchor::kTopCenter;
  } else {
    return false;
  }
  return true;
}

const char* anchor_name(Anchor anchor) {
  switch (anchor) {
    case Anchor::kBottomCenter:
      return "bottom_center";
    case Anchor::kTopCenter:
      return "top_center";
    case Anchor::kCenter:
      break;
  }
  return "center";
}

double cross(const Point& a, const Point& b, const Point& p) {
  return (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x);
}

double signed_distance(const Point& a, const Point& b, const Point& p) {
  const double len = std::hypot(b.x - a.x, b.y - a.y);
  return len > 0 ? cross(a, b, p) / len : 0.0;
}

namespace {
bool on_segment(const Point& a, const Point& b, const Point& p) {
  return std::min(a.x, b.x) <= p.x && p.x <= std::max(a.x, b.x) && std::min(a.y, b.y) <= p.y &&
         p.y <= std::max(a.y, b.y);
}
int sign(double v) { return (v > 0) - (v < 0); }
}  // namespace

bool segments_intersect(const Point& p1, const Point& p2, const Point& q1, const Point& q2) {
  const int d1 = sign(cross(q1, q2, p1));
  const int d2 = sign(cross(q1, q2, p2));
  const int d3 = sign(cross(p1, p2, q1));
  const int d4 = sign(cross(p1, p2, q2));
  if (d1 * d2 < 0 && d3 * d4 < 0) return true;
  return (d1 == 0 && on_segment(q1, q2, p1)) || (d2 == 0 && on_segment(q1, q2, p2)) ||
         (d3 == 0 && on_segment(p1, p2, q1)) || (d4 == 0 && on_segment(p1, p2, q2));
}

bool Polygon::contains(const Point& p) const {
  const size_t n = points.size();
  if (n < 3) return false;
  bool inside = false;
  for (size_t i = 0, j = n - 1; i < n; j = i++) {
    const Point& a = points[i];
    const Point& b = points[j];
    if (cross(a, b, p) == 0 && on_segment(a, b, p)) return true;
    if ((a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x) {
      inside = !inside;
    }
  }
  return inside;
}

}  // namespace iris
