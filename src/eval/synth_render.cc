// Rendering: the street, the objects and occluders far to near, the changing light and the
// sensor's noise.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <opencv2/imgproc.hpp>

#include "eval/synth_internal.h"

namespace iris::eval {
namespace {

using synth_internal::Drawable;
using synth_internal::drawables_at;
using synth_internal::kKerbEnd;
using synth_internal::kRoadEnd;
using synth_internal::kRoadTop;
using synth_internal::kWallEnd;
using synth_internal::Rng;
using synth_internal::stream;

const cv::Scalar kSkin(120, 160, 210);
const cv::Scalar kTyre(30, 30, 30);

cv::Rect to_rect(const Box& b) {
  return {static_cast<int>(b.x1), static_cast<int>(b.y1), static_cast<int>(b.width()),
          static_cast<int>(b.height())};
}

cv::Point pt(double x, double y) {
  return {static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y))};
}

void fill(cv::Mat& img, double x, double y, double w, double h, const cv::Scalar& colour) {
  cv::rectangle(img, cv::Rect(pt(x, y), pt(x + w, y + h)), colour, cv::FILLED);
}

// Each shape fills its box edge to edge, and its body colour covers the box centre.
void draw_person(cv::Mat& img, const Box& b, const cv::Scalar& colour, const cv::Scalar& accent) {
  const double w = b.width(), h = b.height(), cx = (b.x1 + b.x2) / 2;
  const double r = std::max(1.0, std::min(0.11 * h, 0.45 * w));
  cv::circle(img, pt(cx, b.y1 + r), static_cast<int>(std::lround(r)), kSkin, cv::FILLED,
             cv::LINE_AA);
  fill(img, b.x1, b.y1 + 0.2 * h, w, 0.4 * h, colour);
  fill(img, b.x1 + 0.1 * w, b.y1 + 0.6 * h, 0.35 * w, 0.4 * h, accent);
  fill(img, cx + 0.05 * w, b.y1 + 0.6 * h, 0.35 * w, 0.4 * h, accent);
}

void draw_car(cv::Mat& img, const Box& b, const cv::Scalar& colour, const cv::Scalar& accent) {
  const double w = b.width(), h = b.height();
  fill(img, b.x1 + 0.2 * w, b.y1, 0.6 * w, 0.45 * h, colour * 0.8);
  fill(img, b.x1 + 0.25 * w, b.y1 + 0.08 * h, 0.22 * w, 0.28 * h, accent);
  fill(img, b.x1 + 0.53 * w, b.y1 + 0.08 * h, 0.22 * w, 0.28 * h, accent);
  fill(img, b.x1, b.y1 + 0.38 * h, w, 0.45 * h, colour);
  const double r = 0.19 * h;
  for (const double x : {b.x1 + 0.22 * w, b.x2 - 0.22 * w}) {
    cv::circle(img, pt(x, b.y2 - r), static_cast<int>(std::lround(r)), kTyre, cv::FILLED,
               cv::LINE_AA);
  }
}

void draw_bicycle(cv::Mat& img, const Box& b, const cv::Scalar& colour, const cv::Scalar& accent) {
  const double w = b.width(), h = b.height(), cx = (b.x1 + b.x2) / 2;
  const double r = std::min(0.24 * w, 0.3 * h);
  const int thick = std::max(2, static_cast<int>(r / 4));
  const cv::Point back = pt(b.x1 + r, b.y2 - r), front = pt(b.x2 - r, b.y2 - r);
  const cv::Point seat = pt(cx, b.y1 + 0.6 * h);
  for (const cv::Point& c : {back, front}) {
    cv::circle(img, c, static_cast<int>(std::lround(r - thick / 2.0)), kTyre, thick, cv::LINE_AA);
    cv::line(img, c, seat, accent, 2, cv::LINE_AA);
  }
  fill(img, cx - 0.15 * w, b.y1 + 0.17 * h, 0.3 * w, 0.43 * h, colour);
  cv::circle(img, pt(cx, b.y1 + 0.085 * h), static_cast<int>(std::lround(0.085 * h)), kSkin,
             cv::FILLED, cv::LINE_AA);
}

void draw_object(cv::Mat& img, ObjectClass c, const Box& b, const cv::Scalar& colour,
                 const cv::Scalar& accent) {
  switch (c) {
    case ObjectClass::kPerson:
      draw_person(img, b, colour, accent);
      break;
    case ObjectClass::kBicycle:
      draw_bicycle(img, b, colour, accent);
      break;
    case ObjectClass::kCar:
      draw_car(img, b, colour, accent);
      break;
  }
}

// Smooth random field in [-1, 1] with features about `cell` pixels across.
cv::Mat value_noise(Rng& rng, int width, int height, int cell) {
  cv::Mat coarse(height / cell + 2, width / cell + 2, CV_32F);
  for (int y = 0; y < coarse.rows; ++y) {
    for (int x = 0; x < coarse.cols; ++x) {
      coarse.at<float>(y, x) = static_cast<float>(rng.uniform(-1, 1));
    }
  }
  cv::Mat fine;
  cv::resize(coarse, fine, cv::Size((coarse.cols - 1) * cell, (coarse.rows - 1) * cell), 0, 0,
             cv::INTER_CUBIC);
  return fine(cv::Rect(0, 0, width, height)).clone();
}

