#include "eval/coco.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace iris::eval {
namespace {

using nlohmann::json;

constexpr size_t kAP = 0, kAP50 = 1, kAP75 = 2, kAPs = 3, kAPm = 4, kAPl = 5;
constexpr size_t kAR1 = 6, kAR10 = 7, kAR100 = 8, kARs = 9, kARm = 10, kARl = 11;

// Hand-built inputs: images 1..n, categories from `categories`, annotations and detections
// added one by one.
struct Inputs {
  json gt = {
      {"images", json::array()}, {"annotations", json::array()}, {"categories", json::array()}};
  json dt = json::array();

  explicit Inputs(int images, std::vector<int> categories = {1}) {
    for (int i = 1; i <= images; ++i) gt["images"].push_back({{"id", i}});
    for (int c : categories) gt["categories"].push_back({{"id", c}});
  }
  // `area` < 0 means the box's own w*h.
  void add_gt(int image, std::vector<double> box, bool crowd = false, int category = 1,
              double area = -1) {
    gt["annotations"].push_back({{"id", gt["annotations"].size() + 1},
                                 {"image_id", image},
                                 {"category_id", category},
                                 {"bbox", box},
                                 {"area", area < 0 ? box[2] * box[3] : area},
                                 {"iscrowd", crowd ? 1 : 0}});
  }
  void add_dt(int image, std::vector<double> box, double score, int category = 1) {
    dt.push_back({{"image_id", image}, {"category_id", category}, {"bbox", box}, {"score", score}});
  }
  Result<CocoStats> evaluate() const {
    return evaluate_coco_json(gt.dump(), "gt.json", dt.dump(), "dt.json");
  }
  std::array<double, 12> stats() const {
    auto result = evaluate();
    EXPECT_TRUE(result.ok()) << result.status().message();
    return result.ok() ? result->stats : std::array<double, 12>{};
  }
  std::string error() const {
    auto result = evaluate();
    EXPECT_FALSE(result.ok());
    return result.ok() ? "" : result.status().message();
  }
};

void expect_stats(const std::array<double, 12>& got, const std::array<double, 12>& want) {
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-12) << CocoStats::kNames[i];
  }
}

// ---- pycocotools reference vectors ----

class CocoVectors : public ::testing::TestWithParam<int> {};

TEST_P(CocoVectors, MatchesPycocotools) {
  const std::string dir =
      IRIS_SOURCE_DIR "/tests/eval/vectors/coco/case" + std::to_string(GetParam()) + "/";
  auto result = evaluate_coco(dir + "gt.json", dir + "dt.json");
  ASSERT_TRUE(result.ok()) << result.status().message();
  std::ifstream in(dir + "expected.json");
  ASSERT_TRUE(in) << dir << "expected.json";
  const json expected = json::parse(in);
  ASSERT_EQ(expected["stats"].size(), 12u);
  double max_deviation = 0;
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(expected["names"][i].get<std::string>(), CocoStats::kNames[i]);
    const double want = expected["stats"][i].get<double>();
    EXPECT_NEAR(result->stats[i], want, 1e-4) << CocoStats::kNames[i];
    max_deviation = std::max(max_deviation, std::abs(result->stats[i] - want));
  }
  std::printf("case%d: max abs deviation from pycocotools %.3g\n", GetParam(), max_deviation);
}

INSTANTIATE_TEST_SUITE_P(Coco, CocoVectors, ::testing::Values(1, 2, 3));

// ---- hand-built cases ----

TEST(Coco, PerfectDetectionsScoreOne) {
  Inputs in(2);
  in.add_gt(1, {10, 10, 40, 40});
  in.add_gt(2, {50, 60, 50, 50});
  in.add_dt(1, {10, 10, 40, 40}, 0.9);
  in.add_dt(2, {50, 60, 50, 50}, 0.3);
  // Both gts are medium: the small and large ranges have nothing to average.
  expect_stats(in.stats(), {1, 1, 1, -1, 1, -1, 1, 1, 1, -1, 1, -1});
}

TEST(Coco, FalsePositiveRankedAboveTruePositiveHalvesPrecision) {
  Inputs in(1);
  in.add_gt(1, {0, 0, 40, 40});
  in.add_dt(1, {200, 200, 40, 40}, 0.9);  // false positive
  in.add_dt(1, {0, 0, 40, 40}, 0.8);
  // Precision is 0 then 1/2; made monotone from the right it is 1/2 at every recall threshold.
  // Only the top-1 detection (the false positive) counts for AR1.
  expect_stats(in.stats(), {0.5, 0.5, 0.5, -1, 0.5, -1, 0, 1, 1, -1, 1, -1});
}

