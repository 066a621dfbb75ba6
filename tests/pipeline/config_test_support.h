// Shared by the config tests: a substring check (support.h's), text replacement, and a fixture
// whose configs read a stand-in video file (the config only checks that a local url exists and is
// readable, not what it holds).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <string_view>

#include "pipeline/config.h"
#include "support/support.h"

namespace iris::pipeline {

using testing::contains;
using testing::replace_all;

// Each test gets its own directory with a stand-in video file, which VIDEO in a config names.
class VideoConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    std::ofstream(video_) << "not really a video";
  }

  std::string with_video(const std::string& yaml) const {
    return replace_all(yaml, "VIDEO", video_);
  }
  Result<PipelineSpec> parse(const std::string& yaml) const {
    return parse_config(with_video(yaml), "test.yaml");
  }
  // The error message for a config that must not parse ("" if it parsed, after a failure).
  std::string errors(const std::string& yaml) const {
    Result<PipelineSpec> result = parse(yaml);
    EXPECT_FALSE(result.ok()) << "parsed but should not have:\n" << yaml;
    return result.ok() ? "" : result.status().message();
  }

  testing::TempDir dir_;
  const std::string video_ = dir_.file("clip.mp4");
};

}  // namespace iris::pipeline
