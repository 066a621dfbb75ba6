#include "infer/decoder.h"

namespace iris::infer {
namespace {

std::vector<int64_t> per_sample(const std::vector<int64_t>& shape) {
  return shape.empty() ? shape : std::vector<int64_t>(shape.begin() + 1, shape.end());
}

bool is_vector(const std::vector<int64_t>& s) {
  int64_t big = 0;
  for (int64_t d : s) big += d > 1;
  return !s.empty() && big == 1;
}

// The decoder whose layout these outputs look like, or "" when none does.
std::string guess_decoder(const ModelInfo& info, const DecoderParams& params) {
  const auto& outs = info.outputs;
  if (outs.empty()) return "";
  // Several [A, k] outputs: score and box heads.
  if (outs.size() == 2 || outs.size() == 4) {
    int scores = 0, boxes = 0, four = 0;
    for (const auto& o : outs) {
      const auto s = per_sample(o.shape);
      if (s.size() != 2) return "";
      scores += s[1] == 1;
      boxes += s[1] == 16;
      four += s[1] == 4;
    }
    if (scores == boxes && scores * 2 == static_cast<int>(outs.size())) return "blazeface";
    if (outs.size() == 2 && four >= 1 &&
        per_sample(outs[0].shape)[0] == per_sample(outs[1].shape)[0]) {
      return "ssd";
    }
  }
  const auto s = per_sample(outs[0].shape);
  if (s.size() == 2) {
    const int64_t a = s[0], b = s[1];
    if (b == 6 && a <= 1000) return "end2end";  // post-NMS exports keep a few hundred boxes
    if (b >= 6 && a > b) {
      return a == grid_anchor_count(params.input_width, params.input_height) ? "yolox" : "yolov5";
    }
    if (a >= 5 && b > a) return "yolov8";
  }
  if (is_vector(s)) return "classifier or embedding";
  return "";
}

}  // namespace

int64_t grid_anchor_count(int width, int height) {
  int64_t n = 0;
  for (int stride : {8, 16, 32}) n += static_cast<int64_t>(width / stride) * (height / stride);
  return n;
}

void add_objectness_row(const float* row, int classes, float min_score, float cx, float cy, float w,
                        float h, std::vector<Candidate>* out) {
  if (row[4] < min_score) return;  // the score is at most the objectness
  int best = 0;
  for (int c = 1; c < classes; ++c) {
    if (row[5 + c] > row[5 + best]) best = c;
  }
  const float score = row[4] * row[5 + best];
  if (score < min_score) return;
  out->push_back({{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}, best, score});
}

Status output_error(const std::string& decoder, const TensorInfo& output,
                    const std::string& expects, const ModelInfo& info,
                    const DecoderParams& params) {
  const std::string guess = guess_decoder(info, params);
  std::string fix;
  if (!guess.empty() && guess != decoder) {
    fix = "fix: these outputs look like decoder '" + guess + "'";
  } else {
    fix = "fix: pick the decoder that matches the model's outputs (" +
          std::to_string(info.outputs.size()) + " output" + (info.outputs.size() == 1 ? "" : "s") +
          ") or re-export it in the layout above";
  }
  return Status::error("output '" + output.name + "' has shape " + shape_string(output.shape) +
                       "; the " + decoder + " decoder expects " + expects + "; " + fix);
}

Status check_class_count(const std::string& decoder, int model_classes,
                         const DecoderParams& params) {
  if (params.num_class_names == 0 || model_classes == params.num_class_names) return {};
  return Status::error("the model's outputs score " + std::to_string(model_classes) +
                       " classes (decoder " + decoder + ") but the config's classes list " +
                       std::to_string(params.num_class_names) +
                       "; fix: list one name per class, in the model's order");
}

}  // namespace iris::infer