TEST(Coco, TiedScoresKeepFileOrder) {
  Inputs fp_first(1);
  fp_first.add_gt(1, {0, 0, 40, 40});
  fp_first.add_dt(1, {200, 200, 40, 40}, 0.5);
  fp_first.add_dt(1, {0, 0, 40, 40}, 0.5);
  EXPECT_DOUBLE_EQ(fp_first.stats()[kAP], 0.5);
  EXPECT_DOUBLE_EQ(fp_first.stats()[kAR1], 0);

  Inputs tp_first(1);
  tp_first.add_gt(1, {0, 0, 40, 40});
  tp_first.add_dt(1, {0, 0, 40, 40}, 0.5);
  tp_first.add_dt(1, {200, 200, 40, 40}, 0.5);
  EXPECT_DOUBLE_EQ(tp_first.stats()[kAP], 1);
  EXPECT_DOUBLE_EQ(tp_first.stats()[kAR1], 1);
}

TEST(Coco, OnlyTheTop100DetectionsPerImageCount) {
  for (const int false_positives : {99, 100}) {
    Inputs in(1);
    in.add_gt(1, {0, 0, 40, 40});
    for (int i = 0; i < false_positives; ++i) in.add_dt(1, {500.0 + i, 500, 40, 40}, 0.9);
    in.add_dt(1, {0, 0, 40, 40}, 0.5);
    const auto stats = in.stats();
    if (false_positives == 99) {
      // The hit is the 100th detection: precision 1/100 at recall 1.
      EXPECT_NEAR(stats[kAP], 0.01, 1e-12);
      EXPECT_DOUBLE_EQ(stats[kAR100], 1);
      EXPECT_DOUBLE_EQ(stats[kAR10], 0);
    } else {
      // The hit is the 101st and is dropped before matching.
      EXPECT_DOUBLE_EQ(stats[kAP], 0);
      EXPECT_DOUBLE_EQ(stats[kAR100], 0);
    }
  }
}

TEST(Coco, CrowdRegionAbsorbsAnyNumberOfDetections) {
  Inputs in(1);
  in.add_gt(1, {0, 0, 200, 200}, /*crowd=*/true);
  in.add_gt(1, {300, 300, 40, 40});
  // Inside the crowd: IoU = intersection / detection area = 1, so all three are ignored rather
  // than counted as false positives ranked above the hit.
  in.add_dt(1, {10, 10, 20, 20}, 0.9);
  in.add_dt(1, {50, 50, 20, 20}, 0.8);
  in.add_dt(1, {90, 90, 20, 20}, 0.7);
  in.add_dt(1, {300, 300, 40, 40}, 0.6);
  const auto stats = in.stats();
  EXPECT_DOUBLE_EQ(stats[kAP], 1);
  EXPECT_DOUBLE_EQ(stats[kAR100], 1);
  EXPECT_DOUBLE_EQ(stats[kAR1], 0);  // the top-1 detection is absorbed by the crowd
  // The crowd's area is large, but a crowd gt never counts toward recall.
  EXPECT_DOUBLE_EQ(stats[kAPl], -1);
}

TEST(Coco, DetectionPrefersRegularGtOverCrowd) {
  Inputs in(1);
  in.add_gt(1, {0, 0, 200, 200}, /*crowd=*/true);
  in.add_gt(1, {0, 0, 40, 25});  // area 1000: small
  in.add_dt(1, {0, 0, 40, 40}, 0.9);
  // IoU with the regular gt is 1000/1600 = 0.625 and with the crowd 1: at IoU thresholds
  // 0.5, 0.55, 0.6 the detection takes the regular gt (a hit); above, it falls to the crowd and
  // is ignored, leaving the gt missed. So 3 of 10 thresholds score 1.
  expect_stats(in.stats(), {0.3, 1, 0, 0.3, -1, -1, 0.3, 0.3, 0.3, 0.3, -1, -1});
}

TEST(Coco, AreaExactly32SquaredIsBothSmallAndMedium) {
  Inputs in(1);
  in.add_gt(1, {0, 0, 32, 32});
  in.add_dt(1, {0, 0, 32, 32}, 0.9);
  expect_stats(in.stats(), {1, 1, 1, 1, 1, -1, 1, 1, 1, 1, 1, -1});
}

