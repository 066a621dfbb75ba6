// `iris bench streams` as a user runs it, cut down to seconds (2 streams, 1-2 s windows, a 4 s
// clip): checks that the report is whole and that its numbers agree with each other, never how
// fast anything ran (a shared machine may hold 0, 1 or 2 streams).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "support/support.h"

namespace iris {
namespace {

using nlohmann::json;
using testing::contains;

using Output = testing::IrisRun;

class BenchStreams : public ::testing::Test {
 protected:
  // One clip cache for the whole suite: the clip is made once.
  static void SetUpTestSuite() { clips_ = std::make_unique<testing::TempDir>(); }
  static void TearDownTestSuite() { clips_.reset(); }

  static Output run(std::vector<std::string> args) {
    args.insert(args.begin(), {"bench", "streams"});
    args.insert(args.end(), {"--clip-dir", clips_->path(), "--clip-seconds", "4"});
    return testing::run_iris(args, 180);
  }

  static json run_json(const std::vector<std::string>& args) {
    std::vector<std::string> all = args;
    all.push_back("--json");
    return testing::json_of(run(all));
  }

  static std::unique_ptr<testing::TempDir> clips_;
};

std::unique_ptr<testing::TempDir> BenchStreams::clips_;

double num(const json& j, const char* key) { return j.at(key).get<double>(); }

// A window's derived numbers are its own raw numbers' quotients, and what it says about holding
// matches its counters.
void check_window(const json& w, int max_streams) {
  SCOPED_TRACE(w.dump());
  const int n = w.at("streams").get<int>();
  EXPECT_GE(n, 1);
  EXPECT_LE(n, max_streams);
  const double seconds = num(w, "seconds");
  ASSERT_GT(seconds, 0);
  const double frames = num(w, "frames");
  const double fps = frames / seconds / n;  // seconds are rounded to 1 ms
  EXPECT_NEAR(num(w, "fps_per_stream"), fps, 0.002 * fps + 1e-3);
  EXPECT_NEAR(num(w, "cpu_cores_per_stream"), num(w, "cpu_cores") / n, 1e-3);
  EXPECT_NEAR(num(w, "rss_mb_per_stream"), (num(w, "rss_mb") - num(w, "base_rss_mb")) / n, 0.01);
  EXPECT_GT(num(w, "rss_mb"), 0);
  EXPECT_GE(num(w, "cpu_cores"), 0);
  for (const char* key : {"frame_latency_ms", "event_latency_ms"}) {
    const json& l = w.at(key);
    EXPECT_LE(num(l, "p50"), num(l, "p99")) << key;
    EXPECT_GE(num(l, "p50"), 0) << key;
  }
  // Every processed frame has its latency recorded (the two are read a moment apart).
  EXPECT_NEAR(num(w.at("frame_latency_ms"), "count"), frames, 2.0 * n);
  EXPECT_LE(num(w.at("event_latency_ms"), "count"), num(w, "events") + n);
  if (w.at("held").get<bool>()) {
    EXPECT_EQ(w.at("dropped"), 0);
    EXPECT_EQ(w.at("not_live"), 0);
    EXPECT_FALSE(w.contains("reason"));
    EXPECT_GE(frames, 0.98 * 15 * seconds * n - 2.0 * n);  // the frames due arrived
  } else {
    EXPECT_FALSE(w.at("reason").get<std::string>().empty());
  }
}

// The max is the largest count that held a full --hold window, and at_max is that window; the
// projection divides the cores by its cost per stream.
void check_ramp(const json& r, double hold, int max_streams, int cores) {
  SCOPED_TRACE(r.dump());
  const int max = r.at("max").get<int>();
  EXPECT_GE(max, 0);
  EXPECT_LE(max, max_streams);
  int largest_held = 0;
  for (const json& w : r.at("steps")) {
    check_window(w, max_streams);
    if (w.at("held").get<bool>() && num(w, "seconds") >= hold - 0.1) {
      largest_held = std::max(largest_held, w.at("streams").get<int>());
    }
  }
  EXPECT_EQ(max, largest_held);
  if (max == 0) {
    EXPECT_TRUE(r.at("at_max").is_null());
    EXPECT_TRUE(r.at("projected_max").is_null());
    return;
  }
  const json& at_max = r.at("at_max");
  if (num(at_max, "cpu_cores_per_stream") > 0) {
    EXPECT_NEAR(num(r, "projected_max"), cores / num(at_max, "cpu_cores_per_stream"), 1.0);
  }
  EXPECT_EQ(at_max.at("streams"), max);
  EXPECT_TRUE(at_max.at("held").get<bool>());
  EXPECT_GE(num(at_max, "seconds"), hold - 0.1);
}

TEST_F(BenchStreams, ShortRunReportsConsistentNumbers) {
  const json j = run_json({"--pipeline", "motion", "--max-streams", "2", "--start", "2", "--hold",
                           "2", "--probe", "1", "--warmup", "1"});
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["pipeline"], "motion");
  EXPECT_EQ(j["detect_interval"], 1);
  EXPECT_GE(j["machine"]["cores"].get<int>(), 1);
  EXPECT_EQ(j["machine"]["load_avg_start"].size(), 3u);
  EXPECT_EQ(j["clip"]["width"], 1280);
  EXPECT_EQ(j["clip"]["height"], 720);
  EXPECT_EQ(j["clip"]["fps"], 15.0);
  EXPECT_EQ(j["clip"]["seconds"], 4.0);
  EXPECT_GT(num(j["clip"], "gop_s"), 0);
  EXPECT_LE(num(j["clip"], "gop_s"), 4);
  EXPECT_EQ(j["settings"]["hold_s"], 2.0);
  EXPECT_EQ(j["settings"]["max_streams"], 2);

