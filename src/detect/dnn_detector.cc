// DNN detector: preprocesses a frame (or its tiles) on the stream's strand, submits the tensors to
// the model's ModelServer, and completes when every result is back. It keeps no state between
// frames, so one frame's requests may still be in flight when it returns.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>

#include "detect/detector.h"
#include "infer/postprocess.h"

namespace iris::detect {
namespace {

// The regions a frame is run on: the whole frame, or overlapping tiles (and the whole frame).
std::vector<cv::Rect> regions(const std::optional<TileSpec>& tiles, int width, int height) {
  const cv::Rect whole(0, 0, width, height);
  if (!tiles) return {whole};
  std::vector<cv::Rect> out;
  if (tiles->full_frame) out.push_back(whole);
  // Tiles of equal size: cols tiles of width w overlap by overlap*w, covering the frame exactly.
  const double tw = width / (tiles->cols - (tiles->cols - 1) * tiles->overlap);
  const double th = height / (tiles->rows - (tiles->rows - 1) * tiles->overlap);
  for (int r = 0; r < tiles->rows; ++r) {
    for (int c = 0; c < tiles->cols; ++c) {
      const int x0 = static_cast<int>(std::lround(c * tw * (1 - tiles->overlap)));
      const int y0 = static_cast<int>(std::lround(r * th * (1 - tiles->overlap)));
      const int x1 = c + 1 == tiles->cols ? width : static_cast<int>(std::lround(x0 + tw));
      const int y1 = r + 1 == tiles->rows ? height : static_cast<int>(std::lround(y0 + th));
      out.emplace_back(x0, y0, x1 - x0, y1 - y0);
    }
  }
  return out;
}

// Gathers the results of one frame's requests; the last one to arrive completes the frame.
struct FrameJob {
  FrameJob(size_t n, Detector::Done done) : pending(n), done(std::move(done)) {}
  std::atomic<size_t> pending;
  Detector::Done done;
  std::mutex mu;  // guards the fields below: results arrive on server threads
  std::vector<Detection> found;
  std::optional<Status> error;

  void add(Result<std::vector<Detection>> r) {
    {
      std::lock_guard lock(mu);
      if (!r.ok()) {
        if (!error) error = r.status();
      } else {
        found.insert(found.end(), r->begin(), r->end());
      }
    }
  }
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
    const bool merge = rois.size() > 1;
    auto job = std::make_shared<FrameJob>(samples.size(), std::move(done));
    auto finish_one = [job, merge, model = served_.model](Result<std::vector<Detection>> r) {
      job->add(std::move(r));
      if (--job->pending > 0) return;
      if (job->error) return job->done(*job->error);
      if (!merge) return job->done(std::move(job->found));
      const infer::ModelSpec& spec = model->spec();
      job->done(infer::merge_detections(std::move(job->found), spec.nms_iou, spec.max_detections));
    };
    for (infer::Sample& sample : samples) {
      const infer::InputTransform transform = sample.transform;
      Status s = served_.server->submit(
          std::move(sample.tensor), may_drop_,
          [finish_one, transform, model = served_.model](Result<std::vector<infer::Tensor>> out) {
            if (!out.ok()) return finish_one(out.status());
            finish_one(model->detections(*out, transform));
          });
      if (!s.ok()) finish_one(s);
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
