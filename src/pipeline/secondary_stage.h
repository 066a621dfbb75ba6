// SecondaryStage: runs a stream's secondary models (classifiers, embeddings) on the crops of its
// detections, through each model's ModelServer, and attaches the answers to the detections so
// their tracks and events carry them. Each tracked object is run at most once per `interval`;
// in between it reuses the object's last answer. Lives on the stream's strand like the rest of
// the StreamWorker; results come back on server threads and are posted back to the strand.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "core/detection.h"
#include "core/frame.h"
#include "infer/model_server.h"
#include "pipeline/config.h"
#include "track/tracker.h"

namespace iris::pipeline {

class SecondaryStage {
 public:
  using Post = std::function<void(std::function<void()>)>;  // run a task on the stream's strand
  using Done = std::function<void(std::vector<Detection>)>;

  // Every spec's model must be in `models`. `may_drop`: the stream is live (a full model queue
  // skips the crop instead of waiting).
  SecondaryStage(std::vector<SecondarySpec> specs, const infer::ServedModels& models, bool may_drop,
                 Post post);

  bool empty() const { return specs_.empty(); }
  // Calls `done` exactly once, on the strand, with `detections` and their answers. A detection
  // that overlaps a track of the last update() is that object. A crop whose model fails or is
  // dropped gets no answer from it; the failures are counted.
  void run(const Frame& frame, std::vector<Detection> detections, Done done);
  // After each tracker update or predict: keeps the tracks for the next run() and drops what is
  // remembered about the objects the tracker removed.
  void update(const track::TrackUpdate& tracks);
  // Safe from any thread: the stream's counters read it.
  int64_t failures() const { return failures_; }

 private:
  struct Answer {
    double time = 0;  // media time of the run
    std::vector<Classification> classes;
    std::vector<float> embedding;
  };
  struct Job;
  static void attach(const Answer& answer, Detection* d);

  std::vector<SecondarySpec> specs_;
  std::vector<infer::ServedModel> served_;  // one per spec
  bool may_drop_;
  Post post_;
  std::map<std::pair<int64_t, size_t>, Answer> answers_;  // (track id, spec index) -> last answer
  // Answers for detections that were no track yet, kept until the next run() can tell which
  // track each became (the tracker ran on them in between).
  struct Unclaimed {
    Detection detection;
    size_t spec;
    Answer answer;
  };
  std::vector<Unclaimed> unclaimed_;
  std::vector<track::Track> tracks_;  // of the last update(); only kept when there are specs
  std::atomic<int64_t> failures_{0};
};

}  // namespace iris::pipeline