  ASSERT_TRUE(j["runs"].contains("decode")) << j.dump(2);
  ASSERT_TRUE(j["runs"].contains("motion")) << j.dump(2);
  const json& decode = j["runs"]["decode"];
  const json& motion = j["runs"]["motion"];
  const int cores = j["machine"]["cores"].get<int>();
  check_ramp(decode, 2, 2, cores);
  check_ramp(motion, 2, 2, cores);
  EXPECT_EQ(j["decode_max"], decode["max"]);
  EXPECT_EQ(j["pipeline_max"], motion["max"]);
  const int dmax = j["decode_max"].get<int>(), pmax = j["pipeline_max"].get<int>();
  if (dmax > 0) {
    EXPECT_NEAR(num(j, "ratio"), static_cast<double>(pmax) / dmax, 1e-4);
  } else {
    EXPECT_TRUE(j["ratio"].is_null());
  }
  if (pmax > 0) {
    const json& at_max = motion["at_max"];
    EXPECT_EQ(j["cpu_cores_per_stream"], at_max["cpu_cores_per_stream"]);
    if (dmax > 0 && num(at_max, "cpu_cores_per_stream") > 0) {
      const double want =
          num(decode["at_max"], "cpu_cores_per_stream") / num(at_max, "cpu_cores_per_stream");
      EXPECT_NEAR(num(j, "cpu_ratio"), want, 0.01 * want);
    }
    EXPECT_EQ(j["rss_mb_per_stream"], at_max["rss_mb_per_stream"]);
    EXPECT_EQ(j["latency_ms"]["at_max"]["streams"], pmax);
    EXPECT_EQ(j["latency_ms"]["at_max"]["frame"], at_max["frame_latency_ms"]);
    EXPECT_EQ(j["latency_ms"]["at_max"]["event"], at_max["event_latency_ms"]);
    // 80% of the max, rounded, has its own window (the max itself when they round the same).
    const json& at_80 = motion["at_80pct"];
    ASSERT_FALSE(at_80.is_null());
    EXPECT_EQ(at_80["streams"].get<int>(), std::max(1L, std::lround(0.8 * pmax)));
    EXPECT_EQ(j["latency_ms"]["at_80pct"]["frame"], at_80["frame_latency_ms"]);
  }
  EXPECT_TRUE(j["soak"].is_null());
  EXPECT_TRUE(contains(j["clip"]["path"].get<std::string>(), clips_->path()));
}

TEST_F(BenchStreams, SoakAtAFixedCountReportsTheRssCurve) {
  const json j =
      run_json({"--pipeline", "decode", "--soak", "3", "--streams", "1", "--warmup", "1"});
  ASSERT_TRUE(j.is_object());
  EXPECT_TRUE(j["decode_max"].is_null());  // --streams skips the search
  EXPECT_TRUE(j["runs"].empty());
  const json& soak = j["soak"];
  ASSERT_TRUE(soak.is_object()) << j.dump(2);
  check_window(soak, 1);
  EXPECT_EQ(soak["kind"], "soak");
  const json& curve = soak["rss_curve"];
  ASSERT_GE(curve.size(), 2u) << curve.dump();
  EXPECT_LT(curve.front()[0].get<double>(), 1.0);
  EXPECT_NEAR(curve.back()[0].get<double>(), num(soak, "seconds"), 0.6);
  for (size_t i = 0; i < curve.size(); ++i) {
    EXPECT_GT(curve[i][1].get<double>(), 0);
    if (i > 0) {
      EXPECT_GT(curve[i][0].get<double>(), curve[i - 1][0].get<double>());
    }
  }
  // Too short to compare with the RSS one minute in.
  EXPECT_TRUE(soak["rss_mb_at_1min"].is_null());
  EXPECT_TRUE(soak["rss_end_over_1min"].is_null());
  EXPECT_EQ(soak["rss_mb_at_end"], curve.back()[1]);
}

TEST_F(BenchStreams, BadArgumentsExitTwoAndNameTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--pipeline", "yolo"}, "--pipeline"},
      {{"--hold", "0"}, "--hold"},
      {{"--max-streams", "-3"}, "--max-streams"},
      {{"--start", "9", "--max-streams", "4"}, "--start"},
      {{"--streams", "4"}, "--soak"},
      {{"--probe"}, "--probe"},
      {{"--frobnicate"}, "--frobnicate"},
      {{"--pipeline", "blazeface", "--model", "/nonexistent/face.onnx"}, "fetch_models.sh"},
  };
  for (const auto& [args, named] : cases) {
    const Output o = run(args);
    EXPECT_EQ(o.code, 2) << args[0] << "\n" << o.err;
    EXPECT_TRUE(contains(o.err, named)) << o.err;
    EXPECT_TRUE(o.out.empty()) << o.out;
  }
}

}  // namespace
}  // namespace iris
