#include "eval/synth.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "detect/detector.h"
#include "support/support.h"
#include "video/source.h"

namespace iris::eval {
namespace {

constexpr const char* kTextFiles[] = {"gt.txt", "gt_coco.json", "truth.json", "detections.txt",
                                      "pipeline.yaml"};

SynthOptions small(uint64_t seed, double duration = 8) {
  SynthOptions o;
  o.seed = seed;
  o.duration = duration;
  o.width = 320;
  o.height = 240;
  return o;
}

std::map<std::string, std::string> text_files(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const char* name : kTextFiles) files[name] = testing::read_file(dir + "/" + name);
  return files;
}

TEST(Synth, SameSeedGivesByteIdenticalFilesAndAnotherSeedDiffers) {
  testing::TempDir dir;
  ASSERT_TRUE(synthesize(small(5), dir.path(), nullptr).ok());
  const auto first = text_files(dir.path());
  ASSERT_TRUE(synthesize(small(5), dir.path(), nullptr).ok());
  const auto again = text_files(dir.path());
  for (const char* name : kTextFiles) {
    EXPECT_FALSE(first.at(name).empty()) << name;
    EXPECT_EQ(first.at(name), again.at(name)) << name;
  }
  ASSERT_TRUE(synthesize(small(6), dir.path(), nullptr).ok());
  const auto other = text_files(dir.path());
  for (const char* name : {"gt.txt", "truth.json", "detections.txt"}) {
    EXPECT_NE(first.at(name), other.at(name)) << name;
  }
}

// Mean BGR of the 3x3 pixels around (x, y).
cv::Vec3d mean_at(const cv::Mat& bgr, int x, int y) {
  const cv::Scalar m = cv::mean(bgr(cv::Rect(x - 1, y - 1, 3, 3)));
  return {m[0], m[1], m[2]};
}

TEST(Synth, GtBoxesAreWhereTheVideoShowsTheObjects) {
  testing::TempDir dir;
  const SynthOptions o = small(2, 20);
  ASSERT_TRUE(synthesize(o, dir.path(), nullptr).ok());
  auto scene = make_scene(o);
  ASSERT_TRUE(scene.ok());
  const auto gt = ground_truth(*scene);
  std::map<int, const SceneObject*> objects;
  for (const SceneObject& obj : scene->objects) objects[obj.id] = &obj;

  auto src = video::Source::open({.url = dir.file("video.mp4")});
  ASSERT_TRUE(src.ok()) << src.status().message();
  int64_t frame = 0, checked = 0, wrong = 0;
  for (;; ++frame) {
    auto f = (*src)->read();
    ASSERT_TRUE(f.ok()) << f.status().message();
    if (!f->has_value()) break;
    ASSERT_LT(frame, scene->frames);
    EXPECT_NEAR((*f)->pts, scene->time_of(frame), 1e-3);
    const cv::Mat& bgr = (*f)->bgr();
    for (const GtBox& g : gt[frame]) {
      if (g.visibility < 1 || g.box.width() < 6 || g.box.height() < 12) continue;
      // The body colour, in the light of that moment, covers the centre of a fully visible box.
      const Point c = g.box.center();
      const double light = scene->lighting(scene->time_of(frame), c);
      const cv::Scalar& want = objects.at(g.object_id)->colour;
      const cv::Vec3d got = mean_at(bgr, static_cast<int>(c.x), static_cast<int>(c.y));
      double diff = 0;
      for (int k = 0; k < 3; ++k) {
        diff = std::max(diff, std::abs(got[k] - std::min(255.0, want[k] * light)));
      }
      ++checked;
      if (diff > 30) {
        ++wrong;
        ADD_FAILURE() << "frame " << frame + 1 << " object " << g.object_id << ": centre colour "
                      << got << " is not the body colour " << want * light;
      }
    }
  }
  EXPECT_EQ(frame, scene->frames);
  EXPECT_GT(checked, 200);
  EXPECT_EQ(wrong, 0);
}

TEST(Synth, TruthFollowsThePaths) {
  SynthOptions o = small(3, 60);
  auto scene = make_scene(o);
  ASSERT_TRUE(scene.ok()) << scene.status().message();
  const auto gt = ground_truth(*scene);
  const auto events = rule_truth(*scene, gt);
  std::map<std::string, const SceneRule*> rules;
  for (const SceneRule& r : scene->rules) rules[r.name] = &r;
  // The feet of each object on each frame it is in.
  std::map<int, std::map<int64_t, Point>> feet;
  for (size_t f = 0; f < gt.size(); ++f) {
    for (const GtBox& g : gt[f]) feet[g.object_id][f] = {(g.box.x1 + g.box.x2) / 2, g.box.y2};
  }

  std::map<std::string, int> types;
  std::map<int, std::vector<const TruthEvent*>> gate_by_object;
  for (const TruthEvent& e : events) {
    ++types[e.type];
    ASSERT_TRUE(rules.count(e.rule)) << e.rule;
    EXPECT_DOUBLE_EQ(e.media_time, scene->time_of(e.frame));
    if (e.type != "line_cross") continue;
    const auto& line = std::get<SynthLine>(rules.at(e.rule)->shape);
    // Both lines are vertical and drawn downwards: side A is left of them.
    ASSERT_EQ(line.a.x, line.b.x);
    const Point now = feet.at(e.object_id).at(e.frame);
    if (e.direction == "A->B") {
      EXPECT_GE(now.x, line.a.x + line.margin) << "frame " << e.frame;
    } else {
      EXPECT_EQ(e.direction, "B->A");
      EXPECT_LE(now.x, line.a.x - line.margin) << "frame " << e.frame;
    }
    // It was on the other side before.
    bool was_other_side = false;
    for (const auto& [f, p] : feet.at(e.object_id)) {
      if (f >= e.frame) break;
      was_other_side |= e.direction == "A->B" ? p.x < line.a.x : p.x > line.a.x;
    }
    EXPECT_TRUE(was_other_side) << "frame " << e.frame;
    if (e.rule == "gate") gate_by_object[e.object_id].push_back(&e);
  }
  // Every object that ends on the other side of the gate (within its height) crossed it an odd
  // number of times, in alternating directions.
  const auto& gate = std::get<SynthLine>(rules.at("gate")->shape);
  for (const auto& [id, path] : feet) {
    const Point first = path.begin()->second, last = path.rbegin()->second;
    const bool within = std::all_of(path.begin(), path.end(), [&](const auto& fp) {
      return fp.second.y > gate.a.y + 2 && fp.second.y < gate.b.y - 2;
    });
    const bool changed = (first.x < gate.a.x) != (last.x < gate.a.x);
    const auto& crossings = gate_by_object[id];
    if (within && changed && std::abs(first.x - gate.a.x) > gate.margin &&
        std::abs(last.x - gate.a.x) > gate.margin) {
      EXPECT_EQ(crossings.size() % 2, 1u) << "object " << id;
    }
    for (size_t i = 1; i < crossings.size(); ++i) {
      EXPECT_NE(crossings[i]->direction, crossings[i - 1]->direction) << "object " << id;
    }
  }
  // Zone visits pair up: an enter, then an exit with the time between as its duration.
  std::map<int, const TruthEvent*> open;
  for (const TruthEvent& e : events) {
    if (e.type == "zone_enter") {
      EXPECT_FALSE(open.count(e.object_id));
      open[e.object_id] = &e;
    } else if (e.type == "zone_exit") {
      ASSERT_TRUE(open.count(e.object_id)) << "exit without enter, object " << e.object_id;
      EXPECT_GT(e.frame, open[e.object_id]->frame);
      EXPECT_GE(*e.duration, 0.5 - 1e-9);  // at least min_dwell
      open.erase(e.object_id);
    }
  }
  // Visits still open are of objects there until the last two seconds.
  for (const auto& [id, enter] : open) {
    EXPECT_GT(scene->time_of(feet.at(id).rbegin()->first), scene->time_of(scene->frames - 1) - 2)
        << "object " << id << " entered at frame " << enter->frame << " and never left";
  }
  // The mixed scene has every kind of event.
  for (const char* type : {"line_cross", "zone_enter", "zone_exit", "loiter_start", "loiter_end",
                           "crowd_start", "crowd_end"}) {
    EXPECT_GT(types[type], 0) << type;
  }
}

TEST(Synth, DetectionNoiseIsNearTheRequestedRates) {
  SynthOptions o = small(4, 300);
  o.miss_rate = 0.2;
  o.fp_rate = 0.1;
  o.jitter = 2;
  o.score_noise = 0.1;
  auto scene = make_scene(o);
  ASSERT_TRUE(scene.ok());
  const auto gt = ground_truth(*scene);
  const auto dets = noisy_detections(*scene, o, gt);
  int64_t detectable = 0, found = 0, fp = 0, standee_frames = 0, last_standee = -1;
  double dx2 = 0, ds2 = 0;
  int64_t n_box = 0;
  for (size_t f = 0; f < gt.size(); ++f) {
    for (const GtBox& g : gt[f]) detectable += g.visibility >= kDetectableVisibility;
    for (const SynthDetection& d : dets[f]) {
      if (d.kind != DetectionKind::kTrue) {
        ++fp;
        if (d.kind == DetectionKind::kStandee) {
          // The standee is seen on consecutive frames, at its place.
          if (last_standee >= 0) {
            EXPECT_EQ(last_standee + 1, static_cast<int64_t>(f));
          }
          last_standee = static_cast<int64_t>(f);
          ++standee_frames;
          const Point c = d.box.center(), want = scene->standee.center();
          EXPECT_LT(std::hypot(c.x - want.x, c.y - want.y), 5 * o.jitter);
        }
        continue;
      }
      ++found;
      // The gt box it came from: the best overlap in its frame.
      const GtBox* best = nullptr;
      for (const GtBox& g : gt[f]) {
        if (!best || iou(d.box, g.box) > iou(d.box, best->box)) best = &g;
      }
      ASSERT_NE(best, nullptr);
      const Box& b = best->box;
      if (b.x1 > 10 && b.x2 < o.width - 10 && b.y1 > 10 && b.y2 < o.height - 10) {
        dx2 += (d.box.x1 - b.x1) * (d.box.x1 - b.x1);
        const double s = d.score - (0.5 + 0.3 * best->visibility);
        ds2 += s * s;
        ++n_box;
      }
    }
  }
  ASSERT_GT(detectable, 5000);
  EXPECT_NEAR(1.0 - static_cast<double>(found) / detectable, 0.2, 0.03);
  EXPECT_NEAR(static_cast<double>(fp) / detectable, 0.1, 0.002);
  EXPECT_GT(standee_frames, 100);
  EXPECT_NEAR(std::sqrt(dx2 / n_box), 2, 0.2);
  EXPECT_NEAR(std::sqrt(ds2 / n_box), 0.1, 0.01);
}

TEST(Synth, WithoutNoiseTheDetectionsAreTheVisibleGroundTruth) {
  SynthOptions o = small(7, 30);
  o.miss_rate = o.fp_rate = o.jitter = o.score_noise = 0;
  auto scene = make_scene(o);
  ASSERT_TRUE(scene.ok());
  const auto gt = ground_truth(*scene);
  const auto dets = noisy_detections(*scene, o, gt);
  for (size_t f = 0; f < gt.size(); ++f) {
    std::vector<Box> want;
    for (const GtBox& g : gt[f]) {
      if (g.visibility >= kDetectableVisibility) want.push_back(g.box);
    }
    ASSERT_EQ(dets[f].size(), want.size()) << "frame " << f + 1;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(dets[f][i].box, want[i]);
  }
}

TEST(Synth, FilesAgreeWithEachOther) {
  testing::TempDir dir;
  const SynthOptions o = small(8, 10);
  auto summary = synthesize(o, dir.path(), nullptr);
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  // detections.txt replays with the classes pipeline.yaml gives it.
  auto replay = detect::load_replay(dir.file("detections.txt"), {"person", "bicycle", "car"});
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  int64_t replayed = 0;
  for (const auto& [frame, dets] : **replay) replayed += static_cast<int64_t>(dets.size());
  EXPECT_EQ(replayed, summary->true_detections + summary->flicker + summary->standee);
  EXPECT_EQ(static_cast<int64_t>(testing::read_lines(dir.file("gt.txt")).size()),
            summary->gt_boxes);
  const auto coco = nlohmann::json::parse(testing::read_file(dir.file("gt_coco.json")));
  EXPECT_EQ(coco["images"].size(), 100u);
  EXPECT_EQ(static_cast<int64_t>(coco["annotations"].size()), summary->detectable);
  EXPECT_EQ(coco["categories"][0]["name"], "person");
  const auto truth = nlohmann::json::parse(testing::read_file(dir.file("truth.json")));
  EXPECT_EQ(truth["streams"][0]["name"], "synth");
  EXPECT_DOUBLE_EQ(truth["streams"][0]["duration"].get<double>(), 10);
  EXPECT_EQ(truth["events"].size(), summary->events.size());
  const std::string yaml = testing::read_file(dir.file("pipeline.yaml"));
  EXPECT_NE(yaml.find("path: " + dir.file("detections.txt")), std::string::npos) << yaml;
}

TEST(Synth, BadOptionsNameTheOption) {
  SynthOptions o;
  o.miss_rate = 1;
  EXPECT_EQ(make_scene(o).status().message(), "--miss-rate must be in [0, 1)");
  o = {};
  o.width = 641;
  EXPECT_NE(make_scene(o).status().message().find("--size"), std::string::npos);
  o = {};
  o.scenario = "zoo";
  EXPECT_EQ(make_scene(o).status().message(),
            "unknown scenario 'zoo'; choose one of: mixed, basic, gathering");
}

}  // namespace
}  // namespace iris::eval
