// `iris eval precision` as a user runs it: configs/faces.yaml's BlazeFace on the iris runtime over
// frames of Debian's Megamind.avi, at fp32, bf16 and int8 (calibrated by `iris quantize`), scored
// against the fp32 detections or against faces labelled by hand.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/text.h"
#include "support/support.h"
#include "video/source.h"

namespace iris {
namespace {

using testing::contains;

const std::string kConfig = IRIS_SOURCE_DIR "/configs/faces.yaml";
const std::string kModel = "models/face_detection_back_256x256_barracuda.onnx";
const std::string kClip = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi";

// configs/faces.yaml with its model at an absolute path and its outputs in `dir`, so that the
// test runs from any directory.
std::string faces_config(const testing::TempDir& dir) {
  std::string yaml = testing::read_file(kConfig);
  EXPECT_NE(yaml.find(kModel), std::string::npos);
  yaml = testing::replace_all(yaml, "out/faces/", dir.path() + "/");
  yaml = testing::replace_all(yaml, kModel, IRIS_SOURCE_DIR "/" + kModel);
  std::ofstream(dir.file("faces.yaml")) << yaml;
  return dir.file("faces.yaml");
}

testing::IrisRun eval(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"eval", "precision"};
  all.insert(all.end(), args.begin(), args.end());
  return testing::run_iris(all, 240);
}

// The stdout of a run that must succeed, as JSON.
nlohmann::json eval_json(std::vector<std::string> args) {
  args.push_back("--json");
  return testing::json_of(eval(args));
}

// The row of `precision` in a report.
nlohmann::json row(const nlohmann::json& report, const std::string& precision) {
  for (const auto& r : report["rows"]) {
    if (r["precision"] == precision) return r;
  }
  ADD_FAILURE() << "no " << precision << " row in " << report.dump(2);
  return {};
}

class EvalPrecision : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(IRIS_SOURCE_DIR "/" + kModel))
        << kModel << " is missing; run scripts/fetch_models.sh";
    ASSERT_TRUE(std::filesystem::exists(kClip)) << kClip << " is missing; install opencv-doc";
    config_ = faces_config(dir_);
  }

  testing::TempDir dir_;
  std::string config_;
};

TEST_F(EvalPrecision, Bf16AgreesWithFp32AndUncalibratedInt8IsSkipped) {
  const auto j = eval_json(
      {config_, "--model", "blazeface", "--video", kClip, "--frames", "6", "--threads", "1"});
  EXPECT_EQ(j["model"], "blazeface");
  EXPECT_EQ(j["backend"], "iris");
  EXPECT_EQ(j["video"], kClip);
  EXPECT_EQ(j["clip_frames"], 270);
  EXPECT_EQ(j["frames"], 6);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["ground_truth"], "the fp32 detections");
  ASSERT_EQ(j["rows"].size(), 3u) << j.dump(2);
  EXPECT_EQ(j["rows"][0]["precision"], "fp32");
  EXPECT_EQ(j["rows"][1]["precision"], "bf16");
  EXPECT_EQ(j["rows"][2]["precision"], "int8");

  const auto fp32 = row(j, "fp32");
  EXPECT_EQ(fp32["status"], "reference");
  EXPECT_TRUE(fp32["ap"].is_null());
  EXPECT_GE(fp32["detections"].get<int>(), 5) << "a face in most of the 6 frames";
  EXPECT_GT(fp32["p50_ms"].get<double>(), 0);
  EXPECT_GT(fp32["fps"].get<double>(), 0);

  const auto bf16 = row(j, "bf16");
  EXPECT_EQ(bf16["status"], "ok");
  EXPECT_GE(bf16["ap"].get<double>(), 0.8) << bf16.dump();
  EXPECT_GE(bf16["ap50"].get<double>(), bf16["ap"].get<double>());
  EXPECT_GE(bf16["ap50"].get<double>(), 0.95);
  EXPECT_GE(bf16["ap75"].get<double>(), 0.8);
  EXPECT_LE(bf16["ap50"].get<double>(), 1.0);
  EXPECT_EQ(bf16["detections"], fp32["detections"]);
  EXPECT_GT(bf16["p50_ms"].get<double>(), 0);

  const auto int8 = row(j, "int8");
  EXPECT_EQ(int8["status"], "skipped");
  EXPECT_TRUE(int8["ap"].is_null());
  EXPECT_TRUE(int8["detections"].is_null());
  EXPECT_TRUE(contains(int8["reason"].get<std::string>(), "not calibrated"));
  EXPECT_TRUE(contains(int8["reason"].get<std::string>(), "iris quantize blazeface"));
}

