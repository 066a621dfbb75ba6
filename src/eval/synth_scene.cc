// Scenes: the scenarios' objects on their routes, the rules and occluders, and where everything is
// at a given time.
#include <algorithm>
#include <cmath>

#include "core/text.h"
#include "eval/synth_internal.h"

namespace iris::eval {
namespace synth_internal {

const ClassLook& look(ObjectClass c) {
  static const ClassLook kPerson{34,
                                 86,
                                 {{40, 40, 220},
                                  {200, 90, 30},
                                  {60, 180, 60},
                                  {40, 210, 230},
                                  {180, 60, 200},
                                  {30, 130, 240},
                                  {170, 170, 20},
                                  {140, 40, 110}},
                                 {{50, 40, 30}, {90, 60, 40}, {40, 40, 40}, {110, 100, 90}}};
  static const ClassLook kBicycle{
      62, 64, {{0, 220, 255}, {50, 220, 150}, {180, 120, 255}}, {{200, 200, 40}, {40, 40, 200}}};
  static const ClassLook kCar{
      150,
      60,
      {{235, 235, 235}, {30, 30, 200}, {160, 70, 20}, {40, 160, 220}, {60, 130, 40}},
      {{110, 90, 70}}};
  switch (c) {
    case ObjectClass::kBicycle:
      return kBicycle;
    case ObjectClass::kCar:
      return kCar;
    case ObjectClass::kPerson:
      break;
  }
  return kPerson;
}

std::vector<Drawable> drawables_at(const Scene& s, int64_t frame) {
  std::vector<Drawable> out;
  for (const Occluder& o : s.occluders) out.push_back({o.box.y2, 0, o.box, nullptr, &o});
  const double t = s.time_of(frame);
  for (const SceneObject& o : s.objects) {
    if (auto box = s.box_at(o, t)) out.push_back({box->y2, o.id, *box, &o, nullptr});
  }
  std::sort(out.begin(), out.end(), [](const Drawable& a, const Drawable& b) {
    return a.base != b.base ? a.base < b.base : a.order < b.order;
  });
  return out;
}

}  // namespace synth_internal

namespace {

using synth_internal::ClassLook;
using synth_internal::look;
using synth_internal::Rng;
using synth_internal::stream;

constexpr double kFarLane = 0.375, kNearLane = 0.485;  // feet of the cars on each lane

// Builds a scene: objects on routes, rules and occluders, in frame coordinates.
class Builder {
 public:
  Builder(Scene* scene, Rng* rng, double duration)
      : scene_(scene), rng_(rng), duration_(duration), unit_(scene->height / 480.0) {}

  double width() const { return scene_->width; }
  double height() const { return scene_->height; }
  Point at(double u, double v) const { return {u * width(), v * height()}; }
  Rng& rng() { return *rng_; }

  // Feet x just outside the left or right edge for an object of class c with feet at y.
  double off_left(ObjectClass c, double y) const { return -half_width(c, y) - 2; }
  double off_right(ObjectClass c, double y) const { return width() + half_width(c, y) + 2; }
  // Feet y just below the bottom edge.
  double off_bottom(ObjectClass c) const { return height() + look(c).height * unit_ * 1.2 + 2; }

  struct Stop {
    Point at;
    double pause = 0;  // seconds standing there
  };
  // An object on a route from `from` at t0 through `stops` at `speed` (fraction of the frame
  // width per second); the clip may end before it does. One starting outside the clip is left out.
  void add(ObjectClass c, double t0, Point from, double speed, const std::vector<Stop>& stops) {
    SceneObject o;
    o.cls = c;
    const ClassLook& l = look(c);
    const double size = rng_->uniform(0.92, 1.08);
    o.width = l.width * unit_ * size;
    o.height = l.height * unit_ * size;
    o.colour = l.colours[rng_->below(static_cast<int>(l.colours.size()))];
    o.accent = l.accents[rng_->below(static_cast<int>(l.accents.size()))];
    const double px_per_s = speed * width();
    double t = t0;
    Point p = from;
    o.path.push_back({t, p});
    for (const Stop& s : stops) {
      t += std::hypot(s.at.x - p.x, s.at.y - p.y) / px_per_s;
      p = s.at;
      o.path.push_back({t, p});
      if (s.pause > 0) {
        t += s.pause;
        o.path.push_back({t, p});
      }
    }
    if (t0 >= 0 && t0 < duration_) {
      o.id = static_cast<int>(scene_->objects.size()) + 1;
      scene_->objects.push_back(std::move(o));
    }
  }

