#include "pipeline/osd.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>

namespace iris::pipeline {
namespace {

constexpr double kFlashSeconds = 1.0;
const cv::Scalar kTrackColor(80, 220, 80);
const cv::Scalar kRuleColor(255, 180, 0);
const cv::Scalar kAlarmColor(40, 40, 255);

// Clamped: a predicted box can run far off screen, and int conversion beyond range is undefined.
cv::Point pt(const Point& p) {
  auto px = [](double v) { return static_cast<int>(std::lround(std::clamp(v, -1e6, 1e6))); };
  return {px(p.x), px(p.y)};
}

void label(cv::Mat& img, const std::string& text, cv::Point org, const cv::Scalar& bg) {
  int base = 0;
  const double scale = 0.45;
  const cv::Size sz = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
  org.y = std::max(org.y, sz.height + 4);
  cv::rectangle(img, {org.x, org.y - sz.height - 4}, {org.x + sz.width + 4, org.y + base - 2}, bg,
                cv::FILLED);
  cv::putText(img, text, {org.x + 2, org.y - 3}, cv::FONT_HERSHEY_SIMPLEX, scale,
              cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
}

}  // namespace

void draw_osd(cv::Mat& img, const std::string& stream, double t, int64_t frame,
              const track::TrackUpdate& tracks,
              const std::vector<std::unique_ptr<rules::Rule>>& rules, const OsdState& state) {
  for (const auto& rule : rules) {
    const rules::Overlay o = rule->overlay();
    if (o.points.size() < 2) continue;
    const bool flash = t - o.last_event_time < kFlashSeconds;
    const cv::Scalar color = flash ? kAlarmColor : kRuleColor;
    std::vector<cv::Point> pts;
    for (const Point& p : o.points) pts.push_back(pt(p));
    if (o.closed) {
      // Blend only the zone's bounding box: a full-frame copy per zone per frame is wasted work.
      const cv::Rect roi = cv::boundingRect(pts) & cv::Rect(0, 0, img.cols, img.rows);
      if (!roi.empty()) {
        cv::Mat area = img(roi);
        cv::Mat fill = area.clone();
        cv::fillPoly(fill, std::vector<std::vector<cv::Point>>{pts}, color, cv::LINE_8, 0,
                     -roi.tl());
        cv::addWeighted(fill, flash ? 0.3 : 0.15, area, flash ? 0.7 : 0.85, 0, area);
      }
      cv::polylines(img, pts, true, color, 2, cv::LINE_AA);
    } else {
      cv::line(img, pts[0], pts[1], color, flash ? 4 : 2, cv::LINE_AA);
      // Side labels: A on the right of a->b as drawn (y down), B on the left.
      const cv::Point2d d(pts[1] - pts[0]);
      const double len = std::max(1.0, std::hypot(d.x, d.y));
      const cv::Point2d n(-d.y / len * 14, d.x / len * 14);
      const cv::Point2d mid = (cv::Point2d(pts[0]) + cv::Point2d(pts[1])) * 0.5;
      cv::putText(img, "A", mid + n - cv::Point2d(5, -5), cv::FONT_HERSHEY_SIMPLEX, 0.5, color, 2);
      cv::putText(img, "B", mid - n - cv::Point2d(5, -5), cv::FONT_HERSHEY_SIMPLEX, 0.5, color, 2);
    }
    label(img, o.caption, pts[0] + cv::Point(4, -4), color);
  }

  for (const auto& tr : tracks.tracks) {
    if (!tr.confirmed) continue;
    const auto it = state.track_last_event.find(tr.id);
    const bool flash = it != state.track_last_event.end() && t - it->second < kFlashSeconds;
    const cv::Scalar color = flash ? kAlarmColor : kTrackColor;
    cv::rectangle(img, pt({tr.box.x1, tr.box.y1}), pt({tr.box.x2, tr.box.y2}), color,
                  flash ? 3 : 2);
    char text[96];
    std::snprintf(text, sizeof text, "#%lld %s %.2f", static_cast<long long>(tr.id),
                  tr.label.c_str(), tr.score);
    label(img, text, pt({tr.box.x1, tr.box.y1}), color);
  }

  char header[128];
  std::snprintf(header, sizeof header, "%s  frame %lld  t=%.2fs", stream.c_str(),
                static_cast<long long>(frame), t);
  label(img, header, {6, 22}, cv::Scalar(40, 40, 40));
}

}  // namespace iris::pipeline
