// Ground truth: which objects each frame shows and how much of each, and the events the scene's
// rules must raise, computed as the rules compute them.
#include <algorithm>
#include <map>
#include <set>

#include "core/text.h"
#include "eval/synth_internal.h"

namespace iris::eval {
namespace {

using synth_internal::Drawable;
using synth_internal::drawables_at;

// The rules compare durations with this slack (rules/rule_util.h); the truth must too.
constexpr double kTimeEpsilon = 1e-6;
// A pipeline ends a visit of an object that vanished once its tracker lets go of the track (after
// max_age, 1 s by default); for an object that vanished less than this long before the clip ends,
// that may not have happened, so the truth has no end event for its open visit either.
constexpr double kEndMargin = 2.0;

Point feet_of(const Box& b) { return anchor_point(b, Anchor::kBottomCenter); }

std::string label_of(ObjectClass c) { return class_name(c); }

bool selects(const SceneRule& rule, const std::string& label) {
  return rule.classes.empty() ||
         std::find(rule.classes.begin(), rule.classes.end(), label) != rule.classes.end();
}

// One object's boxes over the frames it is in.
struct ObjectTrack {
  int id = 0;
  std::string label;
  std::vector<std::pair<int64_t, Box>> boxes;
};

class TruthBuilder {
 public:
  TruthBuilder(const Scene& scene, std::vector<TruthEvent>* out) : scene_(scene), out_(out) {}

  TruthEvent& add(const SceneRule& rule, const char* type, int64_t frame, const ObjectTrack* o) {
    TruthEvent e;
    e.rule = rule.name;
    e.type = type;
    e.frame = frame;
    e.media_time = scene_.time_of(frame);
    if (o) {
      e.object_id = o->id;
      e.label = o->label;
    }
    out_->push_back(std::move(e));
    return out_->back();
  }

  // As rules/line.cc: a side counts once the anchor is `margin` away; a flip counts when the path
  // crossed the segment itself.
  void line(const SceneRule& rule, const SynthLine& l, const ObjectTrack& o) {
    std::optional<std::pair<bool, Point>> side;
    for (const auto& [frame, box] : o.boxes) {
      const Point p = feet_of(box);
      const double d = signed_distance(l.a, l.b, p);
      if (d == 0 || std::abs(d) < l.margin) continue;
      const bool a = d > 0;
      if (side && side->first != a && segments_intersect(side->second, p, l.a, l.b)) {
        add(rule, "line_cross", frame, &o).direction = a ? "B->A" : "A->B";
      }
      side = {a, p};
    }
  }

  // As rules/zone.cc: enter after min_dwell inside, exit at the first outside frame once the
  // object has stayed out for exit_grace; an object that vanishes inside exits where last seen.
  void zone(const SceneRule& rule, const SynthZone& z, const ObjectTrack& o) {
    struct Visit {
      double t_in = 0;
      bool entered = false, outside = false;
      int64_t out_frame = 0;
    };
    std::optional<Visit> v;
    auto exit = [&](int64_t frame) {
      add(rule, "zone_exit", frame, &o).duration = scene_.time_of(frame) - v->t_in;
      v.reset();
    };
    for (const auto& [frame, t, inside] : presence(z.polygon, o)) {
      if (!v) {
        if (!inside) continue;
        v = Visit{t};
      }
      if (inside) {
        v->outside = false;
        if (!v->entered && t - v->t_in >= z.min_dwell - kTimeEpsilon) {
          v->entered = true;
          add(rule, "zone_enter", frame, &o);
        }
        continue;
      }
      if (!v->outside) {
        v->outside = true;
        v->out_frame = frame;
      }
      if (t - scene_.time_of(v->out_frame) < z.exit_grace - kTimeEpsilon) continue;
      if (v->entered) {
        exit(v->out_frame);
      } else {
        v.reset();
      }
    }
    if (v && v->entered && vanished(o)) exit(v->outside ? v->out_frame : o.boxes.back().first);
  }

  // As rules/loiter.cc: time inside counts frame intervals inside at both ends; exits shorter
  // than max_gap keep the visit.
  void loiter(const SceneRule& rule, const SynthLoiter& l, const ObjectTrack& o) {
    struct Visit {
      double inside_time = 0, last_time = 0;
      bool inside = true, started = false;
      int64_t out_frame = 0;
    };
    std::optional<Visit> v;
    auto end = [&](int64_t frame) {
      add(rule, "loiter_end", frame, &o).duration = v->inside_time;
      v.reset();
    };
    for (const auto& [frame, t, inside] : presence(l.polygon, o)) {
      if (!v) {
        if (!inside) continue;
        v = Visit{.last_time = t};
      }
      if (inside && v->inside) v->inside_time += t - v->last_time;
      if (!inside && v->inside) v->out_frame = frame;
      v->inside = inside;
      v->last_time = t;
      if (inside) {
        if (!v->started && v->inside_time >= l.min_time - kTimeEpsilon) {
          v->started = true;
          add(rule, "loiter_start", frame, &o).duration = v->inside_time;
        }
        continue;
      }
      if (t - scene_.time_of(v->out_frame) < l.max_gap - kTimeEpsilon) continue;
      if (v->started) {
        end(v->out_frame);
      } else {
        v.reset();
      }
    }
    if (v && v->started && vanished(o)) end(v->inside ? o.boxes.back().first : v->out_frame);
  }

