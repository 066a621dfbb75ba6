// Test helpers for rules: tracks placed by their anchor point and runners that feed one
// TrackUpdate per frame at 10 fps, so expected frames and media times are easy to write down.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "events/event.h"
#include "rules/rule.h"
#include "rules/suppression.h"
#include "track/tracker.h"

namespace iris::rules::testing {

inline constexpr double kFps = 10;
inline constexpr double kWallStart = 1.7e9;

// A confirmed, matched 20x40 box whose bottom-center is `foot`.
inline track::Track object(int64_t id, Point foot, const std::string& label = "person") {
  track::Track t;
  t.id = id;
  t.box = {foot.x - 10, foot.y - 40, foot.x + 10, foot.y};
  t.label = label;
  t.score = 0.8f;
  t.hits = 5;
  t.confirmed = true;
  t.matched = true;
  return t;
}

// Feeds frames 0, 1, 2, ... to a rule. Matched tracks get last_matched = the frame's media time;
// removed tracks are passed as given (their last_matched is the caller's to set).
class Runner {
 public:
  explicit Runner(Rule* rule, int width = 640, int height = 480)
      : rule_(rule), width_(width), height_(height) {}

  std::vector<events::Event> step(std::vector<track::Track> tracks,
                                  std::vector<track::Track> removed = {}) {
    FrameContext ctx;
    ctx.stream = "cam";
    ctx.frame = frame_;
    ctx.media_time = frame_ / kFps;
    ctx.wall_time = kWallStart + ctx.media_time;
    ctx.width = width_;
    ctx.height = height_;
    for (track::Track& t : tracks) {
      if (t.matched) t.last_matched = ctx.media_time;
    }
    std::vector<events::Event> out;
    rule_->evaluate({std::move(tracks), std::move(removed)}, ctx, &out);
    all_.insert(all_.end(), out.begin(), out.end());
    ++frame_;
    return out;
  }
  // One track alone on a frame.
  std::vector<events::Event> step(const track::Track& t) { return step(std::vector{t}); }

  int64_t frame() const { return frame_; }
  double media_time() const { return frame_ / kFps; }
  void resize(int width, int height) {
    width_ = width;
    height_ = height;
  }
  const std::vector<events::Event>& events() const { return all_; }

 private:
  Rule* rule_;
  int width_;
  int height_;
  int64_t frame_ = 0;
  std::vector<events::Event> all_;
};

// An event and the frame whose evaluate() returned it.
struct Raised {
  int64_t at;
  events::Event event;
};

// Feeds frames 0 .. frames - 1 to `rule`, with the tracks tracks_at(frame); returns its events.
inline std::vector<Raised> run_frames(
    Rule* rule, int frames, const std::function<std::vector<track::Track>(int)>& tracks_at) {
  Runner r(rule);
  std::vector<Raised> raised;
  for (int f = 0; f < frames; ++f) {
    for (events::Event& e : r.step(tracks_at(f))) raised.push_back({f, std::move(e)});
  }
  return raised;
}

// Runs track 1 alone through `rule` with its foot at foot(frame).
inline std::vector<Raised> run_one(Rule* rule, int frames, const std::function<Point(int)>& foot) {
  return run_frames(rule, frames, [&foot](int f) { return std::vector{object(1, foot(f))}; });
}

// Runs rules behind the suppression stage as the stream worker does (tracker output -> update ->
// each rule's input -> cool-down), at 10 fps from a wall-clock start; skip() jumps ahead.
class StageRunner {
 public:
  StageRunner(const SuppressionSpec& stream, std::vector<RuleSpec> specs,
              double wall_start = kWallStart, int width = 640, int height = 480)
      : specs_(std::move(specs)),
        suppression_(stream, specs_),
        wall_start_(wall_start),
        width_(width),
        height_(height) {
    for (const RuleSpec& s : specs_) rules_.push_back(make_rule(s));
  }

  std::vector<events::Event> step(std::vector<track::Track> tracks,
                                  std::vector<track::Track> removed = {}) {
    FrameContext ctx;
    ctx.stream = "cam";
    ctx.frame = frame_;
    ctx.media_time = media_time();
    ctx.wall_time = wall_start_ + ctx.media_time;
    ctx.width = width_;
    ctx.height = height_;
    for (track::Track& t : tracks) {
      if (t.matched) t.last_matched = ctx.media_time;
    }
    suppression_.update({std::move(tracks), std::move(removed)}, ctx);
    std::vector<events::Event> out;
    for (size_t i = 0; i < rules_.size(); ++i)
      rules_[i]->evaluate(suppression_.input(i), ctx, &out);
    suppression_.cool_down(&out);
    all_.insert(all_.end(), out.begin(), out.end());
    ++frame_;
    return out;
  }
  std::vector<events::Event> step(const track::Track& t) { return step(std::vector{t}); }
  // Moves the clock on by `seconds` without a frame (frame numbers go on from where they were).
  void skip(double seconds) { skipped_ += seconds; }

  int64_t frame() const { return frame_; }
  double media_time() const { return frame_ / kFps + skipped_; }
  Suppression& suppression() { return suppression_; }
  Rule& rule(size_t i) { return *rules_.at(i); }
  const std::vector<events::Event>& events() const { return all_; }

 private:
  std::vector<RuleSpec> specs_;
  Suppression suppression_;
  std::vector<std::unique_ptr<Rule>> rules_;
  double wall_start_;
  int width_;
  int height_;
  int64_t frame_ = 0;
  double skipped_ = 0;
  std::vector<events::Event> all_;
};

}  // namespace iris::rules::testing
