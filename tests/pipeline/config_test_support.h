// Shared by the config tests: a substring check, text replacement, and a fixture whose configs
// read a stand-in video file (the config only checks that a local url exists and is readable,
// not what it holds).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <string_view>

#include "pipeline/config.h"
#include "support/support.h"

namespace iris::pipeline {

// A substring check that prints both strings on failure (these binaries link gtest, not gmock).
inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected to find\n  " << part << "\nin\n" << text;
}

// `text` with every `from` replaced by `to`.
inline std::string replace_all(std::string text, std::string_view from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

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
