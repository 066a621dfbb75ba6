// Replay detector: detections read from a file instead of computed, so a pipeline can be run on
// exactly known detector output (`iris synth` writes such files beside its video).
#include <cassert>
#include <fstream>
#include <string_view>

#include "core/text.h"
#include "detect/detector.h"

namespace iris::detect {
namespace {

constexpr const char* kFields = "frame,id,x,y,w,h,score,class";
constexpr size_t kNumFields = 8;

class ReplayDetector : public Detector {
 public:
  explicit ReplayDetector(std::shared_ptr<const ReplayFrames> frames)
      : frames_(std::move(frames)) {}

  void detect(const Frame& frame, Done done) override {
    // The file counts frames from 1, as MOTChallenge files do.
    const auto it = frames_->find(frame.index + 1);
    done(it == frames_->end() ? std::vector<Detection>{} : it->second);
  }

 private:
  std::shared_ptr<const ReplayFrames> frames_;
};

}  // namespace

Result<std::shared_ptr<const ReplayFrames>> load_replay(const std::string& path,
                                                        const std::vector<std::string>& classes) {
  std::ifstream in(path);
  if (!in) return Status::error("cannot open detections file '" + path + "'");
  auto frames = std::make_shared<ReplayFrames>();
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    const std::string where = path + ":" + std::to_string(line) + ": ";
    const std::string_view content = trim(text);
    if (content.empty()) continue;
    const std::vector<std::string_view> fields = split_fields(content);
    if (fields.size() != kNumFields) {
      return Status::error(where + "expected " + std::to_string(kNumFields) +
                           " comma-separated fields (" + kFields + "), got " +
                           std::to_string(fields.size()));
    }
    auto bad = [&](size_t i, const std::string& need) {
      return Status::error(where + "field " + std::to_string(i + 1) + " must be " + need +
                           ", got '" + std::string(fields[i]) + "' (fields: " + kFields + ")");
    };
    int64_t frame = 0, id = 0, cls = 0;
    if (!parse_int(fields[0], &frame) || frame < 1) return bad(0, "a frame number >= 1");
    if (!parse_int(fields[1], &id)) return bad(1, "an integer id (-1 when there is none)");
    double v[4];
    for (size_t i = 0; i < 4; ++i) {
      if (!parse_finite(fields[2 + i], &v[i])) return bad(2 + i, "a finite number");
    }
    if (v[2] <= 0) return bad(4, "a width > 0");
    if (v[3] <= 0) return bad(5, "a height > 0");
    double score = 0;
    if (!parse_finite(fields[6], &score) || score < 0 || score > 1) {
      return bad(6, "a score in [0, 1]");
    }
    if (!parse_int(fields[7], &cls) || cls < 1) return bad(7, "a class id >= 1");
    if (!classes.empty() && cls > static_cast<int64_t>(classes.size())) {
      return Status::error(where + "class " + std::to_string(cls) + " has no name: classes lists " +
                           std::to_string(classes.size()) + " (" + join(classes) +
                           "); add its name to the detector's classes");
    }
    Detection d;
    d.box = Box{v[0], v[1], v[0] + v[2], v[1] + v[3]};
    d.label = classes.empty() ? std::to_string(cls) : classes[cls - 1];
    d.score = static_cast<float>(score);
    (*frames)[frame].push_back(std::move(d));
  }
  if (in.bad()) return Status::error("error reading detections file '" + path + "'");
  return std::shared_ptr<const ReplayFrames>(std::move(frames));
}

std::unique_ptr<Detector> make_replay_detector(const ReplaySpec& spec) {
  assert(spec.frames && "a ReplaySpec is loaded with load_replay() before use");
  return std::make_unique<ReplayDetector>(spec.frames);
}

}  // namespace iris::detect
