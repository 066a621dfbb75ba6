// MotWriter: a stream's tracks as a MOTChallenge tracker file, so that `iris eval mot` can score
// a pipeline's tracking against ground truth (e.g. the gt.txt of `iris synth`). One line per track
// and frame: frame,id,x,y,w,h,score,-1,-1,-1, frames counted from 1. Runs on the stream's strand.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "track/tracker.h"

namespace iris::pipeline {

class MotWriter {
 public:
  // Creates the parent directory; fails if the file cannot be written.
  static Result<std::unique_ptr<MotWriter>> open(const std::string& path);
  ~MotWriter();
  MotWriter(const MotWriter&) = delete;
  MotWriter& operator=(const MotWriter&) = delete;

  // Writes the frame's confirmed tracks that a detection matched at media time `since` or later
  // (the last detector run), as the tracker reports them, before suppression. `frame_index` counts
  // from 0, as Frame::index does.
  Status write(int64_t frame_index, const std::vector<track::Track>& tracks, double since);
  Status close();

 private:
  MotWriter(std::string path, std::FILE* f) : path_(std::move(path)), f_(f) {}
  std::string path_;
  std::FILE* f_;
};

}  // namespace iris::pipeline