  // As rules/crowd.cc: more than max_count inside for min_time starts a crowd; at or under
  // max_count for end_grace (1 s) ends it, at the first frame it was under.
  void crowd(const SceneRule& rule, const SynthCrowd& c,
             const std::vector<std::vector<GtBox>>& gt) {
    constexpr double kEndGrace = 1;
    const Polygon polygon{c.polygon};
    struct Episode {
      double since = 0;
      bool started = false, under = false;
      int64_t under_frame = 0;
      int peak = 0;
      std::set<std::string> labels;
    };
    std::optional<Episode> ep;
    for (int64_t frame = 0; frame < scene_.frames; ++frame) {
      const double t = scene_.time_of(frame);
      int count = 0;
      std::set<std::string> labels;
      for (const GtBox& g : gt[frame]) {
        if (!selects(rule, label_of(g.cls)) || !polygon.contains(feet_of(g.box))) continue;
        ++count;
        labels.insert(label_of(g.cls));
      }
      if (count > c.max_count) {
        if (!ep) ep = Episode{.since = t};
        ep->under = false;
        ep->peak = std::max(ep->peak, count);
        ep->labels.insert(labels.begin(), labels.end());
        if (!ep->started && t - ep->since >= c.min_time - kTimeEpsilon) {
          ep->started = true;
          TruthEvent& e = add(rule, "crowd_start", frame, nullptr);
          e.count = count;
          e.label = join(labels, ",");
        }
        continue;
      }
      if (!ep) continue;
      if (!ep->under) {
        ep->under = true;
        ep->under_frame = frame;
      }
      if (t - scene_.time_of(ep->under_frame) < kEndGrace - kTimeEpsilon) continue;
      if (ep->started) {
        TruthEvent& e = add(rule, "crowd_end", ep->under_frame, nullptr);
        e.count = ep->peak;
        e.label = join(ep->labels, ",");
        e.duration = scene_.time_of(ep->under_frame) - ep->since;
      }
      ep.reset();
    }
  }

 private:
  struct Sample {
    int64_t frame;
    double t;
    bool inside;
  };
  // The object's frames, each with its media time and whether its feet are inside `polygon`.
  std::vector<Sample> presence(const std::vector<Point>& polygon, const ObjectTrack& o) const {
    const Polygon p{polygon};
    std::vector<Sample> out;
    for (const auto& [frame, box] : o.boxes) {
      out.push_back({frame, scene_.time_of(frame), p.contains(feet_of(box))});
    }
    return out;
  }

  // The object left the scene early enough that a pipeline has ended its open visits.
  bool vanished(const ObjectTrack& o) const {
    return scene_.time_of(o.boxes.back().first) <=
           scene_.time_of(scene_.frames - 1) - kEndMargin + kTimeEpsilon;
  }

  const Scene& scene_;
  std::vector<TruthEvent>* out_;
};

}  // namespace

std::vector<std::vector<GtBox>> ground_truth(const Scene& scene) {
  std::vector<std::vector<GtBox>> out(static_cast<size_t>(scene.frames));
  for (int64_t f = 0; f < scene.frames; ++f) {
    const std::vector<Drawable> ds = drawables_at(scene, f);
    for (size_t i = 0; i < ds.size(); ++i) {
      if (!ds[i].object) continue;
      const Box full = ds[i].box;
      const Box seen = clip(full, scene.width, scene.height);
      if (seen.width() < 2 || seen.height() < 2) continue;
      // Pixels of the box inside the frame and not under anything drawn later (nearer).
      cv::Mat covered(static_cast<int>(seen.height()), static_cast<int>(seen.width()), CV_8U,
                      cv::Scalar(0));
      for (size_t j = i + 1; j < ds.size(); ++j) {
        const Box over = clip(ds[j].box, scene.width, scene.height);
        const double x1 = std::max(over.x1, seen.x1), y1 = std::max(over.y1, seen.y1);
        const double x2 = std::min(over.x2, seen.x2), y2 = std::min(over.y2, seen.y2);
        if (x2 <= x1 || y2 <= y1) continue;
        covered(cv::Rect(static_cast<int>(x1 - seen.x1), static_cast<int>(y1 - seen.y1),
                         static_cast<int>(x2 - x1), static_cast<int>(y2 - y1)))
            .setTo(1);
      }
      const double visible = seen.area() - cv::countNonZero(covered);
      out[f].push_back({ds[i].object->id, ds[i].object->cls, seen, visible / full.area()});
    }
    std::sort(out[f].begin(), out[f].end(),
              [](const GtBox& a, const GtBox& b) { return a.object_id < b.object_id; });
  }
  return out;
}

std::vector<TruthEvent> rule_truth(const Scene& scene,
                                   const std::vector<std::vector<GtBox>>& truth) {
  std::map<int, ObjectTrack> tracks;
  for (size_t f = 0; f < truth.size(); ++f) {
    for (const GtBox& g : truth[f]) {
      ObjectTrack& t = tracks[g.object_id];
      t.id = g.object_id;
      t.label = label_of(g.cls);
      t.boxes.emplace_back(static_cast<int64_t>(f), g.box);
    }
  }
  std::vector<TruthEvent> events;
  TruthBuilder b(scene, &events);
  for (const SceneRule& rule : scene.rules) {
    if (const auto* c = std::get_if<SynthCrowd>(&rule.shape)) {
      b.crowd(rule, *c, truth);
      continue;
    }
    for (const auto& [id, track] : tracks) {
      if (!selects(rule, track.label)) continue;
      if (const auto* l = std::get_if<SynthLine>(&rule.shape)) b.line(rule, *l, track);
      if (const auto* z = std::get_if<SynthZone>(&rule.shape)) b.zone(rule, *z, track);
      if (const auto* l = std::get_if<SynthLoiter>(&rule.shape)) b.loiter(rule, *l, track);
    }
  }
  std::stable_sort(events.begin(), events.end(), [](const TruthEvent& a, const TruthEvent& b) {
    return a.frame != b.frame ? a.frame < b.frame : a.object_id < b.object_id;
  });
  return events;
}

}  // namespace iris::eval
