// Event sinks: where events go. A sink belongs to one stream and is called on its strand.
#pragma once

#include <cstdio>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <string_view>

#include "core/status.h"
#include "events/event.h"

namespace iris::events {

class Sink {
 public:
  virtual ~Sink() = default;
  // Delivers one event as its JSON line (to_json_line); it is on durable storage or at its peer
  // when this returns ok.
  virtual Status deliver(const std::string& json) = 0;
  // Flushes and releases; further deliveries fail.
  virtual Status close() = 0;
};

// Appends one JSON object per line (docs/events.md) and flushes each line, so a crash or a
// kill loses nothing already delivered. Creates the parent directory.
class JsonlSink : public Sink {
 public:
  static Result<std::unique_ptr<JsonlSink>> open(const std::string& path);
  ~JsonlSink() override;
  Status deliver(const std::string& json) override;
  Status close() override;

 private:
  JsonlSink(std::string path, std::FILE* f) : path_(std::move(path)), f_(f) {}
  std::string path_;
  std::FILE* f_;
};

// Writes the frame with the event's box drawn on it as DIR/<event id>.jpg; returns the path.
Result<std::string> write_snapshot(const cv::Mat& bgr, const Event& e, const std::string& dir);

// Creates `dir` and its parents; ok if it exists.
Status make_dirs(const std::string& dir);

}  // namespace iris::events
