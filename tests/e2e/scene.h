// The scripted scene of the end-to-end tests: two figures on known paths across a known line
// and through a known zone, found by the motion detector. Expected event frames come from the
// paths themselves, not from a previous run.
#pragma once

#include <functional>
#include <opencv2/imgproc.hpp>
#include <string>

#include "support/support.h"

namespace iris::testing::scene {

constexpr int kWidth = 320;
constexpr int kHeight = 240;
constexpr double kFps = 10;
constexpr int kFrames = 140;
constexpr int kHalfWidth = 10;  // figures are 20x40 px

// Figure A walks right, feet at y=150, from off-screen left (frames 0-64).
inline double a_x(int i) { return 6.0 * i - 12; }
constexpr double kAFeet = 150;
// Figure B walks left, feet at y=210 (below the zone), from off-screen right (frames 70-139).
inline double b_x(int i) { return 332.0 - 6.0 * (i - 70); }
constexpr double kBFeet = 210;

inline void draw(cv::Mat& img, int i) {
  auto figure = [&img](double cx, double feet) {
    cv::rectangle(img, cv::Point2d(cx - kHalfWidth, feet - 40), cv::Point2d(cx + kHalfWidth, feet),
                  cv::Scalar(235, 235, 235), cv::FILLED);
  };
  if (i < 65) figure(a_x(i), kAFeet);
  if (i >= 70) figure(b_x(i), kBFeet);
}

inline Status write(const std::string& path) {
  return write_clip(path, textured_background(kWidth, kHeight), kFps, kFrames, draw);
}

// First frame in [from, to) where pred holds.
inline int first_frame(int from, int to, const std::function<bool(int)>& pred) {
  for (int i = from; i < to; ++i) {
    if (pred(i)) return i;
  }
  return -1;
}

// The line x=100 (y 40..235) and margin 4; the zone x 200..280, y 100..190.
inline std::string config(const std::string& url, const std::string& out_dir) {
  return "streams:\n"
         "  - name: synth\n"
         "    url: " +
         url +
         "\n"
         "    detector: {type: motion, label: person, min_area: 0.002}\n"
         "    tracker: {type: sort, max_age: 1.0, min_hits: 3, iou_threshold: 0.2}\n"
         "    rules:\n"
         "      - {name: door, type: line, points: [[100, 40], [100, 235]], margin: 4}\n"
         "      - name: yard\n"
         "        type: zone\n"
         "        polygon: [[200, 100], [280, 100], [280, 190], [200, 190]]\n"
         "        exit_grace: 0.3\n"
         "    outputs:\n"
         "      - {type: jsonl, path: " +
         out_dir +
         "/events.jsonl, snapshots: true, clips: true, pre_roll: 1, post_roll: 1}\n"
         "      - {type: mp4, path: " +
         out_dir + "/annotated.mp4}\n";
}

}  // namespace iris::testing::scene
