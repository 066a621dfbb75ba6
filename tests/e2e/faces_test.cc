// configs/faces.yaml as a user runs it (`iris run`), on Debian's Megamind.avi with the real
// BlazeFace model, outputs redirected to a temporary directory; the tracks are held to faces
// labelled by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/geometry.h"
#include "support/support.h"

namespace iris {
namespace {

const std::string kConfig = IRIS_SOURCE_DIR "/configs/faces.yaml";
const std::string kModel = "models/face_detection_back_256x256_barracuda.onnx";

// The faces of tests/infer/blazeface_test.cc, labelled by hand on frames extracted with ffmpeg
// (MediaPipe's face box: cheek to cheek, mid-forehead to chin); frame indices from 0.
struct Labelled {
  int frame;
  Box face;
};
const Labelled kFaces[] = {
    {30, {224, 200, 358, 333}},  {60, {212, 222, 361, 368}},  {90, {230, 165, 374, 314}},
    {120, {398, 185, 548, 358}}, {180, {237, 150, 394, 328}}, {210, {268, 135, 520, 408}},
};

TEST(FacesConfig, RunsEndToEndWithFaceTracksWhereFacesAre) {
  ASSERT_TRUE(std::filesystem::exists(IRIS_SOURCE_DIR "/" + kModel))
      << kModel << " is missing; run scripts/fetch_models.sh";
  testing::TempDir dir;
  std::string yaml = testing::read_file(kConfig);
  ASSERT_NE(yaml.find("out/faces/"), std::string::npos);
  ASSERT_NE(yaml.find(kModel), std::string::npos);
  yaml = testing::replace_all(yaml, "out/faces/", dir.path() + "/");
  yaml = testing::replace_all(yaml, kModel, IRIS_SOURCE_DIR "/" + kModel);
  // The tracks too, to compare with the labels.
  const std::string outputs = "    outputs:\n";
  ASSERT_NE(yaml.find(outputs), std::string::npos);
  yaml.insert(yaml.find(outputs) + outputs.size(),
              "      - {type: mot, path: " + dir.file("tracks.txt") + "}\n");
  std::ofstream(dir.file("faces.yaml")) << yaml;

  ASSERT_EQ(
      testing::wait_child(
          testing::spawn_iris({"run", dir.file("faces.yaml"), "--threads", "2"}, dir.file("log")),
          300),
      0)
      << testing::read_file(dir.file("log"));
  const std::string log = testing::read_file(dir.file("log"));
  EXPECT_NE(log.find("270 frames"), std::string::npos) << log;

  // Every labelled face is on a confirmed track at its frame.
  std::map<int, std::vector<Box>> tracks;  // by frame index
  for (const std::string& line : testing::read_lines(dir.file("tracks.txt"))) {
    int frame = 0;
    long long id = 0;
    double x = 0, y = 0, w = 0, h = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%d,%lld,%lf,%lf,%lf,%lf", &frame, &id, &x, &y, &w, &h), 6);
    tracks[frame - 1].push_back({x, y, x + w, y + h});
  }
  for (const Labelled& l : kFaces) {
    double best = 0;
    for (const Box& b : tracks[l.frame]) best = std::max(best, iou(b, l.face));
    EXPECT_GE(best, 0.6) << "frame " << l.frame << ": no track on the labelled face";
  }

  // Shots (cuts found with ffmpeg's scene filter, checked by eye): a woman [0, 97), a man
  // [97, 153), the woman [153, 199). A face settles in the middle zone once in each.
  std::vector<int> enters;
  for (const std::string& line : testing::read_lines(dir.file("events.jsonl"))) {
    const auto e = nlohmann::json::parse(line);
    EXPECT_EQ(e["class"], "face");
    EXPECT_TRUE(std::filesystem::exists(e["snapshot"].get<std::string>()));
    if (e["type"] == "zone_enter") enters.push_back(e["frame"].get<int>());
  }
  ASSERT_GE(enters.size(), 3u);
  EXPECT_LT(enters[0], 97);
  EXPECT_GE(enters[1], 97);
  EXPECT_LT(enters[1], 153);
  EXPECT_GE(enters[2], 153);
  EXPECT_LT(enters[2], 199);

  const auto annotated = testing::count_frames(dir.file("annotated.mp4"));
  ASSERT_TRUE(annotated.ok()) << annotated.status().message();
  EXPECT_EQ(annotated->frames, 270);
}

}  // namespace
}  // namespace iris
