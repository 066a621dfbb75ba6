// Whole pipelines with DNN models through the Engine: many streams sharing one batched model,
// tiled detection, secondary models on crops. The detector is make_models.py's "centroid" model,
// which boxes the one white square of a black picture, so generated clips give exactly known
// boxes; its score grows with the share of the input the square fills.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "infer/test_models.h"
#include "pipeline/config.h"
#include "pipeline/engine.h"
#include "support/support.h"

namespace iris {
namespace {

using nlohmann::json;

struct RunResult {
  std::vector<pipeline::StreamStats> streams;
  std::map<std::string, infer::ServerStats> models;  // by name
};

// Runs the pipeline to its end. Every stream ended means every frame's requests were answered,
// so the model stats are final.
RunResult run(const std::string& yaml) {
  RunResult r;
  auto spec = pipeline::parse_config(yaml, "dnn.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status().message();
  if (!spec.ok()) return r;
  auto engine = pipeline::Engine::create(*spec);
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  if (!engine.ok()) return r;
  (*engine)->start();
  EXPECT_TRUE((*engine)->wait_for(std::chrono::seconds(240)));
  r.streams = (*engine)->stats();
  for (const auto& m : (*engine)->model_stats()) r.models[m.name] = m.stats;
  return r;
}

// The centroid model as a config entry: letterbox borders black like the scene around the square.
std::string centroid_model(const std::string& extra = "") {
  return "  - {name: squares, path: " + infer::test_model("centroid.onnx") +
         ", decoder: end2end, classes: [square], pad_value: 0" + extra + "}\n";
}

// A white square of side `side` centred at (cx, cy).
void draw_square(cv::Mat& img, double cx, double cy, double side) {
  cv::rectangle(img, cv::Point2d(cx - side / 2, cy - side / 2),
                cv::Point2d(cx + side / 2 - 1, cy + side / 2 - 1), cv::Scalar::all(255),
                cv::FILLED);
}

Status write_squares(const std::string& path, int width, int height, int frames,
                     const std::function<cv::Point2d(int)>& centre, double side) {
  return testing::write_clip(path, cv::Mat(height, width, CV_8UC3, cv::Scalar::all(0)), 10, frames,
                             [&](cv::Mat& img, int i) {
                               const cv::Point2d c = centre(i);
                               draw_square(img, c.x, c.y, side);
                             });
}

// One line of a MOTChallenge tracks file.
struct MotRow {
  int frame;  // from 1
  int64_t id;
  Box box;
};

std::vector<MotRow> read_mot(const std::string& path) {
  std::vector<MotRow> rows;
  for (const std::string& line : testing::read_lines(path)) {
    MotRow r{};
    long long id = 0;
    double x = 0, y = 0, w = 0, h = 0;
    if (std::sscanf(line.c_str(), "%d,%lld,%lf,%lf,%lf,%lf", &r.frame, &id, &x, &y, &w, &h) != 6) {
      ADD_FAILURE() << path << ": bad line " << line;
      continue;
    }
    r.id = id;
    r.box = {x, y, x + w, y + h};
    rows.push_back(r);
  }
  return rows;
}

std::vector<json> read_events(const std::string& path) {
  std::vector<json> events;
  for (const std::string& line : testing::read_lines(path)) events.push_back(json::parse(line));
  return events;
}

double cx(const Box& b) { return (b.x1 + b.x2) / 2; }
double cy(const Box& b) { return (b.y1 + b.y2) / 2; }

// Eight streams share one model. Stream s shows a 40 px square walking right along its own row
// y = 30 + 25 s; every track and event of a stream must be on that row at that frame's x (a
// result that went to the wrong stream or frame would be rows or steps away), and the model's
// batches must hold requests of several streams.
TEST(DnnPipeline, EightStreamsShareOneBatchedModelAndKeepTheirOwnResults) {
  constexpr int kStreams = 8;
  constexpr int kFrames = 40;
  constexpr double kSide = 40;
  testing::TempDir dir;
  auto centre = [](int s, int f) { return cv::Point2d(60 + 4 * f, 30 + 25 * s); };
  std::string yaml =
      "models:\n" + centroid_model(", max_batch: 8, max_delay_us: 100000") + "streams:\n";
  for (int s = 0; s < kStreams; ++s) {
    const std::string name = "cam" + std::to_string(s);
    ASSERT_TRUE(
        write_squares(
            dir.file(name + ".mp4"), 320, 240, kFrames, [&](int f) { return centre(s, f); }, kSide)
            .ok());
    yaml += "  - name: " + name + "\n    url: " + dir.file(name + ".mp4") +
            "\n"
            "    detector: {type: dnn, model: squares}\n"
            "    tracker: {type: sort, min_hits: 3}\n"
            "    rules:\n"
            "      - {name: right, type: zone, anchor: center,\n"
            "         polygon: [[160, 0], [320, 0], [320, 240], [160, 240]]}\n"
            "    outputs:\n"
            "      - {type: mot, path: " +
            dir.file(name + ".txt") +
            "}\n      - {type: jsonl, path: " + dir.file(name + ".jsonl") + "}\n";
  }
  const RunResult r = run(yaml);
  ASSERT_EQ(r.streams.size(), static_cast<size_t>(kStreams));

  for (int s = 0; s < kStreams; ++s) {
    const std::string name = "cam" + std::to_string(s);
    SCOPED_TRACE(name);
    const pipeline::StreamStats& st = r.streams[s];
    EXPECT_EQ(st.state, pipeline::StreamState::kEnded) << st.reason;
    EXPECT_EQ(st.counters.frames, kFrames);
    EXPECT_EQ(st.counters.detector_runs, kFrames);
    EXPECT_EQ(st.counters.detector_errors, 0);

    const std::vector<MotRow> rows = read_mot(dir.file(name + ".txt"));
    // Confirmed at the third hit, then on every frame.
    EXPECT_EQ(rows.size(), static_cast<size_t>(kFrames - 2));
    std::set<int64_t> ids;
    for (const MotRow& row : rows) {
      const cv::Point2d c = centre(s, row.frame - 1);
      EXPECT_NEAR(cx(row.box), c.x, 3) << "frame " << row.frame;
      EXPECT_NEAR(cy(row.box), c.y, 3) << "frame " << row.frame;
      EXPECT_NEAR(row.box.width(), kSide, 4) << "frame " << row.frame;
      ids.insert(row.id);
    }
    EXPECT_EQ(ids.size(), 1u);

    // The square's centre reaches x = 160 at frame 25.
    const std::vector<json> events = read_events(dir.file(name + ".jsonl"));
    ASSERT_EQ(events.size(), 1u);
    const json& e = events[0];
    EXPECT_EQ(e["stream"], name);
    EXPECT_EQ(e["type"], "zone_enter");
    EXPECT_EQ(e["class"], "square");
    EXPECT_NEAR(e["frame"].get<int>(), 25, 1);
    const auto box = e["box"].get<std::vector<double>>();
    EXPECT_NEAR((box[1] + box[3]) / 2, centre(s, 0).y, 3);
  }

  const infer::ServerStats& m = r.models.at("squares");
  EXPECT_EQ(m.requests, kStreams * kFrames);
  EXPECT_EQ(m.failed, 0);
  EXPECT_EQ(m.rejected, 0);
  EXPECT_GT(m.max_batch_seen, 1);
  EXPECT_LT(m.batches, m.requests) << "every batch held one request";
}

// A 16 px square on a 256x256 frame fills too little of the model's 64x64 input to score
// (4x4 px, score 0.2 < 0.25), but fills a 2x2 grid's 146 px tiles enough (7x7 px, 0.6). It sits
// in the middle, inside all four tiles: tiled, it is found four times and merged to one box, in
// source pixels; untiled, not at all.
TEST(DnnPipeline, TilesFindASmallObjectOnceInSourcePixels) {
  constexpr int kFrames = 20;
  testing::TempDir dir;
  auto centre = [](int f) { return cv::Point2d(120 + f * 0.8, 128); };
  ASSERT_TRUE(write_squares(dir.file("small.mp4"), 256, 256, kFrames, centre, 16).ok());
  auto config = [&](const std::string& tiles, const std::string& out) {
    return "models:\n" + centroid_model() +
           "streams:\n"
           "  - name: wide\n"
           "    url: " +
           dir.file("small.mp4") + "\n    detector: {type: dnn, model: squares" + tiles +
           "}\n"
           "    tracker: {type: sort, min_hits: 1}\n"
           "    outputs: [{type: mot, path: " +
           dir.file(out) + "}]\n";
  };

  const RunResult tiled = run(config(", tiles: {grid: [2, 2], overlap: 0.25}", "tiled.txt"));
  ASSERT_EQ(tiled.streams.size(), 1u);
  EXPECT_EQ(tiled.streams[0].counters.detector_errors, 0);
  EXPECT_EQ(tiled.models.at("squares").requests, kFrames * 5);  // 4 tiles and the whole frame
  const std::vector<MotRow> rows = read_mot(dir.file("tiled.txt"));
  EXPECT_EQ(rows.size(), static_cast<size_t>(kFrames)) << "one box per frame, no duplicates";
  std::set<int> frames;
  for (const MotRow& row : rows) {
    SCOPED_TRACE("frame " + std::to_string(row.frame));
    EXPECT_TRUE(frames.insert(row.frame).second) << "two tracks on one frame";
    const cv::Point2d c = centre(row.frame - 1);
    EXPECT_NEAR(row.box.x1, c.x - 8, 2);
    EXPECT_NEAR(row.box.x2, c.x + 8, 2);
    EXPECT_NEAR(row.box.y1, c.y - 8, 2);
    EXPECT_NEAR(row.box.y2, c.y + 8, 2);
    EXPECT_EQ(row.id, rows.front().id);
  }

  const RunResult whole = run(config("", "whole.txt"));
  ASSERT_EQ(whole.streams.size(), 1u);
  EXPECT_EQ(whole.streams[0].counters.detector_runs, kFrames);
  EXPECT_EQ(whole.streams[0].counters.detector_errors, 0);
  EXPECT_TRUE(read_mot(dir.file("whole.txt")).empty());
}

// A classifier and an embedding model run on the crops of the detections. Events carry both
// answers; the classifier (interval 1 s) runs about once a second per object, the embedding model
// (interval 0) on every detection.
TEST(DnnPipeline, SecondaryModelsAnswerOnCropsAtTheirInterval) {
  constexpr int kFrames = 50;  // 5 s at 10 fps
  testing::TempDir dir;
  auto centre = [](int f) { return cv::Point2d(60 + 4 * f, 120); };
  ASSERT_TRUE(write_squares(dir.file("walk.mp4"), 320, 240, kFrames, centre, 40).ok());
  const std::string yaml = "models:\n" + centroid_model() +
                           "  - {name: color, path: " + infer::test_model("classifier_probs.onnx") +
                           ", decoder: classifier, classes: [red, green, blue]}\n"
                           "  - {name: reid, path: " +
                           infer::test_model("embedding.onnx") +
                           ", decoder: embedding}\n"
                           "streams:\n"
                           "  - name: cam\n"
                           "    url: " +
                           dir.file("walk.mp4") +
                           "\n"
                           "    detector: {type: dnn, model: squares}\n"
                           "    secondary:\n"
                           "      - {model: color, classes: [square], min_size: 16, interval: 1}\n"
                           "      - {model: reid, min_size: 16, interval: 0, padding: 0.1}\n"
                           "    tracker: {type: sort, min_hits: 3}\n"
                           "    rules:\n"
                           "      - {name: right, type: zone, anchor: center,\n"
                           "         polygon: [[160, 0], [320, 0], [320, 240], [160, 240]]}\n"
                           "    outputs: [{type: jsonl, path: " +
                           dir.file("events.jsonl") + "}]\n";
  const RunResult r = run(yaml);
  ASSERT_EQ(r.streams.size(), 1u);
  EXPECT_EQ(r.streams[0].counters.secondary_failures, 0);

  const std::vector<json> events = read_events(dir.file("events.jsonl"));
  ASSERT_EQ(events.size(), 1u);
  const json& e = events[0];
  ASSERT_TRUE(e.contains("attributes")) << e.dump();
  ASSERT_EQ(e["attributes"].size(), 1u);
  // classifier_probs answers softmax([1, 3, 2]) whatever the crop: green, 0.6652.
  EXPECT_EQ(e["attributes"][0]["model"], "color");
  EXPECT_EQ(e["attributes"][0]["label"], "green");
  EXPECT_NEAR(e["attributes"][0]["score"].get<double>(), 0.6652, 1e-3);
  // embedding.onnx answers [3, 0, 4, 0], normalized.
  EXPECT_EQ(e["embedding"].get<std::vector<double>>(), (std::vector<double>{0.6, 0, 0.8, 0}));

  // One detection per frame. The classifier runs on the first frame (no track yet), on the
  // track's first match, then again whenever its last answer is a second old: 0.1 s, ~1.1 s,
  // ~2.1 s, ~3.1 s, ~4.1 s.
  EXPECT_EQ(r.models.at("reid").requests, kFrames);
  EXPECT_GE(r.models.at("color").requests, 5);
  EXPECT_LE(r.models.at("color").requests, 7);
}

}  // namespace
}  // namespace iris
