// Synchronous use of detectors that compute on the caller's thread (all but DNN detectors): they
// answer before detect() returns.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "detect/detector.h"

namespace iris::detect {

inline Result<std::vector<Detection>> detect_now(Detector& det, const Frame& frame) {
  std::optional<Result<std::vector<Detection>>> got;
  det.detect(frame, [&got](Result<std::vector<Detection>> r) { got.emplace(std::move(r)); });
  if (!got) return Status::error("the detector did not answer before detect() returned");
  return std::move(*got);
}

// A detector that needs no models, for a file stream.
inline std::unique_ptr<Detector> make_local(const DetectorSpec& spec) {
  auto det = make_detector(spec, infer::ServedModels{}, false);
  EXPECT_TRUE(det.ok()) << det.status().message();
  return det.ok() ? std::move(det).value() : nullptr;
}

}  // namespace iris::detect
