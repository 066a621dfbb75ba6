// On-screen display: draws tracks, rule geometry and counters, and a flash for recent events
// onto a BGR frame for the annotated video.
#pragma once

#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "rules/rule.h"
#include "track/tracker.h"

namespace iris::pipeline {

struct OsdState {
  std::map<int64_t, double> track_last_event;  // track id -> media time of its last event
};

void draw_osd(cv::Mat& bgr, const std::string& stream, double media_time, int64_t frame,
              const track::TrackUpdate& tracks,
              const std::vector<std::unique_ptr<rules::Rule>>& rules, const OsdState& state);

}  // namespace iris::pipeline
