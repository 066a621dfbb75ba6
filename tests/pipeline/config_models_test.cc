// Config of the DNN parts: the `models:` section, `type: dnn` detectors (with tiles) and a
// stream's `secondary:` models. The config only checks that model files exist; loading them is
// the Engine's job, so stand-in files do here.
#include <gtest/gtest.h>

#include <fstream>
#include <variant>

#include "pipeline/config.h"
#include "pipeline/config_test_support.h"
#include "support/support.h"

namespace iris::pipeline {
namespace {

// The model of that name (a default one, after a test failure, when there is none).
infer::ModelSpec model_named(const PipelineSpec& spec, const std::string& name) {
  for (const infer::ModelSpec& m : spec.models) {
    if (m.name == name) return m;
  }
  ADD_FAILURE() << "no model " << name;
  return {};
}

class ConfigModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* f : {"clip.mp4", "det.onnx", "color.onnx", "reid.onnx"}) {
      std::ofstream(dir_.file(f)) << "a stand-in";
    }
  }

  // `yaml` with DIR replaced by the test directory.
  std::string in_dir(const std::string& yaml) const {
    return replace_all(yaml, "DIR", dir_.path());
  }
  Result<PipelineSpec> parse(const std::string& yaml) const {
    return parse_config(in_dir(yaml), "m.yaml");
  }
  std::string error(const std::string& yaml) const {
    auto spec = parse(yaml);
    EXPECT_FALSE(spec.ok()) << "parsed but should not have:\n" << in_dir(yaml);
    return spec.ok() ? "" : spec.status().message();
  }

  // Three models (a detector, a classifier, an embedding model) and one stream around
  // `detector` and `secondary` (YAML flow values).
  static std::string config(const std::string& detector, const std::string& secondary = "[]") {
    return "models:\n"                                                       // line 1
           "  - {name: det, path: DIR/det.onnx, decoder: yolov8}\n"          // 2
           "  - {name: color, path: DIR/color.onnx, decoder: classifier}\n"  // 3
           "  - {name: reid, path: DIR/reid.onnx, decoder: embedding}\n"     // 4
           "streams:\n"                                                      // 5
           "  - name: cam\n"                                                 // 6
           "    url: DIR/clip.mp4\n"                                         // 7
           "    detector: " +                                                // 8
           detector +
           "\n"
           "    secondary: " +  // 9
           secondary +
           "\n";
  }

  testing::TempDir dir_;
};

