// BlazeFace (MediaPipe face detection, front 128x128 and back 256x256 models) before MediaPipe's
// own post-processing: score logits [1, A, 1] and box regressors [1, A, 16] (dx, dy, w, h, then
// six keypoints, ignored here), in pixels of the model input relative to SSD anchors.
// Anchors as MediaPipe's SsdAnchorsCalculator makes them for these models (4 layers, strides
// s, 2s, 2s, 2s with s = input / 16, offset 0.5, fixed anchor size 1): the first layer gives a
// 16x16 grid with 2 anchors per cell (512), the three layers of stride 2s merge into an 8x8 grid
// with 6 anchors per cell (384); anchors run row by row, the anchors of a cell together.
// Outputs come either split per grid (the npm/Barracuda exports: scores 512 and 384, boxes 512 and
// 384) or concatenated (896 each, the TFLite layout); they are told apart by their shapes.
// Box centre = anchor centre * input size + (dx, dy); size = (w, h); score = sigmoid(logit) with
// the logit clamped to [-100, 100] as MediaPipe does. One class: the face.
#include <algorithm>
#include <cmath>

#include "infer/decoder.h"

namespace iris::infer {
namespace {

constexpr int kRegressors = 16;  // box (4) + six keypoints (x, y)

struct Grid {
  int cells = 0;  // per side
  int anchors_per_cell = 0;
  int64_t count() const { return static_cast<int64_t>(cells) * cells * anchors_per_cell; }
};
constexpr Grid kGrids[] = {{16, 2}, {8, 6}};

class BlazefaceDecoder : public DetectionDecoder {
 public:
  explicit BlazefaceDecoder(const DecoderParams& params) : params_(params) {
    for (const Grid& g : kGrids) {
      for (int y = 0; y < g.cells; ++y) {
        for (int x = 0; x < g.cells; ++x) {
          for (int k = 0; k < g.anchors_per_cell; ++k) {
            anchors_.push_back({(x + 0.5) / g.cells, (y + 0.5) / g.cells});
          }
        }
      }
    }
  }

  Status check(const ModelInfo& info) override {
    const std::string expects =
        "score logits [1, 512, 1] and [1, 384, 1] with box regressors [1, 512, 16] and "
        "[1, 384, 16] (or [1, 896, 1] and [1, 896, 16])";
    scores_.clear();
    boxes_.clear();
    for (size_t i = 0; i < info.outputs.size(); ++i) {
      const auto& s = info.outputs[i].shape;
      if (s.size() != 3 || (s[2] != 1 && s[2] != kRegressors)) {
        return output_error("blazeface", info.outputs[i], expects, info, params_);
      }
      (s[2] == 1 ? scores_ : boxes_).push_back(static_cast<int>(i));
    }
    // Order each list by anchor count, largest first: 512 (first grid) before 384.
    for (auto* list : {&scores_, &boxes_}) {
      std::stable_sort(list->begin(), list->end(), [&](int a, int b) {
        return info.outputs[a].shape[1] > info.outputs[b].shape[1];
      });
    }
    const bool split = scores_.size() == 2 && boxes_.size() == 2;
    const bool joined = scores_.size() == 1 && boxes_.size() == 1;
    bool fits = split || joined;
    for (size_t i = 0; fits && i < scores_.size(); ++i) {
      const int64_t want = split ? kGrids[i].count() : kGrids[0].count() + kGrids[1].count();
      fits = info.outputs[scores_[i]].shape[1] == want && info.outputs[boxes_[i]].shape[1] == want;
    }
    if (!fits) return output_error("blazeface", info.outputs[0], expects, info, params_);
    return check_class_count("blazeface", 1, params_);
  }
  int num_classes() const override { return 1; }

  void decode(const SampleOutputs& outputs, float min_score,
              std::vector<Candidate>* out) const override {
    // The logit a score of min_score needs; most anchors stop at this comparison.
    const float p = std::clamp(min_score, 1e-6f, 1 - 1e-6f);
    const float min_logit = std::log(p / (1 - p));
    const double w = params_.input_width, h = params_.input_height;
    size_t anchor = 0;
    for (size_t part = 0; part < scores_.size(); ++part) {
      const OutputView& scores = outputs[scores_[part]];
      const OutputView& boxes = outputs[boxes_[part]];
      for (int64_t i = 0; i < scores.shape[0]; ++i, ++anchor) {
        const float logit = std::clamp(scores.data[i], -100.0f, 100.0f);
        if (logit < min_logit) continue;
        const float* r = boxes.data + i * kRegressors;
        const double cx = anchors_[anchor].x * w + r[0];
        const double cy = anchors_[anchor].y * h + r[1];
        out->push_back({{cx - r[2] / 2, cy - r[3] / 2, cx + r[2] / 2, cy + r[3] / 2},
                        0,
                        1 / (1 + std::exp(-logit))});
      }
    }
  }

 private:
  const DecoderParams params_;
  std::vector<Point> anchors_;  // centres, normalized to the input
  std::vector<int> scores_;     // output indices, in anchor order
  std::vector<int> boxes_;
};

}  // namespace

std::unique_ptr<Decoder> make_blazeface_decoder(const DecoderParams& params) {
  return std::make_unique<BlazefaceDecoder>(params);
}

}  // namespace iris::infer
