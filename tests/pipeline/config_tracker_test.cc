// The `tracker` section of a pipeline config: both types, their keys, ranges and messages.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "pipeline/config.h"
#include "pipeline/config_test_support.h"
#include "support/support.h"

namespace iris::pipeline {
namespace {

// One stream named cam reading the stand-in video, with `tracker_line` under it (line 5).
class ConfigTrackerTest : public VideoConfigTest {
 protected:
  static std::string stream_with(const std::string& tracker_line) {
    return "defaults: {detector: {type: hog}}\nstreams:\n  - name: cam\n    url: VIDEO\n    " +
           tracker_line + "\n";
  }
  Result<PipelineSpec> parse_tracker(const std::string& tracker_line) const {
    return parse(stream_with(tracker_line));
  }
  std::string tracker_errors(const std::string& tracker_line) const {
    return errors(stream_with(tracker_line));
  }
};

TEST_F(ConfigTrackerTest, ByteTrackWithEveryKey) {
  const Result<PipelineSpec> result = parse_tracker(
      "tracker: {type: bytetrack, high_score: 0.6, low_score: 0.2, new_track_score: 0.7, "
      "match_iou: 0.25, low_match_iou: 0.4, unconfirmed_match_iou: 0.35, max_age: 2.5, "
      "min_hits: 3, appearance_weight: 0.4}");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const track::TrackerSpec& spec = result->streams.at(0).tracker;
  ASSERT_TRUE(std::holds_alternative<track::ByteTrackSpec>(spec));
  const auto& bt = std::get<track::ByteTrackSpec>(spec);
  EXPECT_DOUBLE_EQ(bt.high_score, 0.6);
  EXPECT_DOUBLE_EQ(bt.low_score, 0.2);
  EXPECT_DOUBLE_EQ(bt.new_track_score, 0.7);
  EXPECT_DOUBLE_EQ(bt.match_iou, 0.25);
  EXPECT_DOUBLE_EQ(bt.low_match_iou, 0.4);
  EXPECT_DOUBLE_EQ(bt.unconfirmed_match_iou, 0.35);
  EXPECT_DOUBLE_EQ(bt.max_age, 2.5);
  EXPECT_EQ(bt.min_hits, 3);
  EXPECT_DOUBLE_EQ(bt.appearance_weight, 0.4);
}

TEST_F(ConfigTrackerTest, ByteTrackDefaultsAreThePapers) {
  const Result<PipelineSpec> result = parse_tracker("tracker: {type: bytetrack}");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const auto& bt = std::get<track::ByteTrackSpec>(result->streams.at(0).tracker);
  EXPECT_DOUBLE_EQ(bt.high_score, 0.5);
  EXPECT_DOUBLE_EQ(bt.low_score, 0.1);
  EXPECT_DOUBLE_EQ(bt.new_track_score, 0.6);
  EXPECT_DOUBLE_EQ(bt.match_iou, 0.2);
  EXPECT_DOUBLE_EQ(bt.low_match_iou, 0.5);
  EXPECT_DOUBLE_EQ(bt.unconfirmed_match_iou, 0.3);
  EXPECT_DOUBLE_EQ(bt.max_age, 1.0);
  EXPECT_EQ(bt.min_hits, 2);
  EXPECT_DOUBLE_EQ(bt.appearance_weight, 0);
}

TEST_F(ConfigTrackerTest, NoTrackerMeansSort) {
  const Result<PipelineSpec> result = parse_tracker("loop: false");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(std::holds_alternative<track::SortSpec>(result->streams.at(0).tracker));
}

TEST_F(ConfigTrackerTest, StreamTrackerReplacesTheDefaultsOneWhateverItsType) {
  const Result<PipelineSpec> result = parse(
      "defaults:\n  detector: {type: hog}\n  tracker: {type: bytetrack, min_hits: 4}\nstreams:\n"
      "  - {name: a, url: VIDEO}\n  - {name: b, url: VIDEO, tracker: {type: sort}}\n");
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_TRUE(std::holds_alternative<track::ByteTrackSpec>(result->streams.at(0).tracker));
  EXPECT_EQ(std::get<track::ByteTrackSpec>(result->streams.at(0).tracker).min_hits, 4);
  ASSERT_TRUE(std::holds_alternative<track::SortSpec>(result->streams.at(1).tracker));
  EXPECT_EQ(std::get<track::SortSpec>(result->streams.at(1).tracker).min_hits,
            track::SortSpec{}.min_hits);
}

TEST_F(ConfigTrackerTest, ByteTrackValuesOutOfRange) {
  struct Case {
    std::string keys;  // after "type: bytetrack, "
    std::string expected;
  };
  const Case cases[] = {
      {"high_score: 0",
       "test.yaml:5:44: streams[0].tracker.high_score: 0 is out of range; it "
       "must be in (0, 1]"},
      {"low_score: -0.1",
       "test.yaml:5:43: streams[0].tracker.low_score: -0.1 is out of range; "
       "it must be in [0, 1]"},
      {"new_track_score: 1.5",
       "streams[0].tracker.new_track_score: 1.5 is out of range; it must be in [0, 1]"},
      {"match_iou: 0", "streams[0].tracker.match_iou: 0 is out of range; it must be in (0, 1]"},
      {"low_match_iou: 1.1",
       "streams[0].tracker.low_match_iou: 1.1 is out of range; it must be in (0, 1]"},
      {"unconfirmed_match_iou: 0",
       "streams[0].tracker.unconfirmed_match_iou: 0 is out of range; it must be in (0, 1]"},
      {"max_age: 0", "streams[0].tracker.max_age: 0 is out of range; it must be > 0"},
      {"min_hits: 0", "streams[0].tracker.min_hits: 0 is out of range; it must be >= 1"},
      {"appearance_weight: 1.01",
       "streams[0].tracker.appearance_weight: 1.01 is out of range; it must be in [0, 1]"},
      {"min_hits: 2.5", "streams[0].tracker.min_hits: expected a whole number"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.keys);
    const std::string message = tracker_errors("tracker: {type: bytetrack, " + c.keys + "}");
    EXPECT_TRUE(contains(message, "test.yaml:5:"));
    EXPECT_TRUE(contains(message, c.expected));
  }
}

TEST_F(ConfigTrackerTest, ScoreThresholdsMustStayOrdered) {
  // Both given: the message points at the lower one.
  EXPECT_TRUE(
      contains(tracker_errors("tracker: {type: bytetrack, high_score: 0.5, low_score: 0.6}"),
               "test.yaml:5:60: streams[0].tracker.low_score: 0.6 is above high_score "
               "0.5; low_score must be at most high_score"));
  // Only one given: the message points at it and says the other is the default.
  EXPECT_TRUE(contains(tracker_errors("tracker: {type: bytetrack, high_score: 0.05}"),
                       "test.yaml:5:44: streams[0].tracker.high_score: 0.05 is below low_score "
                       "0.1 (the default); high_score must be at least low_score"));
  EXPECT_TRUE(contains(tracker_errors("tracker: {type: bytetrack, high_score: 0.7}"),
                       "test.yaml:5:44: streams[0].tracker.high_score: 0.7 is above "
                       "new_track_score 0.6 (the default); high_score must be at most "
                       "new_track_score"));
  EXPECT_TRUE(contains(tracker_errors("tracker: {type: bytetrack, new_track_score: 0.4}"),
                       "test.yaml:5:49: streams[0].tracker.new_track_score: 0.4 is below "
                       "high_score 0.5 (the default); new_track_score must be at least "
                       "high_score"));
}

TEST_F(ConfigTrackerTest, BoundaryValuesAreAccepted) {
  const Result<PipelineSpec> result = parse_tracker(
      "tracker: {type: bytetrack, high_score: 1, low_score: 1, new_track_score: 1, match_iou: 1, "
      "low_match_iou: 1, unconfirmed_match_iou: 1, min_hits: 1, appearance_weight: 1}");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const Result<PipelineSpec> low = parse_tracker(
      "tracker: {type: bytetrack, high_score: 0.001, low_score: 0, new_track_score: 0.001, "
      "max_age: 0.001, appearance_weight: 0}");
  ASSERT_TRUE(low.ok()) << low.status().message();
}

TEST_F(ConfigTrackerTest, KeyOfTheOtherTrackerSaysWhy) {
  EXPECT_TRUE(contains(tracker_errors("tracker: {type: bytetrack, iou_threshold: 0.3}"),
                       "test.yaml:5:32: streams[0].tracker.iou_threshold: key 'iou_threshold' "
                       "does not apply in streams[0].tracker: it is a sort tracker key and this "
                       "one has type: bytetrack; allowed keys: type, high_score, low_score,"));
  EXPECT_TRUE(
      contains(tracker_errors("tracker: {type: sort, low_score: 0.1, appearance_weight: 0.5}"),
               "test.yaml:5:27: streams[0].tracker.low_score: key 'low_score' does not "
               "apply in streams[0].tracker: it is a bytetrack tracker key and this one "
               "has type: sort; allowed keys: type, max_age, min_hits, iou_threshold"));
  EXPECT_TRUE(
      contains(tracker_errors("tracker: {type: sort, low_score: 0.1, appearance_weight: 0.5}"),
               "streams[0].tracker.appearance_weight: key 'appearance_weight' does not "
               "apply in streams[0].tracker: it is a bytetrack tracker key"));
}

TEST_F(ConfigTrackerTest, MisspelledKeyGetsASuggestion) {
  EXPECT_TRUE(contains(tracker_errors("tracker: {type: bytetrack, match_iuo: 0.3}"),
                       "streams[0].tracker.match_iuo: unknown key 'match_iuo' in "
                       "streams[0].tracker (did you mean 'match_iou'?)"));
}

TEST_F(ConfigTrackerTest, UnknownTrackerTypeListsBoth) {
  EXPECT_TRUE(contains(tracker_errors("tracker: {type: deepsort}"),
                       "test.yaml:5:21: streams[0].tracker.type: unknown tracker type "
                       "'deepsort'; choose one of: sort, bytetrack"));
}

}  // namespace
}  // namespace iris::pipeline