TEST_F(ConfigModelsTest, EveryKeyParsesToItsValue) {
  auto spec = parse(R"(models:
  - name: yolo
    path: DIR/det.onnx
    backend: opencv
    input_size: [640, 480]
    layout: nhwc
    channels: bgr
    scale: 0.5
    mean: [0.1, 0.2, 0.3]
    std: [0.4, 0.5, 0.6]
    resize: stretch
    pad_value: 0
    decoder: yolox
    classes: [person, car]
    score_threshold: 0.3
    class_thresholds: {car: 0.6}
    nms_iou: 0.5
    max_detections: 50
    top_k: 2
    max_batch: 16
    max_delay_us: 5000
    queue_capacity: 32
    instances: 2
  - {name: color, path: DIR/color.onnx, decoder: classifier, top_k: 3}
  - {name: reid, path: DIR/reid.onnx, decoder: embedding}
defaults:
  secondary: [{model: reid}]
streams:
  - name: cam
    url: DIR/clip.mp4
    detector:
      type: dnn
      model: yolo
      tiles: {grid: [3, 2], overlap: 0.25, full_frame: false}
    secondary:
      - {model: color, classes: [car], min_size: 16, interval: 2.5, padding: 0.1}
      - {model: reid}
  - name: side
    url: DIR/clip.mp4
    detector: {type: dnn, model: yolo}
)");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  ASSERT_EQ(spec->models.size(), 3u);
  const infer::ModelSpec y = model_named(*spec, "yolo");
  EXPECT_EQ(y.path, dir_.file("det.onnx"));
  EXPECT_EQ(y.backend, "opencv");
  EXPECT_EQ(y.input_width, 640);
  EXPECT_EQ(y.input_height, 480);
  EXPECT_EQ(y.layout, infer::Layout::kNHWC);
  EXPECT_FALSE(y.rgb);
  EXPECT_DOUBLE_EQ(y.scale, 0.5);
  EXPECT_EQ(y.mean, (std::array<double, 3>{0.1, 0.2, 0.3}));
  EXPECT_EQ(y.std, (std::array<double, 3>{0.4, 0.5, 0.6}));
  EXPECT_EQ(y.resize, infer::Resize::kStretch);
  EXPECT_DOUBLE_EQ(y.pad_value, 0);
  EXPECT_EQ(y.decoder, "yolox");
  EXPECT_EQ(y.class_names, (std::vector<std::string>{"person", "car"}));
  EXPECT_FLOAT_EQ(y.score_threshold, 0.3f);
  EXPECT_EQ(y.class_thresholds, (std::map<std::string, float>{{"car", 0.6f}}));
  EXPECT_FLOAT_EQ(y.nms_iou, 0.5f);
  EXPECT_EQ(y.max_detections, 50);
  EXPECT_EQ(y.top_k, 2);
  EXPECT_EQ(y.server.max_batch, 16);
  EXPECT_EQ(y.server.max_delay_us, 5000);
  EXPECT_EQ(y.server.queue_capacity, 32);
  EXPECT_EQ(y.server.instances, 2);
  EXPECT_EQ(model_named(*spec, "color").top_k, 3);
  EXPECT_EQ(model_named(*spec, "reid").decoder, "embedding");

  ASSERT_EQ(spec->streams.size(), 2u);
  const StreamSpec& cam = spec->streams[0];
  const auto* dnn = std::get_if<detect::DnnSpec>(&cam.detector);
  ASSERT_NE(dnn, nullptr);
  EXPECT_EQ(dnn->model, "yolo");
  ASSERT_TRUE(dnn->tiles.has_value());
  EXPECT_EQ(dnn->tiles->cols, 3);
  EXPECT_EQ(dnn->tiles->rows, 2);
  EXPECT_DOUBLE_EQ(dnn->tiles->overlap, 0.25);
  EXPECT_FALSE(dnn->tiles->full_frame);
  ASSERT_EQ(cam.secondary.size(), 2u);
  EXPECT_EQ(cam.secondary[0].model, "color");
  EXPECT_EQ(cam.secondary[0].classes, (std::vector<std::string>{"car"}));
  EXPECT_EQ(cam.secondary[0].min_size, 16);
  EXPECT_DOUBLE_EQ(cam.secondary[0].interval, 2.5);
  EXPECT_DOUBLE_EQ(cam.secondary[0].padding, 0.1);
  EXPECT_EQ(cam.secondary[1].model, "reid");

  // The second stream takes its secondary models from defaults and runs the whole frame.
  const StreamSpec& side = spec->streams[1];
  ASSERT_EQ(side.secondary.size(), 1u);
  EXPECT_EQ(side.secondary[0].model, "reid");
  const auto* plain = std::get_if<detect::DnnSpec>(&side.detector);
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->tiles.has_value());
}

TEST_F(ConfigModelsTest, OmittedKeysTakeTheDocumentedDefaults) {
  auto spec = parse(config("{type: dnn, model: det, tiles: {}}", "[{model: color}]"));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  const infer::ModelSpec m = model_named(*spec, "det");
  EXPECT_EQ(m.backend, "opencv");
  EXPECT_EQ(m.input_width, 0);
  EXPECT_EQ(m.layout, infer::Layout::kNCHW);
  EXPECT_TRUE(m.rgb);
  EXPECT_DOUBLE_EQ(m.scale, 1.0 / 255);
  EXPECT_EQ(m.resize, infer::Resize::kLetterbox);
  EXPECT_DOUBLE_EQ(m.pad_value, 114);
  EXPECT_FLOAT_EQ(m.score_threshold, 0.25f);
  EXPECT_FLOAT_EQ(m.nms_iou, 0.45f);
  EXPECT_EQ(m.max_detections, 300);
  EXPECT_EQ(m.server.max_batch, 8);
  EXPECT_EQ(m.server.max_delay_us, 2000);
  EXPECT_EQ(m.server.queue_capacity, 64);
  EXPECT_EQ(m.server.instances, 1);
  EXPECT_EQ(m.top_k, 1);
  const auto& dnn = std::get<detect::DnnSpec>(spec->streams[0].detector);
  ASSERT_TRUE(dnn.tiles.has_value());
  EXPECT_EQ(dnn.tiles->cols, 2);
  EXPECT_EQ(dnn.tiles->rows, 2);
  EXPECT_DOUBLE_EQ(dnn.tiles->overlap, 0.2);
  EXPECT_TRUE(dnn.tiles->full_frame);
  const SecondarySpec& s = spec->streams[0].secondary.at(0);
  EXPECT_TRUE(s.classes.empty());
  EXPECT_EQ(s.min_size, 32);
  EXPECT_DOUBLE_EQ(s.interval, 1.0);
  EXPECT_DOUBLE_EQ(s.padding, 0.0);
}

