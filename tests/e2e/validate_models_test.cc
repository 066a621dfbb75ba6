// `iris validate` loads every model of a config and runs it once, so an unusable model fails
// there, naming the model and the fix, not in the middle of a run.
#include <gtest/gtest.h>

#include <fstream>

#include "infer/test_models.h"
#include "support/support.h"

namespace iris {
namespace {

constexpr const char* kVideo = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

// A config with one model (`model_keys` under `- name: m`) and one stream detecting with it.
std::string config(const std::string& model_keys) {
  return std::string("models:\n  - name: m\n") + model_keys +
         "streams:\n"
         "  - name: cam\n"
         "    url: " +
         kVideo +
         "\n"
         "    detector: {type: dnn, model: m}\n";
}

struct Validated {
  int code;
  std::string output;
};

Validated validate(const std::string& yaml) {
  testing::TempDir dir;
  std::ofstream(dir.file("c.yaml")) << yaml;
  const int code = testing::wait_child(
      testing::spawn_iris({"validate", dir.file("c.yaml")}, dir.file("log")), 60);
  return {code, testing::read_file(dir.file("log"))};
}

TEST(ValidateModels, AUsableModelIsLoadedAndReported) {
  const auto v = validate(config("    path: " + infer::test_model("yolov5_nchw.onnx") +
                                 "\n    decoder: yolov5\n    classes: [a, b, c]\n"));
  EXPECT_EQ(v.code, 0) << v.output;
  EXPECT_TRUE(testing::contains(v.output, "model m: ok ("));
  EXPECT_TRUE(testing::contains(v.output, "input 64x64"));
  EXPECT_TRUE(testing::contains(v.output, "(1 stream, 0 rules, 1 model)"));
}

TEST(ValidateModels, NotOnnxFailsNamingTheFile) {
  const std::string path = infer::test_model("garbage.onnx");
  const auto v = validate(config("    path: " + path + "\n    decoder: yolov5\n"));
  EXPECT_EQ(v.code, 1) << v.output;
  EXPECT_TRUE(testing::contains(v.output, "model '" + path + "' is not an ONNX model"));
  EXPECT_TRUE(testing::contains(v.output, "fix:"));
}

TEST(ValidateModels, UnsupportedOpFailsNamingTheOp) {
  const std::string path = infer::test_model("gridsample.onnx");
  const auto v = validate(config("    path: " + path + "\n    decoder: yolov8\n"));
  EXPECT_EQ(v.code, 1) << v.output;
  EXPECT_TRUE(testing::contains(v.output, "GridSample"));
  EXPECT_TRUE(testing::contains(v.output, "fix:"));
}

TEST(ValidateModels, OutputsTheDecoderCannotReadNameTheShapeAndTheDecoderThatFits) {
  const auto v = validate(config("    path: " + infer::test_model("ssd_nchw.onnx") +
                                 "\n    decoder: yolov5\n    classes: [a, b, c]\n"));
  EXPECT_EQ(v.code, 1) << v.output;
  EXPECT_TRUE(testing::contains(v.output, "output 'scores' has shape [1, 12, 4]"));
  EXPECT_TRUE(testing::contains(v.output, "fix: these outputs look like decoder 'ssd'"));
}

}  // namespace
}  // namespace iris