// The day's light drifts, and a cloud's shadow sweeps across every 50 s.
double light_phase(const Scene& s) { return static_cast<double>(s.seed % 1000) / 1000.0; }

double global_light(const Scene& s, double t) {
  return 1 + 0.12 * std::sin(2 * std::numbers::pi * (t / 37.0 + light_phase(s)));
}

struct Shadow {
  double cx, cy, rx, ry;
};

Shadow shadow_at(const Scene& s, double t) {
  const double cycle = std::fmod(t / 50.0 + light_phase(s), 1.0);
  return {(-0.4 + 1.8 * cycle) * s.width, 0.65 * s.height, 0.3 * s.width, 0.3 * s.height};
}

double shade(const Shadow& sh, const Point& p) {
  const double dx = (p.x - sh.cx) / sh.rx, dy = (p.y - sh.cy) / sh.ry;
  const double z = std::clamp(1 - (dx * dx + dy * dy), 0.0, 1.0);
  return 1 - 0.25 * z * z * (3 - 2 * z);
}

}  // namespace

double Scene::lighting(double t, const Point& p) const {
  return global_light(*this, t) * shade(shadow_at(*this, t), p);
}

namespace synth_internal {

cv::Mat render_background(const Scene& s) {
  Rng rng = stream(s.seed, 3);
  const int w = s.width, h = s.height;
  cv::Mat bg(h, w, CV_8UC3);
  const struct {
    double end;
    cv::Scalar colour;
  } bands[] = {{kWallEnd, {90, 110, 150}},
               {kRoadTop, {150, 155, 160}},
               {kRoadEnd, {78, 76, 74}},
               {kKerbEnd, {185, 185, 185}},
               {1.0, {120, 140, 150}}};
  double start = 0;
  for (const auto& band : bands) {
    fill(bg, 0, start * h, w, (band.end - start) * h + 1, band.colour);
    start = band.end;
  }
  for (double u = 0.04; u < 0.95; u += 0.12) {  // windows
    fill(bg, u * w, 0.03 * h, 0.06 * w, 0.1 * h, {70, 60, 50});
  }
  for (double u = 0.02; u < 1; u += 0.1) {  // lane markings
    fill(bg, u * w, 0.43 * h, 0.05 * w, std::max(1.0, 0.006 * h), {220, 220, 220});
  }
  for (double u = 0.06; u < 1; u += 0.06) {  // paving joints
    cv::line(bg, pt(u * w, kKerbEnd * h), pt(u * w, h), {105, 122, 132}, 1);
  }
  for (double v = kKerbEnd + 0.06; v < 1; v += 0.06) {
    cv::line(bg, pt(0, v * h), pt(w, v * h), {105, 122, 132}, 1);
  }
  draw_person(bg, s.standee, {90, 100, 150}, {80, 80, 90});

  const cv::Mat large = value_noise(rng, w, h, std::max(8, w / 20));
  const cv::Mat small = value_noise(rng, w, h, 3);
  for (int y = 0; y < h; ++y) {
    auto* row = bg.ptr<cv::Vec3b>(y);
    for (int x = 0; x < w; ++x) {
      const double gain = 1 + 0.12 * large.at<float>(y, x) + 0.06 * small.at<float>(y, x);
      for (int c = 0; c < 3; ++c) row[x][c] = cv::saturate_cast<uint8_t>(row[x][c] * gain);
    }
  }
  return bg;
}

cv::Mat render_frame(const Scene& s, const cv::Mat& background, int64_t frame) {
  cv::Mat img = background.clone();
  for (const Drawable& d : drawables_at(s, frame)) {
    if (d.object) {
      draw_object(img, d.object->cls, d.box, d.object->colour, d.object->accent);
    } else {
      cv::rectangle(img, to_rect(d.box), d.occluder->colour, cv::FILLED);
      for (double x = d.box.x1 + 3; x < d.box.x2 - 1; x += 6) {
        cv::line(img, pt(x, d.box.y1), pt(x, d.box.y2 - 1), d.occluder->colour * 0.85, 1);
      }
    }
  }
  const double t = s.time_of(frame);
  const double global = global_light(s, t);
  const Shadow shadow = shadow_at(s, t);
  for (int y = 0; y < img.rows; ++y) {
    auto* row = img.ptr<cv::Vec3b>(y);
    for (int x = 0; x < img.cols; ++x) {
      const double gain = global * shade(shadow, {x + 0.5, y + 0.5});
      for (int c = 0; c < 3; ++c) row[x][c] = cv::saturate_cast<uint8_t>(row[x][c] * gain);
    }
  }
  // Sensor noise, seeded per frame so any frame renders alone the same way.
  cv::Mat noise(img.size(), CV_16SC3);
  cv::RNG rng(s.seed * 1000003ull + static_cast<uint64_t>(frame));
  rng.fill(noise, cv::RNG::NORMAL, 0, 3);
  cv::Mat out;
  cv::add(img, noise, out, cv::noArray(), CV_8UC3);
  return out;
}

}  // namespace synth_internal
}  // namespace iris::eval