  // Rounded to whole pixels, so the config and the truth use the same numbers.
  std::vector<Point> rect(double u1, double v1, double u2, double v2) const {
    return {px(u1, v1), px(u2, v1), px(u2, v2), px(u1, v2)};
  }
  Point px(double u, double v) const { return {std::round(u * width()), std::round(v * height())}; }
  double margin() const { return std::max(2.0, std::round(4 * unit_)); }

  void occluder(double u1, double v1, double u2, double v2, cv::Scalar colour) {
    const Point a = px(u1, v1), b = px(u2, v2);
    scene_->occluders.push_back({Box{a.x, a.y, b.x, b.y}, colour});
  }
  void rule(std::string name, std::vector<std::string> classes, decltype(SceneRule::shape) shape) {
    scene_->rules.push_back({std::move(name), std::move(classes), std::move(shape)});
  }

 private:
  double half_width(ObjectClass c, double y) const {
    return look(c).width * unit_ * 1.1 * scene_->scale_at(y) / 2;
  }

  Scene* scene_;
  Rng* rng_;
  double duration_;
  double unit_;
};

// ---- Episodes: small scripted stories a scenario schedules. ----

constexpr double kWalk = 0.11;  // walking speed, frame widths per second

// A person crossing the whole frame, left to right or back, drifting from v0 to v1.
void walker(Builder& b, double t0, bool rightwards, double v0, double v1, double speed) {
  const ObjectClass c = ObjectClass::kPerson;
  const double y0 = v0 * b.height(), y1 = v1 * b.height();
  const Point from{rightwards ? b.off_left(c, y0) : b.off_right(c, y0), y0};
  const Point to{rightwards ? b.off_right(c, y1) : b.off_left(c, y1), y1};
  b.add(c, t0, from, speed, {{to}});
}

// Two people walking towards each other on nearly the same line: they pass, one hiding the other.
void passing_pair(Builder& b, double t0) {
  Rng& r = b.rng();
  const double v = r.uniform(0.60, 0.95), speed = r.uniform(0.9, 1.2) * kWalk;
  const double meet = r.uniform(0.25, 0.75) * b.width();
  const ObjectClass c = ObjectClass::kPerson;
  const double y = v * b.height();
  const double x0 = b.off_left(c, y);
  walker(b, t0, true, v, v, speed);
  const double t_meet = t0 + (meet - x0) / (speed * b.width());
  const double other_speed = r.uniform(0.9, 1.2) * kWalk;
  const double y2 = y + r.uniform(0.008, 0.02) * b.height();
  const double t1 = t_meet - (b.off_right(c, y2) - meet) / (other_speed * b.width());
  walker(b, t1, false, y2 / b.height(), y2 / b.height(), other_speed);
}

// Someone who walks into the yard from the right, lingers a few seconds and leaves.
void yard_visit(Builder& b, double t0, double stay) {
  Rng& r = b.rng();
  const ObjectClass c = ObjectClass::kPerson;
  // Separate statements: the order of argument evaluation is unspecified, the seed's meaning not.
  const double v = r.uniform(0.68, 0.80);
  const double u = r.uniform(0.70, 0.82);
  const Point spot = b.at(u, v + r.uniform(-0.02, 0.02));
  const Point shuffle{spot.x + r.uniform(-0.01, 0.01) * b.width(), spot.y + 2};
  const double y_out = (v + r.uniform(-0.03, 0.03)) * b.height();
  b.add(c, t0, {b.off_right(c, v * b.height()), v * b.height()}, kWalk,
        {{spot, stay / 2}, {shuffle, stay / 2}, {{b.off_right(c, y_out), y_out}}});
}

void car(Builder& b, double t0, bool far_lane) {
  const ObjectClass c = ObjectClass::kCar;
  const double y = (far_lane ? kFarLane : kNearLane) * b.height();
  const double speed = b.rng().uniform(0.22, 0.32);
  const Point left{b.off_left(c, y), y}, right{b.off_right(c, y), y};
  b.add(c, t0, far_lane ? left : right, speed, {{far_lane ? right : left}});
}

void bicycle(Builder& b, double t0) {
  Rng& r = b.rng();
  const ObjectClass c = ObjectClass::kBicycle;
  const double y = r.uniform(0.90, 0.98) * b.height();
  const bool rightwards = r.chance(0.5);
  const Point left{b.off_left(c, y), y}, right{b.off_right(c, y), y};
  b.add(c, t0, rightwards ? left : right, r.uniform(0.16, 0.22), {{rightwards ? right : left}});
}

// Someone who hangs about the bench for a long while, stepping out briefly once, and later someone
// who only sits there for a moment (no loitering).
void loiter_episode(Builder& b, double t0) {
  Rng& r = b.rng();
  const ObjectClass c = ObjectClass::kPerson;
  const double slow = 0.6 * kWalk;
  const double y = 0.74 * b.height();
  b.add(c, t0, {b.off_left(c, y), y}, slow,
        {{b.at(0.12, 0.73), r.uniform(4, 6)},
         {b.at(0.16, 0.77), r.uniform(3, 5)},
         {b.at(0.25, 0.75), 0.3},  // a step out of the zone, shorter than its max_gap
         {b.at(0.14, 0.72), r.uniform(5, 8)},
         {{b.off_left(c, 0.80 * b.height()), 0.80 * b.height()}}});
  const double y2 = 0.66 * b.height(), y3 = 0.64 * b.height();
  const double arrive = t0 + r.uniform(24, 28);
  b.add(c, arrive, {b.off_left(c, y2), y2}, kWalk,
        {{b.at(0.10, 0.69), r.uniform(3, 5)}, {{b.off_left(c, y3), y3}}});
}

// Five people gather in the plaza, stand together for a while and go their ways.
void crowd_episode(Builder& b, double t0) {
  Rng& r = b.rng();
  const ObjectClass c = ObjectClass::kPerson;
  const double spots[5][2] = {{0.30, 0.72}, {0.36, 0.70}, {0.42, 0.73}, {0.32, 0.86}, {0.40, 0.88}};
  const double leave = t0 + r.uniform(14, 17);
  for (int i = 0; i < 5; ++i) {
    const Point spot = b.at(spots[i][0], spots[i][1]);
    Point from;
    if (i == 0) {
      from = {b.off_left(c, spot.y), spot.y};
    } else if (i == 2) {
      from = {b.off_right(c, spot.y), spot.y};
    } else {
      from = {spot.x + r.uniform(-0.05, 0.05) * b.width(), b.off_bottom(c)};
    }
    const double arrive = t0 + 3 + 0.8 * i + r.uniform(0, 0.5);
    const double walk = std::hypot(spot.x - from.x, spot.y - from.y) / (kWalk * b.width());
    b.add(c, arrive - walk, from, kWalk, {{spot, leave + r.uniform(0, 2) - arrive}, {from}});
  }
}

// ---- Scenarios: the street's rules and a schedule of episodes. ----

void street_rules(Builder& b, bool gathering_rules, bool road_rule) {
  b.rule("gate", {}, SynthLine{b.px(0.52, 0.56), b.px(0.52, 0.99), b.margin()});
  if (road_rule) b.rule("road", {"car"}, SynthLine{b.px(0.30, 0.27), b.px(0.30, 0.51), b.margin()});
  b.rule("yard", {}, SynthZone{b.rect(0.62, 0.60, 0.92, 0.86), 0.5, 0.5});
  if (gathering_rules) {
    b.rule("bench", {"person"}, SynthLoiter{b.rect(0.04, 0.62, 0.22, 0.84), 8, 1.5});
    b.rule("plaza", {"person"}, SynthCrowd{b.rect(0.26, 0.62, 0.47, 0.97), 3, 2});
  }
}

// Everything at once: walkers at random, people passing each other, cars, bicycles, yard
// visitors, a loiterer and a crowd every minute, behind a pillar, a planter and a tree.
void mixed(Builder& b, double duration) {
  Rng& r = b.rng();
  street_rules(b, true, true);
  b.occluder(0.56, 0.36, 0.595, 0.74, {150, 150, 160});
  b.occluder(0.62, 0.88, 0.74, 0.96, {60, 120, 70});
  b.occluder(0.83, 0.16, 0.87, 0.53, {40, 80, 60});
  for (double t = r.uniform(0.5, 2); t < duration; t += r.uniform(2.5, 5.5)) {
    if (r.chance(0.2)) {
      passing_pair(b, t);
    } else {
      const bool rightwards = r.chance(0.5);
      const double v = r.uniform(0.56, 0.98);
      const double v_end = std::clamp(v + r.uniform(-0.08, 0.08), 0.56, 0.99);
      walker(b, t, rightwards, v, v_end, r.uniform(0.8, 1.3) * kWalk);
    }
  }
  for (double t = r.uniform(3, 8); t < duration; t += r.uniform(12, 20)) {
    yard_visit(b, t, r.uniform(2, 5));
  }
  bool far = true;
  for (double t = r.uniform(0.2, 2); t < duration; t += r.uniform(3, 7)) {
    car(b, t, far);
    far = !far;
  }
  for (double t = r.uniform(4, 10); t < duration; t += r.uniform(9, 16)) bicycle(b, t);
  for (double block = 0; block < duration; block += 60) {
    loiter_episode(b, block + 4);
    crowd_episode(b, block + 30);
  }
}

// One thing at a time, nothing hidden: a walker through the yard, a yard visitor, a walker the
// other way, and cars, every 30 s. Zone and line rules only.
void basic(Builder& b, double duration) {
  Rng& r = b.rng();
  street_rules(b, false, true);
  for (double block = 0; block < duration; block += 30) {
    walker(b, block + 1, true, 0.80 + r.uniform(-0.02, 0.02), 0.80, 1.2 * kWalk);
    yard_visit(b, block + 11, 3);
    walker(b, block + 20, false, 0.93, 0.93 + r.uniform(-0.02, 0.02), 1.2 * kWalk);
    for (int i = 0; i < 4; ++i) car(b, block + 1 + 7 * i + r.uniform(0, 1), i % 2 == 0);
  }
}

// Loitering and crowds only, every minute.
void gathering(Builder& b, double duration) {
  street_rules(b, true, false);
  for (double block = 0; block < duration; block += 60) {
    loiter_episode(b, block + 3);
    crowd_episode(b, block + 28);
  }
}

struct Scenario {
  const char* name;
  void (*build)(Builder&, double);
};
const Scenario kScenarios[] = {{"mixed", mixed}, {"basic", basic}, {"gathering", gathering}};

Status check_options(const SynthOptions& o) {
  auto bad = [](const std::string& what) { return Status::error(what); };
  if (!(o.duration > 0 && o.duration <= 86400)) return bad("--duration must be in (0, 86400] s");
  if (!(o.fps > 0 && o.fps <= 120)) return bad("--fps must be in (0, 120]");
  if (o.width < 64 || o.height < 64 || o.width > 4096 || o.height > 4096 || o.width % 2 ||
      o.height % 2) {
    return bad("--size must be WxH with even sides from 64 to 4096, e.g. 640x480");
  }
  if (!(o.miss_rate >= 0 && o.miss_rate < 1)) return bad("--miss-rate must be in [0, 1)");
  if (!(o.fp_rate >= 0 && o.fp_rate <= 10)) return bad("--fp-rate must be in [0, 10]");
  if (!(o.jitter >= 0 && o.jitter <= 50)) return bad("--jitter must be in [0, 50] pixels");
  if (!(o.score_noise >= 0 && o.score_noise <= 1)) return bad("--score-noise must be in [0, 1]");
  return Status();
}

}  // namespace

const char* class_name(ObjectClass c) {
  switch (c) {
    case ObjectClass::kBicycle:
      return "bicycle";
    case ObjectClass::kCar:
      return "car";
    case ObjectClass::kPerson:
      break;
  }
  return "person";
}

double Scene::time_of(int64_t frame) const {
  // As the video writer stores it: milliseconds, rounded.
  return static_cast<double>(std::llround(static_cast<double>(frame) / fps * 1000.0)) / 1000.0;
}

double Scene::scale_at(double y) const { return 0.55 + 0.55 * y / height; }

std::optional<Box> Scene::box_at(const SceneObject& o, double t) const {
  const std::vector<Keyframe>& p = o.path;
  if (p.empty() || t < p.front().t || t > p.back().t) return std::nullopt;
  size_t i = 1;
  while (i < p.size() - 1 && p[i].t < t) ++i;
  Point feet = p.front().feet;
  if (p.size() > 1) {
    const Keyframe& a = p[i - 1];
    const Keyframe& b = p[i];
    const double f = b.t > a.t ? (t - a.t) / (b.t - a.t) : 1.0;
    feet = {a.feet.x + f * (b.feet.x - a.feet.x), a.feet.y + f * (b.feet.y - a.feet.y)};
  }
  // Whole pixels: the box is exactly the pixels drawn.
  const double s = scale_at(feet.y);
  const double w = std::max(2.0, std::round(o.width * s));
  const double h = std::max(2.0, std::round(o.height * s));
  const double x1 = std::round(feet.x - w / 2), y2 = std::round(feet.y);
  return Box{x1, y2 - h, x1 + w, y2};
}

Result<Scene> make_scene(const SynthOptions& options) {
  if (Status s = check_options(options); !s) return s;
  const Scenario* scenario = std::ranges::find_if(
      kScenarios, [&](const Scenario& s) { return options.scenario == s.name; });
  if (scenario == std::end(kScenarios)) {
    return Status::error("unknown scenario '" + options.scenario + "'; choose one of: " +
                         join(kScenarios, ", ", [](const Scenario& s) { return s.name; }));
  }
  Scene scene;
  scene.scenario = scenario->name;
  scene.seed = options.seed;
  scene.width = options.width;
  scene.height = options.height;
  scene.fps = options.fps;
  scene.frames = std::max<int64_t>(1, std::llround(options.duration * options.fps));
  Rng rng = stream(options.seed, 1);
  Builder builder(&scene, &rng, scene.frames / scene.fps);
  // The cardboard figure stands in the yard, where a detector's false positive raises events.
  const Point feet = builder.at(0.87, 0.70);
  const double s = scene.scale_at(feet.y), unit = scene.height / 480.0;
  const double w = std::round(look(ObjectClass::kPerson).width * unit * s);
  const double h = std::round(look(ObjectClass::kPerson).height * unit * s);
  scene.standee = {std::round(feet.x - w / 2), std::round(feet.y) - h,
                   std::round(feet.x - w / 2) + w, std::round(feet.y)};
  scenario->build(builder, scene.frames / scene.fps);
  return scene;
}

}  // namespace iris::eval
