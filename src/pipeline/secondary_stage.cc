#include "pipeline/secondary_stage.h"

#include <algorithm>

namespace iris::pipeline {
namespace {

// The object a detection is: the same-class track of the previous update it overlaps most.
int64_t object_of(const Detection& d, const std::vector<track::Track>& tracks) {
  constexpr double kMinIou = 0.3;
  int64_t best = 0;
  double best_iou = kMinIou;
  for (const track::Track& t : tracks) {
    if (t.label != d.label) continue;
    const double v = iou(d.box, t.box);
    if (v >= best_iou) {
      best_iou = v;
      best = t.id;
    }
  }
  return best;
}

cv::Rect crop_of(const Box& b, double padding, int width, int height) {
  const double px = b.width() * padding, py = b.height() * padding;
  const Box grown = clip(Box{b.x1 - px, b.y1 - py, b.x2 + px, b.y2 + py}, width, height);
  return cv::Rect(cv::Point(static_cast<int>(grown.x1), static_cast<int>(grown.y1)),
                  cv::Point(static_cast<int>(grown.x2), static_cast<int>(grown.y2)));
}

}  // namespace

// One frame's crops in flight. Answers arrive on server threads; the last one posts the rest.
struct SecondaryStage::Job {
  struct Run {
    size_t detection;
    size_t spec;
    int64_t object;
    Answer answer;
    bool ok = false;
  };
  std::vector<Detection> detections;
  std::vector<Run> runs;
  std::atomic<size_t> pending{0};
  Done done;
};

SecondaryStage::SecondaryStage(std::vector<SecondarySpec> specs, const infer::ServedModels& models,
                               bool may_drop, Post post)
    : specs_(std::move(specs)), may_drop_(may_drop), post_(std::move(post)) {
  for (const SecondarySpec& s : specs_) served_.push_back(models.at(s.model));
}

void SecondaryStage::attach(const Answer& answer, Detection* d) {
  d->classes.insert(d->classes.end(), answer.classes.begin(), answer.classes.end());
  if (!answer.embedding.empty()) d->embedding = answer.embedding;
}

void SecondaryStage::run(const Frame& frame, std::vector<Detection> detections, Done done) {
  for (Unclaimed& u : unclaimed_) {
    if (const int64_t object = object_of(u.detection, tracks_); object != 0) {
      answers_[{object, u.spec}] = std::move(u.answer);
    }
  }
  unclaimed_.clear();
  auto job = std::make_shared<Job>();
  for (size_t i = 0; i < detections.size(); ++i) {
    Detection& d = detections[i];
    const int64_t object = object_of(d, tracks_);
    for (size_t s = 0; s < specs_.size(); ++s) {
      const SecondarySpec& spec = specs_[s];
      if (!spec.classes.empty() &&
          std::find(spec.classes.begin(), spec.classes.end(), d.label) == spec.classes.end()) {
        continue;
      }
      if (std::min(d.box.width(), d.box.height()) < spec.min_size) continue;
      if (object != 0) {
        const auto it = answers_.find({object, s});
        if (it != answers_.end() && frame.pts - it->second.time < spec.interval) {
          attach(it->second, &d);
          continue;
        }
      }
      job->runs.push_back({i, s, object, {}, false});
    }
  }
  if (job->runs.empty()) return done(std::move(detections));

  std::vector<Result<infer::Sample>> samples;
  for (const Job::Run& r : job->runs) {
    const cv::Rect crop =
        crop_of(detections[r.detection].box, specs_[r.spec].padding, frame.width(), frame.height());
    samples.push_back(served_[r.spec].model->preprocess(frame.bgr(), crop));
  }
  job->detections = std::move(detections);
  job->done = std::move(done);
  job->pending = job->runs.size();
  // Runs on the strand once every answer is in: attach, remember, go on.
  auto complete = [this, job, now = frame.pts] {
    for (Job::Run& r : job->runs) {
      if (!r.ok) {
        ++failures_;
        continue;
      }
      r.answer.time = now;
      attach(r.answer, &job->detections[r.detection]);
      if (r.object != 0) {
        answers_[{r.object, r.spec}] = r.answer;
      } else {
        unclaimed_.push_back({job->detections[r.detection], r.spec, r.answer});
      }
    }
    job->done(std::move(job->detections));
  };
  for (size_t k = 0; k < job->runs.size(); ++k) {
    Job::Run& r = job->runs[k];
    auto finish_one = [this, job, complete] {
      if (--job->pending == 0) post_(complete);
    };
    if (!samples[k].ok()) {
      finish_one();
      continue;
    }
    const infer::ServedModel& served = served_[r.spec];
    // Only this callback writes run k, and the pending count orders it before `complete`.
    Status s = served.server->submit(
        std::move(samples[k]->tensor), may_drop_,
        [&r, model = served.model, finish_one](Result<std::vector<infer::Tensor>> out) {
          if (out.ok()) {
            if (model->task() == infer::Task::kEmbed) {
              auto e = model->embedding(*out);
              r.ok = e.ok();
              if (e.ok()) r.answer.embedding = std::move(e).value();
            } else {
              auto c = model->classifications(*out);
              r.ok = c.ok();
              if (c.ok()) r.answer.classes = std::move(c).value();
            }
          }
          finish_one();
        });
    if (!s.ok()) finish_one();
  }
}

void SecondaryStage::update(const track::TrackUpdate& tracks) {
  if (specs_.empty()) return;
  tracks_ = tracks.tracks;
  for (const track::Track& t : tracks.removed) {
    for (size_t s = 0; s < specs_.size(); ++s) answers_.erase({t.id, s});
  }
}

}  // namespace iris::pipeline