TEST(Coco, GtSizeRangeComesFromItsAreaField) {
  Inputs in(1);
  in.add_gt(1, {0, 0, 40, 40}, false, 1, /*area=*/500);  // a 40x40 box, but small by `area`
  in.add_dt(1, {0, 0, 40, 40}, 0.9);                     // 1600 = medium by its own w*h
  const auto stats = in.stats();
  EXPECT_DOUBLE_EQ(stats[kAPs], 1);   // a matched detection counts whatever its own size
  EXPECT_DOUBLE_EQ(stats[kAPm], -1);  // no medium gt; the detection matched an ignored gt
  EXPECT_DOUBLE_EQ(stats[kARs], 1);
}

TEST(Coco, UnmatchedDetectionOutsideTheRangeIsIgnored) {
  Inputs in(1);
  in.add_gt(1, {0, 0, 20, 20});
  in.add_dt(1, {300, 300, 100, 100}, 0.9);  // large false positive
  in.add_dt(1, {0, 0, 20, 20}, 0.5);
  const auto stats = in.stats();
  EXPECT_DOUBLE_EQ(stats[kAP], 0.5);
  EXPECT_DOUBLE_EQ(stats[kAPs], 1);
  EXPECT_DOUBLE_EQ(stats[kAPl], -1);
}

TEST(Coco, CategoryWithoutGtIsLeftOutAndUndetectedCategoryCountsZero) {
  Inputs in(1, {1, 2, 3});
  in.add_gt(1, {0, 0, 40, 40}, false, 1);
  in.add_gt(1, {100, 0, 40, 40}, false, 2);  // never detected: 0
  in.add_dt(1, {0, 0, 40, 40}, 0.9, 1);      // perfect: 1
  in.add_dt(1, {200, 200, 40, 40}, 0.8, 3);  // category 3 has no gt: left out
  expect_stats(in.stats(), {0.5, 0.5, 0.5, -1, 0.5, -1, 0.5, 0.5, 0.5, -1, 0.5, -1});
}

TEST(Coco, NoDetectionsAtAllScoresZero) {
  Inputs in(2);
  in.add_gt(1, {0, 0, 40, 40});
  expect_stats(in.stats(), {0, 0, 0, -1, 0, -1, 0, 0, 0, -1, 0, -1});
}

TEST(Coco, AccumulatesImagesInAscendingIdOrder) {
  // Images listed 7 then 3; equal scores across images rank image 3 first.
  Inputs in(0);
  in.gt["images"] = {{{"id", 7}}, {{"id", 3}}};
  in.add_gt(7, {0, 0, 40, 40});
  in.add_dt(7, {0, 0, 40, 40}, 0.5);
  in.add_dt(3, {0, 0, 40, 40}, 0.5);  // false positive, but ranked first by image id
  EXPECT_DOUBLE_EQ(in.stats()[kAP], 0.5);
}

// ---- malformed input ----

TEST(CocoErrors, BadJsonNamesFileAndPosition) {
  auto result = evaluate_coco_json("{\"images\": [", "gt.json", "[]", "dt.json");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("gt.json: not valid JSON"), std::string::npos)
      << result.status().message();

  Inputs in(1);
  result = evaluate_coco_json(in.gt.dump(), "gt.json", "[{\"image_id\": 1,}]", "dt.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "dt.json: not valid JSON: [json.exception.parse_error.101] parse error at line 1, "
            "column 17: syntax error while parsing object key - unexpected '}'; expected string "
            "literal");
}

TEST(CocoErrors, WrongTopLevelShapes) {
  Inputs in(1);
  auto result = evaluate_coco_json("[]", "gt.json", "[]", "dt.json");
  EXPECT_EQ(result.status().message(),
            "gt.json: expected a COCO instances object with 'images', 'annotations' and "
            "'categories', got JSON array");
  result = evaluate_coco_json(in.gt.dump(), "gt.json", "{}", "dt.json");
  EXPECT_EQ(
      result.status().message(),
      "dt.json: expected a JSON list of {image_id, category_id, bbox, score}, got JSON object");
  in.gt.erase("categories");
  EXPECT_EQ(in.error(), "gt.json: missing field 'categories'");
  in.gt["categories"] = 1;
  EXPECT_EQ(in.error(), "gt.json: 'categories' must be a list, got number");
}

TEST(CocoErrors, MissingFields) {
  Inputs in(1);
  in.add_gt(1, {0, 0, 10, 10});
  in.gt["annotations"][0].erase("area");
  EXPECT_EQ(in.error(), "gt.json: annotation #0 (id 1): missing field 'area'");

  Inputs dt(1);
  dt.add_dt(1, {0, 0, 10, 10}, 0.5);
  dt.add_dt(1, {0, 0, 10, 10}, 0.5);
  dt.dt[1].erase("score");
  EXPECT_EQ(dt.error(), "dt.json: detection #1: missing field 'score'");

  Inputs image(1);
  image.gt["images"][0].erase("id");
  EXPECT_EQ(image.error(), "gt.json: image #0: missing field 'id'");
}

