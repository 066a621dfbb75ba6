#include "rules/suppression.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <numeric>
#include <utility>

#include "rules/rule_util.h"

namespace iris::rules {
namespace {

constexpr const char* kReasonNames[] = {"min_hits", "min_age", "min_area", "score", "static"};

// Seconds after local midnight of a Unix time, in the process's time zone (TZ).
double local_seconds(double wall_time) {
  const double whole = std::floor(wall_time);
  const auto secs = static_cast<std::time_t>(whole);
  std::tm tm{};
  localtime_r(&secs, &tm);
  return tm.tm_hour * 3600.0 + tm.tm_min * 60.0 + tm.tm_sec + (wall_time - whole);
}

}  // namespace

bool TimeWindow::contains(double seconds) const {
  const double from = start * 60.0;
  const double to = end * 60.0;
  return start < end ? seconds >= from && seconds < to : seconds >= from || seconds < to;
}

Suppression::Suppression(const SuppressionSpec& stream, const std::vector<RuleSpec>& rules) {
  for (const RuleSpec& rule : rules) {
    const RuleCommon& common = common_of(rule);
    const SuppressionSpec spec = common.suppression.value_or(stream);
    auto view = std::find_if(views_.begin(), views_.end(),
                             [&spec](const View& v) { return v.spec == spec; });
    if (view == views_.end()) {
      view = views_.emplace(views_.end());
      view->spec = spec;
    }
    Gate& gate = gates_.emplace_back();
    gate.view = static_cast<size_t>(view - views_.begin());
    gate.active = common.active;
    cooldown_[common.name] = spec.cooldown;
  }
}

void Suppression::update(const track::TrackUpdate& tracks, const FrameContext& ctx) {
  removed_.clear();
  for (const track::Track& t : tracks.removed) {
    removed_.push_back(t.id);
    counted_.erase(t.id);
  }
  const double frame_area = static_cast<double>(ctx.width) * ctx.height;
  for (View& view : views_) filter(tracks, ctx.media_time, frame_area, &view);

  std::optional<double> now;  // local time of day, computed once and only if a rule has windows
  for (Gate& gate : gates_) {
    bool active = gate.active.empty();
    if (!active) {
      if (!now) now = local_seconds(ctx.wall_time);
      active = std::any_of(gate.active.begin(), gate.active.end(),
                           [&now](const TimeWindow& w) { return w.contains(*now); });
    }
    if (active) {
      gate.window = Window::kOpen;
    } else if (gate.window == Window::kOpen) {
      gate.window = Window::kClosing;
      const track::TrackUpdate& seen = views_[gate.view].out;
      gate.closing.removed = seen.removed;
      gate.closing.removed.insert(gate.closing.removed.end(), seen.tracks.begin(),
                                  seen.tracks.end());
    } else {
      gate.window = Window::kClosed;
      gate.closing.removed.clear();
    }
  }
}

void Suppression::filter(const track::TrackUpdate& tracks, double t, double frame_area,
                         View* view) {
  view->out.tracks.clear();
  view->out.removed.clear();
  for (const track::Track& track : tracks.tracks) {
    auto [it, fresh] = view->states.try_emplace(track.id);
    TrackState& state = it->second;
    const Point c = track.box.center();
    // Measured from where it last moved, not frame to frame, so a slow walker is not "static".
    if (fresh || std::hypot(c.x - state.still_at.x, c.y - state.still_at.y) >
                     view->spec.static_distance * track.box.height()) {
      state.still_at = c;
      state.still_since = t;
    }
    const std::optional<Reason> reason = check(view->spec, track, t, frame_area, &state);
    if (!reason) {
      view->out.tracks.push_back(track);
    } else {
      if (state.eligible) view->out.removed.push_back(track);
      if (track.confirmed) count(track.id, *reason);
    }
    state.eligible = !reason;
  }
  for (const track::Track& track : tracks.removed) {
    const auto it = view->states.find(track.id);
    if (it == view->states.end()) continue;
    if (it->second.eligible) view->out.removed.push_back(track);
    view->states.erase(it);
  }
}

std::optional<Suppression::Reason> Suppression::check(const SuppressionSpec& spec,
                                                      const track::Track& track, double t,
                                                      double frame_area, TrackState* state) const {
  // Hysteresis: the bar to stay is lower than the bar to enter, so a score wavering between the
  // two does not flip the track in and out. Compared as float, the type scores have.
  state->score_ok =
      track.score >= static_cast<float>(state->score_ok ? spec.score_stay : spec.score_enter);
  // Admission is checked until passed once: a person walking away gets smaller, and must not
  // lose their zone visit for it.
  if (!state->admitted) {
    if (track.hits < spec.min_hits) return kMinHits;
    if (t - track.first_seen < spec.min_age - kTimeEpsilon) return kMinAge;
    if (track.box.area() < spec.min_area * frame_area) return kMinArea;
    state->admitted = true;
  }
  if (!state->score_ok) return kScore;
  if (spec.static_time > 0 && t - state->still_since >= spec.static_time - kTimeEpsilon) {
    return kStatic;
  }
  return std::nullopt;
}

void Suppression::count(int64_t track_id, Reason reason) {
  unsigned& counted = counted_[track_id];
  const unsigned bit = 1u << reason;
  if (counted & bit) return;
  counted |= bit;
  ++withheld_[reason];
}

const track::TrackUpdate& Suppression::input(size_t rule) const {
  const Gate& gate = gates_.at(rule);
  switch (gate.window) {
    case Window::kOpen:
      return views_[gate.view].out;
    case Window::kClosing:
      return gate.closing;
    case Window::kClosed:
      break;
  }
  return none_;
}

void Suppression::cool_down(std::vector<events::Event>* events) {
  std::vector<events::Event> kept;
  kept.reserve(events->size());
  for (events::Event& e : *events) {
    if (passes(e)) kept.push_back(std::move(e));
  }
  *events = std::move(kept);
  // After this frame's events: a removed track's last events (zone_exit "lost") still pair up.
  for (int64_t id : removed_) cooling_.erase(id);
}

bool Suppression::passes(const events::Event& e) {
  const auto rule = cooldown_.find(e.rule);
  if (rule == cooldown_.end() || rule->second <= 0) return true;
  Cooling& c = cooling_[e.track_id][e.rule];
  if (!c.open_type.empty() && e.type != c.open_type) {
    // The end of the episode the open start began.
    c.open_type.clear();
    if (c.muted) ++cooled_;
    return !c.muted;
  }
  const auto [last, first] = c.last_passed.try_emplace(e.type, e.media_time);
  const bool pass = first || e.media_time - last->second >= rule->second - kTimeEpsilon;
  if (pass) {
    last->second = e.media_time;
  } else {
    ++cooled_;
  }
  c.open_type = e.type;
  c.muted = !pass;
  return pass;
}

std::map<std::string, int64_t> Suppression::counters() const {
  std::map<std::string, int64_t> out;
  for (int r = 0; r < kReasons; ++r) {
    if (withheld_[r] > 0) out[kReasonNames[r]] = withheld_[r];
  }
  if (cooled_ > 0) out["cooldown"] = cooled_;
  return out;
}

int64_t Suppression::total() const {
  return std::accumulate(withheld_.begin(), withheld_.end(), cooled_);
}

size_t Suppression::tracked_count() const {
  size_t n = counted_.size() + cooling_.size();
  for (const View& v : views_) n += v.states.size();
  return n;
}

}  // namespace iris::rules
