#include "eval/mot.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace iris::eval {
namespace {

namespace fs = std::filesystem;

// A gt.txt / tracker.txt pair in a fresh directory, removed afterwards.
class MotFiles {
 public:
  MotFiles() {
    std::string pattern = (fs::temp_directory_path() / "iris_mot_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    dir_ = pattern;
  }
  ~MotFiles() { fs::remove_all(dir_); }

  std::string gt() const { return (dir_ / "gt.txt").string(); }
  std::string tracker() const { return (dir_ / "tracker.txt").string(); }

  Result<MotMetrics> evaluate(const std::string& gt_text, const std::string& tracker_text) const {
    std::ofstream(gt()) << gt_text;
    std::ofstream(tracker()) << tracker_text;
    return evaluate_mot(gt(), tracker());
  }

 private:
  fs::path dir_;
};

// --- Reference vectors computed by TrackEval ---

void expect_matches_trackeval(const std::string& name) {
  const std::string dir = std::string(IRIS_SOURCE_DIR) + "/tests/eval/vectors/mot/" + name;
  std::ifstream expected_file(dir + "/expected.json");
  ASSERT_TRUE(expected_file) << dir;
  const nlohmann::ordered_json expected = nlohmann::ordered_json::parse(expected_file);

  const Result<MotMetrics> got = evaluate_mot(dir + "/gt.txt", dir + "/tracker.txt");
  ASSERT_TRUE(got.ok()) << got.status().message();
  const auto fields = to_fields(*got);
  ASSERT_EQ(fields.size(), expected.size());
  size_t i = 0;
  for (const auto& [key, value] : expected.items()) {
    SCOPED_TRACE(name + " " + key);
    ASSERT_EQ(fields[i].name, key) << "field order differs from expected.json";
    const double want = value.get<double>();
    const bool count = i >= 13;  // from IDSW on
    EXPECT_EQ(fields[i].count, count);
    if (count) {
      EXPECT_EQ(fields[i].value, want);
    } else {
      EXPECT_NEAR(fields[i].value, want, 1e-3);
    }
    ++i;
  }
}

TEST(MotTrackEval, Case1) { expect_matches_trackeval("case1"); }
TEST(MotTrackEval, Case2) { expect_matches_trackeval("case2"); }

// --- Hand-built cases ---

TEST(MotHand, PerfectTrackingScoresOne) {
  MotFiles files;
  const auto m = files.evaluate(
      "1,1,10,10,20,40,1,1,1\n1,2,100,10,20,40,1,1,1\n"
      "2,1,12,10,20,40,1,1,1\n2,2,102,10,20,40,1,1,1\n"
      "3,1,14,10,20,40,1,1,1\n",
      "1,7,10,10,20,40,0.9,-1,-1,-1\n1,9,100,10,20,40,0.9,-1,-1,-1\n"
      "2,7,12,10,20,40,0.9,-1,-1,-1\n2,9,102,10,20,40,0.9,-1,-1,-1\n"
      "3,7,14,10,20,40,0.9,-1,-1,-1\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (const MotField& f : to_fields(*m)) {
    if (f.name == "HOTA" || f.name == "DetA" || f.name == "AssA" || f.name == "DetRe" ||
        f.name == "DetPr" || f.name == "AssRe" || f.name == "AssPr" || f.name == "LocA" ||
        f.name == "MOTA" || f.name == "MOTP" || f.name == "IDF1" || f.name == "IDP" ||
        f.name == "IDR") {
      EXPECT_DOUBLE_EQ(f.value, 1.0) << f.name;
    }
  }
  EXPECT_EQ(m->idsw, 0);
  EXPECT_EQ(m->frag, 0);
  EXPECT_EQ(m->mt, 2);
  EXPECT_EQ(m->pt, 0);
  EXPECT_EQ(m->ml, 0);
  EXPECT_EQ(m->clr_tp, 5);
  EXPECT_EQ(m->clr_fn, 0);
  EXPECT_EQ(m->clr_fp, 0);
}

// One gt over 4 frames, tracked perfectly by id 1 then id 2.
// CLEAR: TP 4, IDSW 1, MOTA (4 - 1) / 4. Identity: best id pair covers 2 of 4 frames on each
// side, so IDP = IDR = IDF1 = 0.5. HOTA: DetA 1; each of the 4 matches has gt/tracker/match
// counts (4, 2, 2): AssA = 2 / (4 + 2 - 2) = 0.5, AssRe = 2 / 4, AssPr = 2 / 2; HOTA = sqrt(0.5).
TEST(MotHand, OneIdSwitch) {
  MotFiles files;
  const auto m = files.evaluate(
      "1,5,0,0,10,10,1,1,1\n2,5,0,0,10,10,1,1,1\n3,5,0,0,10,10,1,1,1\n4,5,0,0,10,10,1,1,1\n",
      "1,1,0,0,10,10,1,-1,-1,-1\n2,1,0,0,10,10,1,-1,-1,-1\n"
      "3,2,0,0,10,10,1,-1,-1,-1\n4,2,0,0,10,10,1,-1,-1,-1\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->idsw, 1);
  EXPECT_EQ(m->frag, 0);
  EXPECT_EQ(m->clr_tp, 4);
  EXPECT_DOUBLE_EQ(m->mota, 0.75);
  EXPECT_DOUBLE_EQ(m->idf1, 0.5);
  EXPECT_DOUBLE_EQ(m->idp, 0.5);
  EXPECT_DOUBLE_EQ(m->idr, 0.5);
  EXPECT_DOUBLE_EQ(m->deta, 1.0);
  EXPECT_DOUBLE_EQ(m->assa, 0.5);
  EXPECT_DOUBLE_EQ(m->assre, 0.5);
  EXPECT_DOUBLE_EQ(m->asspr, 1.0);
  EXPECT_NEAR(m->hota, std::sqrt(0.5), 1e-12);
}

// Switching back to an earlier id is a second switch: ids 1, 2, 1 give IDSW 2.
TEST(MotHand, SwitchingBackCountsAgain) {
  MotFiles files;
  const auto m = files.evaluate("1,5,0,0,10,10,1,1,1\n2,5,0,0,10,10,1,1,1\n3,5,0,0,10,10,1,1,1\n",
                                "1,1,0,0,10,10,1,-1,-1,-1\n2,2,0,0,10,10,1,-1,-1,-1\n"
                                "3,1,0,0,10,10,1,-1,-1,-1\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->idsw, 2);
  EXPECT_DOUBLE_EQ(m->mota, 1.0 / 3.0);
}

// A frame where the tracker outputs nothing adds one FN but keeps the "tracked last frame"
// state, so no Frag; the switch in frame 4 is against the id last matched in frame 3.
// Tracked 3 of 4 frames = 75%: partially tracked.
TEST(MotHand, TrackerBlackoutAddsNoFrag) {
  MotFiles files;
  const auto m = files.evaluate(
      "1,5,0,0,10,10,1,1,1\n2,5,0,0,10,10,1,1,1\n3,5,0,0,10,10,1,1,1\n4,5,0,0,10,10,1,1,1\n",
      "1,1,0,0,10,10,1,-1,-1,-1\n3,1,0,0,10,10,1,-1,-1,-1\n4,2,0,0,10,10,1,-1,-1,-1\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->clr_tp, 3);
  EXPECT_EQ(m->clr_fn, 1);
  EXPECT_EQ(m->clr_fp, 0);
  EXPECT_EQ(m->idsw, 1);
  EXPECT_EQ(m->frag, 0);
  EXPECT_EQ(m->mt, 0);
  EXPECT_EQ(m->pt, 1);
  EXPECT_EQ(m->ml, 0);
  EXPECT_DOUBLE_EQ(m->mota, 0.5);
}

// The same, but in frame 2 the tracker has a box elsewhere: that frame is matched, the gt is
// untracked in it, and tracking it again in frame 3 is a fragmentation.
TEST(MotHand, MissWithTrackerOutputIsAFragmentation) {
  MotFiles files;
  const auto m = files.evaluate(
      "1,5,0,0,10,10,1,1,1\n2,5,0,0,10,10,1,1,1\n3,5,0,0,10,10,1,1,1\n4,5,0,0,10,10,1,1,1\n",
      "1,1,0,0,10,10,1,-1,-1,-1\n2,9,500,500,10,10,1,-1,-1,-1\n"
      "3,1,0,0,10,10,1,-1,-1,-1\n4,2,0,0,10,10,1,-1,-1,-1\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->clr_tp, 3);
  EXPECT_EQ(m->clr_fn, 1);
  EXPECT_EQ(m->clr_fp, 1);
  EXPECT_EQ(m->idsw, 1);
  EXPECT_EQ(m->frag, 1);
  EXPECT_DOUBLE_EQ(m->mota, 0.25);
}

// Frame 2 offers a better box (IoU 0.9) from a new id, but CLEAR keeps last frame's pair
// (IoU 0.6): no switch, one FP, MOTP = 0.6.
TEST(MotHand, ClearKeepsPreviousPairOverHigherIou) {
  MotFiles files;
  const auto m = files.evaluate("1,5,0,0,10,10,1,1,1\n2,5,0,0,10,10,1,1,1\n",
                                "1,1,0,0,10,6,1,-1,-1,-1\n"
                                "2,2,0,0,10,9,1,-1,-1,-1\n2,1,0,0,10,6,1,-1,-1,-1\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->idsw, 0);
  EXPECT_EQ(m->clr_tp, 2);
  EXPECT_EQ(m->clr_fp, 1);
  EXPECT_NEAR(m->motp, 0.6, 1e-12);
}

// One match at IoU 0.72: it counts for the 14 alphas 0.05..0.70 and not for 0.75..0.95, where
// the frame has one FN and one FP. LocA is 0.72 where matched and TrackEval's 1 where not.
TEST(MotHand, HotaAveragesOverAlphas) {
  MotFiles files;
  const auto m = files.evaluate("1,5,0,0,10,10,1,1,1\n", "1,1,0,0,10,7.2,1,-1,-1,-1\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  const double matched = 14.0 / 19.0;
  EXPECT_NEAR(m->deta, matched, 1e-12);
  EXPECT_NEAR(m->assa, matched, 1e-12);
  EXPECT_NEAR(m->hota, matched, 1e-12);
  EXPECT_NEAR(m->detre, matched, 1e-12);
  EXPECT_NEAR(m->detpr, matched, 1e-12);
  EXPECT_NEAR(m->loca, (14 * 0.72 + 5) / 19.0, 1e-12);
  EXPECT_DOUBLE_EQ(m->mota, 1.0);
  EXPECT_NEAR(m->motp, 0.72, 1e-12);
}

TEST(MotHand, EmptyTrackerMissesEverything) {
  MotFiles files;
  const auto m =
      files.evaluate("1,5,0,0,10,10,1,1,1\n2,5,0,0,10,10,1,1,1\n3,6,50,0,10,10,1,1,1\n", "");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->clr_tp, 0);
  EXPECT_EQ(m->clr_fn, 3);
  EXPECT_EQ(m->clr_fp, 0);
  EXPECT_EQ(m->ml, 2);
  EXPECT_DOUBLE_EQ(m->mota, 0.0);
  EXPECT_DOUBLE_EQ(m->idf1, 0.0);
  EXPECT_DOUBLE_EQ(m->hota, 0.0);
  EXPECT_DOUBLE_EQ(m->detre, 0.0);
  EXPECT_DOUBLE_EQ(m->loca, 1.0);  // TrackEval's value when nothing matched
}

// Every box misses: 2 FN and 2 FP give MOTA (0 - 2) / 2 = -1.
TEST(MotHand, AllMissesWithFalsePositives) {
  MotFiles files;
  const auto m = files.evaluate("1,5,0,0,10,10,1,1,1\n2,5,0,0,10,10,1,1,1\n",
                                "1,1,0,100,10,10,1,-1,-1,-1\n2,1,0,100,10,10,1,-1,-1,-1\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->clr_fn, 2);
  EXPECT_EQ(m->clr_fp, 2);
  EXPECT_EQ(m->ml, 1);
  EXPECT_DOUBLE_EQ(m->mota, -1.0);
  EXPECT_DOUBLE_EQ(m->idf1, 0.0);
  EXPECT_DOUBLE_EQ(m->hota, 0.0);
}

// A gt row whose conf is 0 is not evaluated, so a perfect tracker of the other row is perfect.
TEST(MotHand, ZeroConfidenceGtRowsAreDropped) {
  MotFiles files;
  const auto m =
      files.evaluate("1,5,0,0,10,10,1,1,1\n1,6,50,0,10,10,0,1,1\n", "1,1,0,0,10,10,1,-1,-1,-1\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->clr_fn, 0);
  EXPECT_DOUBLE_EQ(m->mota, 1.0);
  EXPECT_EQ(m->mt + m->pt + m->ml, 1);
}

TEST(MotHand, BlankLinesAndCrlfAreAccepted) {
  MotFiles files;
  const auto m = files.evaluate("1,5,0,0,10,10,1,1,1\r\n\r\n", "\n1,1,0,0,10,10,1,-1,-1,-1\r\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_DOUBLE_EQ(m->mota, 1.0);
}

// --- Malformed input: an error naming the file and line ---

struct BadInput {
  const char* name;
  const char* gt;
  const char* tracker;
  bool tracker_is_bad;
  int line;
  const char* message;
};

class MotMalformed : public ::testing::TestWithParam<BadInput> {};

TEST_P(MotMalformed, NamesFileAndLine) {
  const BadInput& bad = GetParam();
  MotFiles files;
  const auto m = files.evaluate(bad.gt, bad.tracker);
  ASSERT_FALSE(m.ok());
  const std::string path = bad.tracker_is_bad ? files.tracker() : files.gt();
  const std::string want = path + ":" + std::to_string(bad.line) + ": " + bad.message;
  EXPECT_NE(m.status().message().find(want), std::string::npos)
      << "got: " << m.status().message() << "\nwant: " << want;
}

constexpr const char* kGoodGt = "1,5,0,0,10,10,1,1,1\n";
constexpr const char* kGoodTracker = "1,1,0,0,10,10,1,-1,-1,-1\n";

INSTANTIATE_TEST_SUITE_P(
    Errors, MotMalformed,
    ::testing::Values(
        BadInput{"TrackerFieldCount", kGoodGt, "1,1,0,0,10,10,1,-1,-1,-1\n1,2,0,0,10,10\n", true, 2,
                 "expected 10 comma-separated fields (frame,id,x,y,w,h,conf,wx,wy,wz), got 6"},
        BadInput{"GtFieldCount", "1,5,0,0,10,10,1,1,1,1\n", kGoodTracker, false, 1,
                 "expected 9 comma-separated fields"},
        BadInput{"NonNumericCoordinate", kGoodGt, "1,1,0,abc,10,10,1,-1,-1,-1\n", true, 1,
                 "field 4 (y) is not a finite number: 'abc'"},
        BadInput{"NanCoordinate", "1,5,nan,0,10,10,1,1,1\n", kGoodTracker, false, 1,
                 "field 3 (x) is not a finite number: 'nan'"},
        BadInput{"EmptyField", "1,5,0,0,,10,1,1,1\n", kGoodTracker, false, 1,
                 "field 5 (w) is not a finite number: ''"},
        BadInput{"NegativeWidth", kGoodGt, "1,1,0,0,-3,10,1,-1,-1,-1\n", true, 1,
                 "box width and height must be >= 0, got w=-3 h=10"},
        BadInput{"NegativeHeight", "\n1,5,0,0,10,-0.5,1,1,1\n", kGoodTracker, false, 2,
                 "box width and height must be >= 0, got w=10 h=-0.5"},
        BadInput{"FrameZero", "0,5,0,0,10,10,1,1,1\n", kGoodTracker, false, 1,
                 "frame must be an integer >= 1, got '0'"},
        BadInput{"FrameNotInteger", kGoodGt, "1.5,1,0,0,10,10,1,-1,-1,-1\n", true, 1,
                 "frame must be an integer >= 1, got '1.5'"},
        BadInput{"NegativeId", kGoodGt, "1,-1,0,0,10,10,1,-1,-1,-1\n", true, 1,
                 "id must be an integer >= 0, got '-1'"},
        BadInput{"DuplicateIdInFrame", kGoodGt,
                 "1,1,0,0,10,10,1,-1,-1,-1\n2,1,0,0,10,10,1,-1,-1,-1\n1,1,5,5,10,10,1,-1,-1,-1\n",
                 true, 3, "id 1 appears twice in frame 1 (also on line 1)"}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return info.param.name; });

TEST(MotMalformedFile, MissingFileIsNamed) {
  const std::string missing = "/nonexistent/iris/gt.txt";
  const auto m = evaluate_mot(missing, missing);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("'" + missing + "'"), std::string::npos)
      << m.status().message();
}

}  // namespace
}  // namespace iris::eval