TEST_F(ConfigModelsTest, PrecisionIsForBackendIris) {
  // Line 2 is the model; its detector stream follows.
  const auto with_model = [](const std::string& model) {
    return "models:\n  - {name: det, path: DIR/det.onnx, decoder: yolov8" + model +
           "}\nstreams:\n  - {name: cam, url: DIR/clip.mp4, detector: {type: dnn, model: det}}\n";
  };
  for (const std::string p : {"fp32", "bf16", "int8"}) {
    auto spec = parse(with_model(", backend: iris, precision: " + p));
    ASSERT_TRUE(spec.ok()) << spec.status().message();
    EXPECT_EQ(model_named(*spec, "det").precision, p);
  }
  // Omitted: the file's own, which the backend reads at load.
  auto own = parse(with_model(", backend: iris"));
  ASSERT_TRUE(own.ok()) << own.status().message();
  EXPECT_EQ(model_named(*own, "det").precision, "");

  EXPECT_TRUE(contains(error(with_model(", backend: iris, precision: int4")),
                       "models[0].precision: unknown precision 'int4' (did you mean "
                       "'int8'?); choose one of: fp32, bf16, int8"));
  const std::string opencv =
      "precision applies to backend: iris, and this model runs on backend: opencv, which "
      "computes in fp32; fix: add backend: iris, or drop precision";
  const std::string on_opencv = error(with_model(", precision: bf16"));
  EXPECT_TRUE(contains(on_opencv, "m.yaml:2:")) << on_opencv;
  EXPECT_TRUE(contains(on_opencv, "models[0].precision: " + opencv));
  EXPECT_TRUE(contains(error(with_model(", backend: opencv, precision: fp32")), opencv));
  // A wrong backend is reported once, as itself.
  const std::string typo = error(with_model(", backend: irs, precision: bf16"));
  EXPECT_TRUE(contains(typo, "models[0].backend: unknown backend 'irs'"));
  EXPECT_FALSE(contains(typo, "precision applies")) << typo;
}

TEST_F(ConfigModelsTest, UnknownModelInADetectorListsTheKnownOnes) {
  EXPECT_TRUE(contains(error(config("{type: dnn, model: yolo}")),
                       "m.yaml:8:34: streams[0].detector.model: no model named 'yolo' in "
                       "models:; known models: color, det, reid"));
}

TEST_F(ConfigModelsTest, DetectorWithoutModelsSectionSaysToAddOne) {
  const std::string msg = error(
      in_dir("streams:\n  - {name: cam, url: DIR/clip.mp4, detector: {type: dnn, model: yolo}}\n"));
  EXPECT_TRUE(contains(msg, "no model named 'yolo' in models:; add it there"));
}

TEST_F(ConfigModelsTest, ModelOfTheWrongKindIsRefusedWhereItIsUsed) {
  EXPECT_TRUE(contains(error(config("{type: dnn, model: color}")),
                       "m.yaml:8:34: streams[0].detector.model: model 'color' has decoder "
                       "classifier, which is not a detector; a detector needs one of: yolov5, "
                       "yolov8, yolox, ssd, blazeface, end2end"));
  EXPECT_TRUE(contains(error(config("{type: dnn, model: det}", "[{model: det}]")),
                       "m.yaml:9:25: streams[0].secondary[0].model: model 'det' has decoder "
                       "yolov8, which is not a secondary model; a secondary model needs one of: "
                       "classifier, embedding"));
  EXPECT_TRUE(contains(error(config("{type: dnn, model: det}", "[{model: face}]")),
                       "streams[0].secondary[0].model: no model named 'face' in models:"));
}

TEST_F(ConfigModelsTest, MissingModelFileIsNamedWithItsPlace) {
  const std::string msg = error(
      "models:\n  - {name: det, path: DIR/none.onnx, decoder: yolov8}\n"
      "streams:\n  - {name: cam, url: DIR/clip.mp4, detector: {type: dnn, model: det}}\n");
  EXPECT_TRUE(contains(msg, "m.yaml:2:23: models[0].path: model file '" + dir_.file("none.onnx") +
                                "' does not exist; give the path of an .onnx file"));
  EXPECT_TRUE(contains(msg, "scripts/fetch_models.sh"));
}

