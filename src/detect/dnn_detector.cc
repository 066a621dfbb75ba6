// DNN detector: preprocesses a frame (or its tiles) on the stream's strand, submits the tensors to
// the model's ModelServer, and completes when every result is back. It keeps no state between
// frames, so one frame's requests may still be in flight when it returns.
#include <cmath>
#include <mutex>

#include "detect/detector.h"
#include "infer/postprocess.h"

namespace iris::detect {
namespace {

// `n` spans of equal size covering [0, length) exactly, each sharing `overlap` of its size with
// the next.
std::vector<cv::Range> spans(int n, double overlap, int length) {
  const double size = length / (n - (n - 1) * overlap);
  std::vector<cv::Range> out;
  for (int i = 0; i < n; ++i) {
    const int start = static_cast<int>(std::lround(i * size * (1 - overlap)));
    out.emplace_back(start, i + 1 == n ? length : static_cast<int>(std::lround(start + size)));
  }
  return out;
}

// The regions a frame is run on: the whole frame, or overlapping tiles (and the whole frame).
std::vector<cv::Rect> regions(const std::optional<TileSpec>& tiles, int width, int height) {
  const cv::Rect whole(0, 0, width, height);
  if (!tiles) return {whole};
  std::vector<cv::Rect> out;
  if (tiles->full_frame) out.push_back(whole);
  const std::vector<cv::Range> xs = spans(tiles->cols, tiles->overlap, width);
  for (const cv::Range& y : spans(tiles->rows, tiles->overlap, height)) {
    for (const cv::Range& x : xs) out.emplace_back(x.start, y.start, x.size(), y.size());
  }
  return out;
}

// Gathers the results of one frame's requests, which arrive on server threads; the last one to
// arrive completes the frame.
class FrameJob {
 public:
  FrameJob(size_t requests, std::shared_ptr<const infer::Model> model, Detector::Done done)
      : pending_(requests),
        merge_(requests > 1),
        model_(std::move(model)),
        done_(std::move(done)) {}

  void add(Result<std::vector<Detection>> r) {
    {
      std::lock_guard lock(mu_);
      if (!r.ok()) {
        if (!error_) error_ = r.status();
      } else {
        found_.insert(found_.end(), r->begin(), r->end());
      }
      if (--pending_ > 0) return;
    }
    // The last result: no other thread touches the job any more.
    if (error_) return done_(*error_);
    if (!merge_) return done_(std::move(found_));
    const infer::ModelSpec& spec = model_->spec();
    done_(infer::merge_detections(std::move(found_), spec.nms_iou, spec.max_detections));
  }

 private:
  std::mutex mu_;
  size_t pending_;  // guarded by mu_, like found_ and error_
  const bool merge_;
  const std::shared_ptr<const infer::Model> model_;
  const Detector::Done done_;
  std::vector<Detection> found_;
  std::optional<Status> error_;
};

class DnnDetector : public Detector {
 public:
  DnnDetector(const DnnSpec& spec, infer::ServedModel served, bool may_drop)
      : spec_(spec), served_(std::move(served)), may_drop_(may_drop) {}

  void detect(const Frame& frame, Done done) override {
    const std::vector<cv::Rect> rois = regions(spec_.tiles, frame.width(), frame.height());
    const infer::Model& model = *served_.model;
    std::vector<infer::Sample> samples;
    for (const cv::Rect& roi : rois) {
      auto sample = model.preprocess(frame.bgr(), roi);
      if (!sample.ok()) {
        done(sample.status().with_context("model '" + model.spec().name + "'"));
        return;
      }
      samples.push_back(std::move(sample).value());
    }
    auto job = std::make_shared<FrameJob>(samples.size(), served_.model, std::move(done));
    for (infer::Sample& sample : samples) {
      const infer::InputTransform transform = sample.transform;
      Status s = served_.server->submit(
          std::move(sample.tensor), may_drop_,
          [job, transform, model = served_.model](Result<std::vector<infer::Tensor>> out) {
            if (!out.ok()) return job->add(out.status());
            job->add(model->detections(*out, transform));
          });
      if (!s.ok()) job->add(s);
    }
  }

 private:
  DnnSpec spec_;
  infer::ServedModel served_;
  bool may_drop_;
};

}  // namespace

Result<std::unique_ptr<Detector>> make_dnn_detector(const DnnSpec& spec,
                                                    const infer::ServedModels& models,
                                                    bool may_drop) {
  const auto it = models.find(spec.model);
  if (it == models.end() || !it->second.server) {
    return Status::error("DNN detector: model '" + spec.model +
                         "' is not served; list it under models:");
  }
  return std::unique_ptr<Detector>(std::make_unique<DnnDetector>(spec, it->second, may_drop));
}

}  // namespace iris::detect
