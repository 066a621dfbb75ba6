// `iris quantize` as a user runs it: BlazeFace front (from scripts/fetch_models.sh) calibrated on
// a few frames of Debian's Megamind.avi, the written file loaded back by `iris profile` in INT8,
// and the arguments and inputs it refuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "support/support.h"

namespace iris {
namespace {

using testing::contains;

const std::string kModel = IRIS_SOURCE_DIR "/models/face_detection_front_128x128_barracuda.onnx";
const std::string kClip = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi";

testing::IrisRun iris(const std::vector<std::string>& args) { return testing::run_iris(args, 240); }

class QuantizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kModel)) << kModel << ": run scripts/fetch_models.sh";
    ASSERT_TRUE(std::filesystem::exists(kClip)) << kClip << " is missing; install opencv-doc";
    // MediaPipe's preprocessing for BlazeFace: NHWC, RGB, values in [-1, 1].
    std::ofstream(dir_.file("faces.yaml")) << "models:\n"
                                           << "  - name: front\n"
                                           << "    path: " << kModel << "\n"
                                           << "    layout: nhwc\n"
                                           << "    scale: 0.00784313725490196\n"
                                           << "    mean: [1, 1, 1]\n"
                                           << "    decoder: blazeface\n";
  }

  testing::TempDir dir_;
};

TEST_F(QuantizeCli, WritesACalibratedModelThatRunsInInt8) {
  const std::string out = dir_.file("front_int8.onnx");
  const auto j =
      testing::json_of(iris({"quantize", "front", "--config", dir_.file("faces.yaml"), "--calib",
                             kClip, "--samples", "6", "--check", "2", "--out", out, "--json"}));
  EXPECT_EQ(j["precision"], "int8");
  EXPECT_EQ(j["method"], "mse");
  EXPECT_EQ(j["samples"], 6);  // frames spread over the clip
  EXPECT_EQ(j["check_samples"], 2);
  ASSERT_GT(j["layers"].size(), 20u);
  std::map<std::string, std::string> precision;  // by layer, as quantize measured it
  int int8 = 0;
  for (const auto& l : j["layers"]) {
    precision[l["name"]] = l["precision"];
    int8 += l["precision"] == "int8";
    EXPECT_GE(l["output"]["cosine"].get<double>(), 0.5) << l.dump();
  }
  EXPECT_GT(int8, 10);  // every dense Conv but those kept FP32; depthwise ones stay FP32
  // The front model quantizes well: its outputs stay close to FP32.
  ASSERT_EQ(j["outputs"].size(), 4u);  // scores and boxes of the two anchor grids
  for (const auto& o : j["outputs"]) EXPECT_GT(o["cosine"].get<double>(), 0.99) << o.dump();

  // The file runs in INT8 by itself, each layer as quantize measured it, those it kept in FP32
  // still FP32.
  const auto p =
      testing::json_of(iris({"profile", out, "--repeat", "1", "--warmup", "0", "--json"}));
  EXPECT_EQ(p["precision"], "int8");
  const std::set<std::string> fp32(j["fp32_nodes"].begin(), j["fp32_nodes"].end());
  int profiled_int8 = 0;
  for (const auto& l : p["layers"]) {
    if (l["op"].get<std::string>().rfind("Conv", 0) != 0) continue;
    EXPECT_EQ(l["precision"], precision[l["name"]]) << l.dump();
    if (fp32.count(l["name"])) {
      EXPECT_EQ(l["precision"], "fp32") << l.dump();
    }
    profiled_int8 += l["precision"] == "int8";
  }
  EXPECT_EQ(profiled_int8, int8);

  // The table form names what it wrote.
  const auto table =
      iris({"quantize", "front", "--config", dir_.file("faces.yaml"), "--calib", kClip, "--samples",
            "3", "--check", "1", "--out", out, "--method", "percentile", "--equalize", "off"});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_TRUE(contains(table.out, "percentile calibration on")) << table.out;
  EXPECT_TRUE(contains(table.out, "wrote " + out)) << table.out;
}

TEST_F(QuantizeCli, BadInputIsNamed) {
  const std::string out = dir_.file("x.onnx");
  // Arguments: exit 2 naming the flag.
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--method", "kl"},
                                                        {"--samples", "0"},
                                                        {"--min-cosine", "1.5"},
                                                        {"--percentile", "0"},
                                                        {"--equalize", "yes"},
                                                        {"--max-fallback", "-1"}}) {
    SCOPED_TRACE(flag);
    const auto o = iris({"quantize", kModel, "--calib", kClip, "--out", out, flag, value});
    EXPECT_EQ(o.code, 2);
    EXPECT_TRUE(contains(o.err, flag)) << o.err;
  }
  const auto no_calib = iris({"quantize", kModel, "--out", out});
  EXPECT_EQ(no_calib.code, 2);
  EXPECT_TRUE(contains(no_calib.err, "--calib")) << no_calib.err;

  // Inputs: exit 1 naming the thing and the fix; nothing written.
  const auto unknown = iris(
      {"quantize", "back", "--config", dir_.file("faces.yaml"), "--calib", kClip, "--out", out});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_TRUE(contains(unknown.err, "has no model named 'back' (it has: front)")) << unknown.err;
  std::filesystem::create_directory(dir_.file("empty"));
  const auto empty = iris({"quantize", kModel, "--calib", dir_.file("empty"), "--out", out});
  EXPECT_EQ(empty.code, 1);
  EXPECT_TRUE(contains(empty.err, "--calib: '" + dir_.file("empty") + "' holds no .jpg"))
      << empty.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace iris
