// The motion gate: no motion, no detector; motion (and `hold` after it) runs it, narrowed to the
// moving region when asked; `refresh` runs it anyway now and then.
#include "pipeline/motion_gate.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "support/support.h"

namespace iris::pipeline {
namespace {

const cv::Mat kBackground = testing::textured_background(320, 240);

// Frame i at 10 fps, with a white block at x (none when x < 0).
Frame frame_at(int i, int x) {
  cv::Mat img = kBackground.clone();
  if (x >= 0) cv::rectangle(img, cv::Rect(x, 100, 20, 40), cv::Scalar(240, 240, 240), cv::FILLED);
  return testing::frame_of(img, i);
}

TEST(Gate, RunsOnMotionAndForHoldSecondsAfterItOnly) {
  // A fast-learning background, so that a block that stops is background within a few frames.
  Gate gate(MotionGate{.motion = {.learning_rate = 0.3}, .hold = 0.5, .refresh = 0});
  EXPECT_TRUE(gate.decide(frame_at(0, -1)).run) << "the first frame always runs";
  for (int i = 1; i < 10; ++i) EXPECT_FALSE(gate.decide(frame_at(i, -1)).run) << i;
  // A block walks in for 5 frames, then stands still.
  for (int i = 10; i < 15; ++i) EXPECT_TRUE(gate.decide(frame_at(i, 40 + 10 * (i - 10))).run) << i;
  std::vector<bool> runs;
  for (int i = 15; i < 30; ++i) runs.push_back(gate.decide(frame_at(i, 80)).run);
  // Still: it fades into the background, then hold runs out.
  const auto first_off = std::find(runs.begin(), runs.end(), false) - runs.begin();
  EXPECT_GE(first_off, 5) << "hold keeps running 0.5 s after the last motion";
  EXPECT_LT(first_off, 15);
  EXPECT_TRUE(std::all_of(runs.begin() + first_off, runs.end(), [](bool r) { return !r; }));
}

TEST(Gate, RefreshRunsTheDetectorEvenWithoutMotion) {
  Gate gate(MotionGate{.hold = 0, .refresh = 1.0});
  int runs = 0;
  for (int i = 0; i < 31; ++i) runs += gate.decide(frame_at(i, -1)).run;
  EXPECT_EQ(runs, 4) << "at 0, 1, 2 and 3 s";
}

TEST(Gate, RegionCoversTheMovingBlockOnly) {
  Gate gate(MotionGate{.hold = 0, .refresh = 0, .region = true, .padding = 0.25});
  gate.decide(frame_at(0, -1));
  const Gate::Decision d = gate.decide(frame_at(1, 200));
  ASSERT_TRUE(d.run);
  ASSERT_TRUE(d.region.has_value());
  const cv::Rect block(200, 100, 20, 40);
  EXPECT_EQ(*d.region & block, block) << "the region holds the block";
  EXPECT_LT(d.region->area(), 320 * 240 / 4) << "and not much else";
}

TEST(Gate, ResetStartsOverAsAtTheFirstFrame) {
  Gate gate(MotionGate{.hold = 0, .refresh = 0});
  gate.decide(frame_at(0, -1));
  EXPECT_FALSE(gate.decide(frame_at(1, -1)).run);
  gate.reset();
  EXPECT_TRUE(gate.decide(frame_at(2, -1)).run);
  EXPECT_FALSE(gate.decide(frame_at(3, -1)).run);
}

}  // namespace
}  // namespace iris::pipeline
