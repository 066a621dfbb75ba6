// `iris bench model` and `iris profile` as a user runs them, on the tiny models of
// tests/infer/make_models.py (calibrated for int8 where a test needs one). Checks the shape of
// the report, never the timings.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "infer/test_models.h"
#include "support/support.h"

namespace iris {
namespace {

using infer::test_model;
using testing::contains;

using Output = testing::IrisRun;

Output run_iris(const std::vector<std::string>& args) { return testing::run_iris(args, 120); }

// The stdout of a run that must succeed, as JSON.
nlohmann::json run_json(std::vector<std::string> args) {
  args.push_back("--json");
  return testing::json_of(run_iris(args));
}

nlohmann::json bench_json(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"bench", "model"};
  all.insert(all.end(), args.begin(), args.end());
  return run_json(all);
}

TEST(BenchCli, JsonHasOneRowPerCombinationInOrder) {
  const std::string model = test_model("bench_convnet.onnx");
  const auto j = bench_json({model, "--batch", "1,2", "--threads", "1,2", "--repeat", "3"});
  EXPECT_EQ(j["model"], model);
  EXPECT_EQ(j["backend"], "opencv");
  EXPECT_EQ(j["max_batch"], 0);
  EXPECT_EQ(j["repeat"], 3);
  EXPECT_TRUE(j["host"]["cpu"].is_string());
  EXPECT_GE(j["host"]["cores"].get<int>(), 1);
  EXPECT_TRUE(contains(j["threads"].get<std::string>(), "process-wide"));
  ASSERT_EQ(j["rows"].size(), 4u) << j.dump(2);
  const int want[4][2] = {{1, 1}, {1, 2}, {2, 1}, {2, 2}};
  for (size_t i = 0; i < 4; ++i) {
    const auto& r = j["rows"][i];
    SCOPED_TRACE(r.dump());
    EXPECT_EQ(r["batch"], want[i][0]);
    EXPECT_EQ(r["threads"], want[i][1]);
    EXPECT_EQ(r["status"], "ok");
    EXPECT_EQ(r["runs"], 3);
    EXPECT_EQ(r["input_shape"], nlohmann::json({want[i][0], 3, 128, 128}));
    EXPECT_LE(r["p50_ms"].get<double>(), r["p90_ms"].get<double>());
    EXPECT_LE(r["p90_ms"].get<double>(), r["p99_ms"].get<double>());
    EXPECT_GT(r["samples_per_s"].get<double>(), 0);
  }
}

TEST(BenchCli, PrecisionIsADimensionOfTheCombinations) {
  const std::string model = test_model("bench_convnet.onnx");
  const auto j = bench_json({model, "--backend", "iris", "--precision", "fp32,bf16", "--batch",
                             "1,2", "--threads", "1", "--repeat", "2"});
  ASSERT_EQ(j["rows"].size(), 4u) << j.dump(2);
  const std::pair<std::string, int> want[4] = {{"fp32", 1}, {"fp32", 2}, {"bf16", 1}, {"bf16", 2}};
  for (size_t i = 0; i < 4; ++i) {
    const auto& r = j["rows"][i];
    SCOPED_TRACE(r.dump());
    EXPECT_EQ(r["precision"], want[i].first);
    EXPECT_EQ(r["batch"], want[i].second);
    EXPECT_EQ(r["status"], "ok");
  }
  // Without --precision a model runs in its own: fp32 here, on either backend.
  for (const std::string backend : {"opencv", "iris"}) {
    const auto own = bench_json({model, "--backend", backend, "--repeat", "1"});
    ASSERT_EQ(own["rows"].size(), 1u) << own.dump(2);
    EXPECT_EQ(own["rows"][0]["precision"], "fp32") << backend;
  }
  // A calibrated file's own is int8.
  testing::TempDir dir;
  const std::string calibrated = dir.file("convnet_int8.onnx");
  ASSERT_TRUE(infer::write_calibrated(model, calibrated, {1, 3, 128, 128}).ok());
  const auto int8 = bench_json({calibrated, "--backend", "iris", "--repeat", "1"});
  ASSERT_EQ(int8["rows"].size(), 1u) << int8.dump(2);
  EXPECT_EQ(int8["rows"][0]["precision"], "int8");
  EXPECT_EQ(int8["rows"][0]["status"], "ok");

  // The table has a precision column.
  const Output o = run_iris(
      {"bench", "model", model, "--backend", "iris", "--precision", "bf16", "--repeat", "1"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_TRUE(contains(o.out, "| backend | precision | batch |")) << o.out;
  EXPECT_TRUE(contains(o.out, "| iris    | bf16      |")) << o.out;
}

TEST(BenchCli, PrecisionNeedsBackendIrisAndInt8ACalibratedFile) {
  const std::string model = test_model("bench_convnet.onnx");
  const Output opencv = run_iris({"bench", "model", model, "--precision", "bf16"});
  EXPECT_EQ(opencv.code, 2);
  EXPECT_TRUE(contains(opencv.err,
                       "--precision applies to --backend iris, and backend opencv computes in "
                       "fp32; fix: add --backend iris, or drop --precision"))
      << opencv.err;
  const Output int8 =
      run_iris({"bench", "model", model, "--backend", "iris", "--precision", "fp32,int8"});
  EXPECT_EQ(int8.code, 1);
  EXPECT_TRUE(contains(int8.err, "model '" + model + "' is not calibrated")) << int8.err;
  EXPECT_TRUE(contains(int8.err, "calibrate it with `iris quantize " + model));
  EXPECT_TRUE(int8.out.empty()) << "nothing is timed before every precision loaded:\n" << int8.out;
}

TEST(BenchCli, FixedBatchOfOneReportsNaForLargerBatches) {
  const std::string model = test_model("yolov5_nchw.onnx");
  const auto j = bench_json({model, "--batch", "1,2", "--threads", "1", "--repeat", "2"});
  EXPECT_EQ(j["max_batch"], 1);
  ASSERT_EQ(j["rows"].size(), 2u) << j.dump(2);
  EXPECT_EQ(j["rows"][0]["status"], "ok");
  EXPECT_EQ(j["rows"][1]["batch"], 2);
  EXPECT_EQ(j["rows"][1]["status"], "n/a");
  EXPECT_TRUE(contains(j["rows"][1]["reason"].get<std::string>(), "fixed batch of 1"));

  // The table says the same.
  const Output o = run_iris({"bench", "model", model, "--batch", "1,2", "--repeat", "2"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_TRUE(contains(o.out, "| model"));
  EXPECT_TRUE(contains(o.out, " n/a |"));
  EXPECT_TRUE(contains(o.out, "n/a: fp32, batch 2"));
}

TEST(BenchCli, FreeImageSidesTakeInput) {
  const std::string model = test_model("yolov8_dynamic.onnx");
  const Output o = run_iris({"bench", "model", model, "--repeat", "1"});
  EXPECT_EQ(o.code, 2);
  EXPECT_TRUE(contains(o.err, "--input WxH"));
  const auto j = bench_json({model, "--input", "64x48", "--batch", "2", "--repeat", "1"});
  ASSERT_EQ(j["rows"].size(), 1u) << j.dump(2);
  EXPECT_EQ(j["rows"][0]["input_shape"], nlohmann::json({2, 3, 48, 64}));

  // A model with a fixed size refuses another.
  const Output fixed =
      run_iris({"bench", "model", test_model("yolov5_nchw.onnx"), "--input", "32x32"});
  EXPECT_EQ(fixed.code, 2);
  EXPECT_TRUE(contains(fixed.err, "fixed size of 64x64"));
}

TEST(BenchCli, BadArgumentsExit2NamingTheFlag) {
  const std::string model = test_model("yolov5_batch.onnx");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--batch", "0"},        {"--batch", "a"},     {"--batch", "1,,2"},  {"--batch", ""},
      {"--threads", "0"},      {"--threads", "1.5"}, {"--repeat", "0"},    {"--warmup", "-1"},
      {"--input", "64"},       {"--input", "0x64"},  {"--backend", "tpu"}, {"--precision", "int4"},
      {"--precision", "fp32,"}};
  for (const auto& [flag, value] : bad) {
    SCOPED_TRACE(flag + " '" + value + "'");
    const Output o = run_iris({"bench", "model", model, flag, value});
    EXPECT_EQ(o.code, 2);
    EXPECT_TRUE(contains(o.err, flag));
    EXPECT_TRUE(o.out.empty()) << o.out;
  }
  const Output missing_value = run_iris({"bench", "model", model, "--batch"});
  EXPECT_EQ(missing_value.code, 2);
  EXPECT_TRUE(contains(missing_value.err, "--batch needs"));
  const Output unknown = run_iris({"bench", "model", model, "--frobnicate"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_TRUE(contains(unknown.err, "--frobnicate"));
  EXPECT_EQ(run_iris({"bench", "model"}).code, 2);
  EXPECT_EQ(run_iris({"bench"}).code, 2);

  const Output help = run_iris({"help", "bench"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(contains(help.out, "iris bench model MODEL"));
}

TEST(BenchCli, ModelErrorsExit1NamingTheFile) {
  testing::TempDir dir;
  const std::string missing = dir.file("no_such_model.onnx");
  const Output o = run_iris({"bench", "model", missing});
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(contains(o.err, missing));
  EXPECT_TRUE(contains(o.err, "fix:"));

  const std::string garbage = test_model("garbage.onnx");
  const Output g = run_iris({"bench", "model", garbage});
  EXPECT_EQ(g.code, 1);
  EXPECT_TRUE(contains(g.err, garbage));
  EXPECT_TRUE(contains(g.err, "not an ONNX model"));
}

nlohmann::json profile_json(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"profile"};
  all.insert(all.end(), args.begin(), args.end());
  all.insert(all.end(), {"--repeat", "1", "--warmup", "0"});
  return run_json(all);
}

TEST(ProfileCli, FillsTheBatchAndFreeImageSides) {
  const auto dynamic =
      profile_json({test_model("yolov8_dynamic.onnx"), "--input", "64x48", "--batch", "2"});
  EXPECT_EQ(dynamic["input_shapes"], nlohmann::json::array({{2, 3, 48, 64}}));
  EXPECT_FALSE(dynamic["layers"].empty());
  // Channels last: the sides are the middle axes.
  const auto nhwc = profile_json({test_model("yolov5_nhwc.onnx"), "--input", "64x64"});
  EXPECT_EQ(nhwc["input_shapes"], nlohmann::json::array({{1, 64, 64, 3}}));

  // A model with a fixed size refuses another.
  const Output fixed =
      run_iris({"profile", test_model("yolov5_nchw.onnx"), "--input", "32x32", "--repeat", "1"});
  EXPECT_EQ(fixed.code, 1);
  EXPECT_TRUE(contains(fixed.err, "cannot take shape [1, 3, 32, 32]")) << fixed.err;
}

TEST(ProfileCli, ShowsThePrecisionOfEachLayer) {
  const std::string model = test_model("bench_convnet.onnx");
  // The precision a layer computes in: the convolutions' (Conv+Relu here) as asked, the rest fp32.
  const auto precisions = [](const nlohmann::json& j, bool conv) {
    std::set<std::string> out;
    for (const auto& layer : j["layers"]) {
      if (layer["op"].get<std::string>().starts_with("Conv") == conv) {
        out.insert(layer["precision"].get<std::string>());
      }
    }
    return out;
  };
  const auto fp32 = profile_json({model});
  EXPECT_EQ(fp32["precision"], "fp32");
  EXPECT_EQ(precisions(fp32, true), std::set<std::string>{"fp32"});
  const auto bf16 = profile_json({model, "--precision", "bf16"});
  EXPECT_EQ(bf16["precision"], "bf16");
  EXPECT_EQ(precisions(bf16, true), std::set<std::string>{"bf16"}) << bf16.dump(2);

  testing::TempDir dir;
  const std::string calibrated = dir.file("convnet_int8.onnx");
  ASSERT_TRUE(infer::write_calibrated(model, calibrated, {1, 3, 128, 128}).ok());
  const auto int8 = profile_json({calibrated});
  EXPECT_EQ(int8["precision"], "int8");
  EXPECT_EQ(precisions(int8, true), std::set<std::string>{"int8"}) << int8.dump(2);
  EXPECT_EQ(precisions(int8, false).count("bf16"), 0u);
  EXPECT_EQ(profile_json({calibrated, "--precision", "fp32"})["precision"], "fp32");

  const Output table = run_iris({"profile", model, "--precision", "bf16", "--repeat", "1"});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_TRUE(contains(table.out, " precision ")) << table.out;
  EXPECT_TRUE(contains(table.out, "precision: bf16 (layers: ")) << table.out;

  const Output uncalibrated = run_iris({"profile", model, "--precision", "int8"});
  EXPECT_EQ(uncalibrated.code, 1);
  EXPECT_TRUE(contains(uncalibrated.err, "model '" + model + "' is not calibrated"));
  EXPECT_TRUE(contains(uncalibrated.err, "calibrate it with `iris quantize " + model));
}

TEST(ProfileCli, BadArgumentsExit2NamingTheFlag) {
  const std::string model = test_model("yolov5_nchw.onnx");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--threads", "0"},  {"--batch", "a"},      {"--repeat", "0"},      {"--warmup", "-1"},
      {"--input", "0x64"}, {"--frobnicate", "1"}, {"--precision", "fp16"}};
  for (const auto& [flag, value] : bad) {
    SCOPED_TRACE(flag + " '" + value + "'");
    const Output o = run_iris({"profile", model, flag, value});
    EXPECT_EQ(o.code, 2);
    EXPECT_TRUE(contains(o.err, flag));
    EXPECT_TRUE(o.out.empty()) << o.out;
  }
  const Output missing_value = run_iris({"profile", model, "--threads"});
  EXPECT_EQ(missing_value.code, 2);
  EXPECT_TRUE(
      contains(missing_value.err, "--threads needs a whole number from 1 to 256; got nothing"));
  const Output two = run_iris({"profile", model, model});
  EXPECT_EQ(two.code, 2);
  EXPECT_TRUE(contains(two.err, "one MODEL only"));
  EXPECT_EQ(run_iris({"profile"}).code, 2);
}

}  // namespace
}  // namespace iris