TEST(CocoErrors, WrongTypes) {
  Inputs in(1);
  in.add_dt(1, {0, 0, 10, 10}, 0.5);
  in.dt[0]["score"] = "high";
  EXPECT_EQ(in.error(), "dt.json: detection #0: 'score' must be a number, got \"high\"");
  in.dt[0]["score"] = 0.5;
  in.dt[0]["image_id"] = 1.5;
  EXPECT_EQ(in.error(), "dt.json: detection #0: 'image_id' must be an integer id, got 1.5");
  in.dt[0]["image_id"] = 1;
  in.dt[0]["bbox"] = {0, 0, 10};
  EXPECT_EQ(in.error(), "dt.json: detection #0: bbox must be 4 numbers [x, y, w, h], got [0,0,10]");

  Inputs crowd(1);
  crowd.add_gt(1, {0, 0, 10, 10});
  crowd.gt["annotations"][0]["iscrowd"] = 2;
  EXPECT_EQ(crowd.error(), "gt.json: annotation #0 (id 1): iscrowd must be 0 or 1, got 2");
}

TEST(CocoErrors, NegativeSizes) {
  Inputs in(1);
  for (int i = 0; i < 13; ++i) in.add_dt(1, {0, 0, 10, 10}, 0.5);
  in.dt[12]["bbox"] = {5, 5, -3, 10};
  EXPECT_EQ(in.error(),
            "dt.json: detection #12: bbox has negative width -3; boxes are [x, y, w, h] with "
            "w, h >= 0");

  Inputs gt(1);
  gt.add_gt(1, {0, 0, 10, -2.5});
  EXPECT_EQ(gt.error(),
            "gt.json: annotation #0 (id 1): bbox has negative height -2.5; boxes are "
            "[x, y, w, h] with w, h >= 0");

  Inputs area(1);
  area.add_gt(1, {0, 0, 10, 10}, false, 1, /*area=*/0);
  area.gt["annotations"][0]["area"] = -100;
  EXPECT_EQ(area.error(),
            "gt.json: annotation #0 (id 1): area -100 is negative; it is the object's size in "
            "pixels and must be >= 0");
}

TEST(CocoErrors, DetectionOnAnImageNotInGt) {
  Inputs in(2);
  in.add_dt(1, {0, 0, 10, 10}, 0.5);
  in.add_dt(99, {0, 0, 10, 10}, 0.5);
  EXPECT_EQ(in.error(), "dt.json: detection #1: image_id 99 is not among the images of gt.json");
}

TEST(CocoErrors, DetectionOfAnUnknownCategory) {
  Inputs in(1, {1, 2});
  in.add_dt(1, {0, 0, 10, 10}, 0.5, 2);  // listed in gt without annotations: fine
  ASSERT_TRUE(in.evaluate().ok());
  in.add_dt(1, {0, 0, 10, 10}, 0.5, 9);
  EXPECT_EQ(in.error(),
            "dt.json: detection #1: category_id 9 is not among the categories of gt.json");
}

TEST(CocoErrors, GtReferencesAndDuplicates) {
  Inputs image(1);
  image.add_gt(5, {0, 0, 10, 10});
  EXPECT_EQ(image.error(),
            "gt.json: annotation #0 (id 1): image_id 5 is not among the images of gt.json");

  Inputs category(1);
  category.add_gt(1, {0, 0, 10, 10}, false, 4);
  EXPECT_EQ(category.error(),
            "gt.json: annotation #0 (id 1): category_id 4 is not among the categories of "
            "gt.json");

  Inputs ann(1);
  ann.add_gt(1, {0, 0, 10, 10});
  ann.add_gt(1, {0, 0, 10, 10});
  ann.gt["annotations"][1]["id"] = 1;
  EXPECT_EQ(ann.error(),
            "gt.json: annotation #1 (id 1): id already used by annotation #0; annotation ids "
            "must be unique");

  Inputs images(2);
  images.gt["images"][1]["id"] = 1;
  EXPECT_EQ(images.error(), "gt.json: image id 1 appears more than once; ids must be unique");
}

TEST(CocoErrors, MissingFileIsNamed) {
  auto result = evaluate_coco("/nonexistent/gt.json", "/nonexistent/dt.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "cannot open /nonexistent/gt.json: No such file or directory");
}

}  // namespace
}  // namespace iris::eval