TEST_F(EvalPrecision, TableShowsTheReferenceAndWhyInt8IsSkipped) {
  const auto o = eval({config_, "--model", "blazeface", "--video", kClip, "--frames", "3",
                       "--threads", "1", "--precisions", "fp32,int8"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_TRUE(contains(o.out, "| precision "));
  EXPECT_TRUE(contains(o.out, "| fp32 "));
  EXPECT_TRUE(contains(o.out, " ref "));
  EXPECT_TRUE(contains(o.out, "| int8 "));
  EXPECT_TRUE(contains(o.out, "skipped: int8: "));
  EXPECT_TRUE(contains(o.out, "3 pictures (of the 270 frames"));
  EXPECT_FALSE(contains(o.out, "| bf16 ")) << "--precisions leaves bf16 out";
}

// Six frames labelled by hand (tests/e2e/faces_test.cc), as PNG files with a COCO file naming
// them, and one labelled image that is not in the directory: fp32 finds the faces, and the image
// that did not run does not count as missed.
TEST_F(EvalPrecision, ScoresAgainstCocoGroundTruthOfAnImageDirectory) {
  struct Labelled {
    int frame;
    double x1, y1, x2, y2;
  };
  const Labelled kFaces[] = {{30, 224, 200, 358, 333},  {60, 212, 222, 361, 368},
                             {90, 230, 165, 374, 314},  {120, 398, 185, 548, 358},
                             {180, 237, 150, 394, 328}, {210, 268, 135, 520, 408}};
  std::filesystem::create_directory(dir_.file("images"));
  auto source = video::Source::open({.url = kClip});
  ASSERT_TRUE(source.ok()) << source.status().message();
  nlohmann::json gt{{"images", nlohmann::json::array()},
                    {"annotations", nlohmann::json::array()},
                    {"categories", {{{"id", 7}, {"name", "face"}}}}};
  size_t next = 0;
  while (next < std::size(kFaces)) {
    auto frame = (*source)->read();
    ASSERT_TRUE(frame.ok() && frame->has_value());
    const Labelled& l = kFaces[next];
    if ((*frame)->index != l.frame) continue;
    const std::string name = "frame" + std::to_string(l.frame) + ".png";
    ASSERT_TRUE(cv::imwrite(dir_.file("images/" + name), (*frame)->bgr()));
    gt["images"].push_back({{"id", 100 + next}, {"file_name", name}});
    const double w = l.x2 - l.x1, h = l.y2 - l.y1;
    gt["annotations"].push_back({{"id", next + 1},
                                 {"image_id", 100 + next},
                                 {"category_id", 7},
                                 {"bbox", {l.x1, l.y1, w, h}},
                                 {"area", w * h},
                                 {"iscrowd", 0}});
    ++next;
  }
  gt["images"].push_back({{"id", 999}, {"file_name", "not_here.png"}});
  gt["annotations"].push_back({{"id", 99},
                               {"image_id", 999},
                               {"category_id", 7},
                               {"bbox", {10, 10, 100, 100}},
                               {"area", 10000},
                               {"iscrowd", 0}});
  std::ofstream(dir_.file("gt.json")) << gt.dump();

  const auto j =
      eval_json({config_, "--model", "blazeface", "--images", dir_.file("images"), "--gt",
                 dir_.file("gt.json"), "--precisions", "fp32,bf16", "--threads", "1"});
  EXPECT_EQ(j["images"], dir_.file("images"));
  EXPECT_EQ(j["frames"], 6);
  EXPECT_EQ(j["ground_truth"], dir_.file("gt.json"));
  for (const char* precision : {"fp32", "bf16"}) {
    const auto r = row(j, precision);
    SCOPED_TRACE(r.dump());
    EXPECT_EQ(r["status"], "ok");
    EXPECT_GE(r["ap50"].get<double>(), 0.9);
    EXPECT_GE(r["ap"].get<double>(), 0.5);
    EXPECT_LE(r["ap"].get<double>(), r["ap50"].get<double>());
  }

  // An image the gt does not list is an error naming it.
  cv::imwrite(dir_.file("images/extra.png"), cv::Mat(32, 32, CV_8UC3, cv::Scalar(0)));
  const auto o = eval({config_, "--model", "blazeface", "--images", dir_.file("images"), "--gt",
                       dir_.file("gt.json")});
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(contains(o.err, "'extra.png'"));
  EXPECT_TRUE(contains(o.err, "fix:"));
}

TEST_F(EvalPrecision, Int8FromIrisQuantizeIsScored) {
  const auto q = testing::run_iris(
      {"quantize", "blazeface", "--config", config_, "--calib", kClip, "--samples", "8", "--check",
       "2", "--out", dir_.file("blazeface_int8.onnx")},
      240);
  ASSERT_EQ(q.code, 0) << q.err;
  const auto j =
      eval_json({config_, "--model", "blazeface", "--video", kClip, "--frames", "6", "--threads",
                 "2", "--precisions", "fp32,int8", "--int8", dir_.file("blazeface_int8.onnx")});
  const auto int8 = row(j, "int8");
  EXPECT_EQ(int8["status"], "ok") << int8.dump();
  EXPECT_EQ(int8["file"], dir_.file("blazeface_int8.onnx"));
  EXPECT_GE(int8["ap50"].get<double>(), 0.8) << int8.dump();
  EXPECT_GT(int8["p50_ms"].get<double>(), 0);
}

TEST_F(EvalPrecision, BadArgumentsExit2NamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--model", "blazeface"}, "needs CONFIG"},
      {{config_, "--video", kClip}, "--model"},
      {{config_, "--model", "blazeface"}, "--images DIR and --video CLIP"},
      {{config_, "--model", "blazeface", "--video", kClip, "--images", dir_.path()},
       "exactly one of"},
      {{config_, "--model", "blazeface", "--video", kClip, "--frames", "0"}, "--frames"},
      {{config_, "--model", "blazeface", "--video", kClip, "--threads", "x"}, "--threads"},
      {{config_, "--model", "blazeface", "--video", kClip, "--precisions", "fp64"}, "--precisions"},
      {{config_, "--model", "blazeface", "--video", kClip, "--precisions", "bf16"},
       "add fp32 to --precisions"},
      {{config_, "--model", "blazeface", "--video", kClip, "--precisions", "fp32", "--int8",
        config_},
       "--int8"},
      {{config_, "--model", "blazeface", "--video", kClip, "--gt", config_}, "--gt"},
      {{config_, "--model", "blazeface", "--video", dir_.file("none.avi")}, "--video"},
      {{config_, "--model", "blazeface", "--images", dir_.file("none")}, "--images"},
      {{config_, "--model", "blazeface", "--video", kClip, "--bogus", "1"}, "--bogus"},
      {{config_, "--model", "retinaface", "--video", kClip}, "blazeface"},
  };
  for (const auto& [args, says] : cases) {
    const auto o = eval(args);
    SCOPED_TRACE(join(args, " "));
    EXPECT_EQ(o.code, 2) << o.err;
    EXPECT_TRUE(contains(o.err, says));
    EXPECT_TRUE(o.out.empty()) << o.out;
  }
}

TEST_F(EvalPrecision, BrokenConfigExits1NamingIt) {
  std::ofstream(dir_.file("broken.yaml")) << "models: [\n";
  const auto o = eval({dir_.file("broken.yaml"), "--model", "m", "--video", kClip});
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(contains(o.err, "broken.yaml"));
}

}  // namespace
}  // namespace iris