TEST_F(ConfigModelsTest, BadChoicesSuggestTheRightWord) {
  const std::string msg = error(
      "models:\n"
      "  - {name: det, path: DIR/det.onnx, decoder: yolov9, layout: nwhc, resize: strech}\n"
      "streams:\n  - {name: cam, url: DIR/clip.mp4, detector: {type: dnn, model: det}}\n");
  EXPECT_TRUE(contains(msg, "m.yaml:2:"));
  EXPECT_TRUE(contains(msg, "models[0].decoder: unknown decoder 'yolov9' (did you mean "));
  EXPECT_TRUE(contains(msg,
                       "; choose one of: yolov5, yolov8, yolox, ssd, blazeface, end2end, "
                       "classifier, embedding"));
  EXPECT_TRUE(contains(msg, "models[0].layout: unknown layout 'nwhc'; choose one of: nchw, nhwc"));
  EXPECT_TRUE(contains(msg,
                       "models[0].resize: unknown resize mode 'strech' (did you mean "
                       "'stretch'?); choose one of: letterbox, stretch"));
}

TEST_F(ConfigModelsTest, MeanNeedsThreeNumbers) {
  const std::string msg = error(
      "models:\n  - {name: det, path: DIR/det.onnx, decoder: yolov8, mean: [0.5, 0.5]}\n"
      "streams:\n  - {name: cam, url: DIR/clip.mp4, detector: {type: dnn, model: det}}\n");
  EXPECT_TRUE(contains(msg, "m.yaml:2:"));
  EXPECT_TRUE(contains(msg,
                       "models[0].mean: expected 3 numbers, got 2; e.g. mean: [0.485, 0.456, "
                       "0.406]"));
}

TEST_F(ConfigModelsTest, DuplicateModelNamesAreRefused) {
  EXPECT_TRUE(contains(
      error("models:\n"
            "  - {name: det, path: DIR/det.onnx, decoder: yolov8}\n"
            "  - {name: det, path: DIR/color.onnx, decoder: classifier}\n"
            "streams:\n  - {name: cam, url: DIR/clip.mp4, detector: {type: dnn, model: det}}\n"),
      "m.yaml:3:12: models[1].name: duplicate model name 'det'; model names must be unique"));
}

TEST_F(ConfigModelsTest, TileGridOutOfRange) {
  const std::string msg = error(config("{type: dnn, model: det, tiles: {grid: [17, 0]}}"));
  EXPECT_TRUE(contains(msg, "m.yaml:8:"));
  EXPECT_TRUE(contains(msg, "streams[0].detector.tiles.grid[0]: 17 is out of range; it must be "));
  EXPECT_TRUE(contains(error(config("{type: dnn, model: det, tiles: {grid: [2]}}")),
                       "streams[0].detector.tiles.grid: expected 2 numbers, got 1; e.g. grid: "
                       "[2, 2] (cols, rows)"));
  EXPECT_TRUE(contains(error(config("{type: dnn, model: det, tiles: {overlap: 0.9}}")),
                       "streams[0].detector.tiles.overlap: 0.9 is out of range"));
}

TEST_F(ConfigModelsTest, SizesAndCountsMustBeWholeNumbers) {
  EXPECT_TRUE(contains(error(config("{type: dnn, model: det, tiles: {grid: [2.5, 2]}}")),
                       "streams[0].detector.tiles.grid[0]: expected a whole number, got '2.5'"));
  EXPECT_TRUE(contains(
      error("models:\n  - {name: det, path: DIR/det.onnx, decoder: yolov8, input_size: [640.5, "
            "480]}\nstreams:\n  - {name: cam, url: DIR/clip.mp4, detector: {type: dnn, model: "
            "det}}\n"),
      "models[0].input_size[0]: expected a whole number, got '640.5'"));
}

TEST_F(ConfigModelsTest, UnknownKeysAreRefusedEverywhere) {
  EXPECT_TRUE(contains(
      error("models:\n  - {name: det, path: DIR/det.onnx, decoder: yolov8, max_batchs: 4}\n"
            "streams:\n  - {name: cam, url: DIR/clip.mp4, detector: {type: dnn, model: det}}\n"),
      "models[0].max_batchs: unknown key 'max_batchs' in models[0] (did you mean 'max_batch'?)"));
  EXPECT_TRUE(contains(error(config("{type: dnn, model: det, tile: {}}")),
                       "streams[0].detector.tile: unknown key 'tile'"));
  EXPECT_TRUE(contains(error(config("{type: dnn, model: det}", "[{model: color, every: 2}]")),
                       "streams[0].secondary[0].every: unknown key 'every'"));
}

}  // namespace
}  // namespace iris::pipeline
