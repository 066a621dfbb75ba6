// The real BlazeFace models (MediaPipe, from scripts/fetch_models.sh) on Debian's sample footage,
// against faces labelled by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <optional>

#include "infer/model.h"
#include "video/source.h"

namespace iris::infer {
namespace {

const char kMegamind[] = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi";  // 720x528
const char kFront[] = "face_detection_front_128x128_barracuda.onnx";
const char kBack[] = "face_detection_back_256x256_barracuda.onnx";

std::string path_of(const std::string& file) {
  return std::string(IRIS_SOURCE_DIR) + "/models/" + file;
}

// Both models take NHWC RGB in [-1, 1], as MediaPipe's face detection graphs feed them
// (ImageToTensorCalculator, output_tensor_float_range -1..1); thresholds as in those graphs.
ModelSpec blazeface_spec(const std::string& file) {
  ModelSpec spec;
  spec.name = "face";
  spec.path = path_of(file);
  spec.decoder = "blazeface";
  spec.layout = Layout::kNHWC;
  spec.rgb = true;
  spec.scale = 1 / 127.5;
  spec.mean = {1, 1, 1};
  spec.class_names = {"face"};
  spec.score_threshold = 0.5f;
  spec.nms_iou = 0.3f;
  return spec;
}

// Faces labelled by hand: frames extracted with `ffmpeg -i Megamind.avi -vf
// "select='not(mod(n,30))'" -vsync 0 f%03d.png`, viewed cropped and enlarged 3-4x under a 10-pixel
// grid, edges read off the pixels. Box as MediaPipe's face box: cheek to cheek at eye level (ears
// and hair excluded), from about 15 pixels above the highest eyebrow (mid-forehead) to the bottom
// of the chin. `background`: the diner behind the table in frames 30-90, a face too blurred to
// require (roughly boxed), which a detection may match.
struct Labelled {
  int64_t frame;
  Box face;
  std::optional<Box> background;
};
const Labelled kFaces[] = {
    {30, {224, 200, 358, 333}, Box{455, 180, 515, 255}},  // woman, eyes closed, head tilted
    {60, {212, 222, 361, 368}, Box{465, 185, 530, 255}},  // woman, head tilted to her left
    {90, {230, 165, 374, 314}, Box{470, 185, 535, 255}},  // woman, surprised
    {120, {398, 185, 548, 358}, std::nullopt},            // man with glasses, shadowed cheek
    {180, {237, 150, 394, 328}, std::nullopt},            // woman, open mouth
    {210, {268, 135, 520, 408}, std::nullopt},            // man, close-up
};

std::map<int64_t, cv::Mat> megamind_frames() {
  std::map<int64_t, cv::Mat> frames;
  auto src = video::Source::open({.url = kMegamind});
  if (!src.ok()) return frames;
  while (frames.size() < std::size(kFaces)) {
    auto f = (*src)->read();
    if (!f.ok() || !f->has_value()) break;
    const Frame& frame = **f;
    for (const Labelled& l : kFaces) {
      if (l.frame == frame.index) frames[frame.index] = frame.bgr().clone();
    }
  }
  return frames;
}

std::string box_string(const Box& b) {
  char s[64];
  std::snprintf(s, sizeof(s), "[%.0f, %.0f, %.0f, %.0f]", b.x1, b.y1, b.x2, b.y2);
  return s;
}

class BlazefaceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(path_of(GetParam())))
        << path_of(GetParam()) << " is missing; run scripts/fetch_models.sh";
    auto model = load_model(blazeface_spec(GetParam()));
    ASSERT_TRUE(model.ok()) << model.status().message();
    model_ = *model;
    auto context = model_->loaded()->new_context();
    ASSERT_TRUE(context.ok()) << context.status().message();
    context_ = std::move(*context);
  }

  std::shared_ptr<Model> model_;
  std::unique_ptr<Context> context_;
};

TEST_P(BlazefaceTest, FindsTheHandLabelledFacesOfMegamind) {
  const auto frames = megamind_frames();
  ASSERT_EQ(frames.size(), std::size(kFaces)) << kMegamind << " (package opencv-doc)";
  for (const Labelled& l : kFaces) {
    SCOPED_TRACE("frame " + std::to_string(l.frame));
    auto dets = model_->detect(*context_, frames.at(l.frame));
    ASSERT_TRUE(dets.ok()) << dets.status().message();
    std::string found;
    double best = 0;
    for (const Detection& d : *dets) {
      found += " " + box_string(d.box) + " " + std::to_string(d.score);
      best = std::max(best, iou(d.box, l.face));
      EXPECT_EQ(d.label, "face");
      // Anything else found must be the blurred face behind.
      const bool known =
          iou(d.box, l.face) >= 0.5 || (l.background && iou(d.box, *l.background) >= 0.3);
      EXPECT_TRUE(known) << "unexpected detection " << box_string(d.box);
    }
    EXPECT_GE(best, 0.7) << "labelled " << box_string(l.face) << ", found" << found;
  }
}

TEST_P(BlazefaceTest, FindsNoFaceInPicturesWithoutFaces) {
  for (const char* file : {"/usr/share/doc/opencv-doc/examples/data/fruits.jpg",
                           "/usr/share/doc/opencv-doc/examples/data/building.jpg"}) {
    const cv::Mat picture = cv::imread(file);
    ASSERT_FALSE(picture.empty()) << file;
    auto dets = model_->detect(*context_, picture);
    ASSERT_TRUE(dets.ok()) << dets.status().message();
    for (const Detection& d : *dets) {
      ADD_FAILURE() << file << ": found " << box_string(d.box) << " " << d.score;
    }
  }
}

// The front (selfie) model is meant for faces close to the camera and the back one for faces
// further away; Megamind's faces (130 to 250 pixels of a 720-pixel frame) suit both, so both are
// held to the same labels.
INSTANTIATE_TEST_SUITE_P(Models, BlazefaceTest, ::testing::Values(kFront, kBack),
                         [](const auto& info) {
                           return std::string(info.param == kFront ? "front" : "back");
                         });

}  // namespace
}  // namespace iris::infer
