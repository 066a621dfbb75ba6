// False-alarm suppression: the one stage between a stream's tracker and its rules. It decides
// which tracks each rule sees (those eligible under the rule's SuppressionSpec, and none outside
// the rule's active time windows) and drops events that repeat within their cool-down. Like the
// rules it is pure and single-threaded (it runs on the stream's strand, so it takes no locks), and
// it drops its state for a track when the tracker removes the track.
//
// A track that stops being eligible (its score fell under score_stay, it stood still for
// static_time) is handed to the rules as removed, so they end their state for it cleanly (a zone
// visit ends with reason "lost"); if it becomes eligible again the rules see it as new. Likewise,
// when a rule's window closes, every track it saw is handed to it as removed once, and it sees no
// tracks until a window opens again: nothing new is raised outside the windows, and what was open
// ends.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "events/event.h"
#include "rules/rule.h"
#include "track/tracker.h"

namespace iris::rules {

class Suppression {
 public:
  // `stream`: the stream's spec, for rules without their own. `rules`: the stream's rules; input()
  // takes their index in this list.
  Suppression(const SuppressionSpec& stream, const std::vector<RuleSpec>& rules);

  // Once per frame, on the tracker's output, before the rules run.
  void update(const track::TrackUpdate& tracks, const FrameContext& ctx);
  // The tracks rule `rule` evaluates on this frame. Rules whose effective specs are equal share
  // one view, computed once.
  const track::TrackUpdate& input(size_t rule) const;
  // Once per frame, on every event the rules raised: drops those in their rule's cool-down.
  void cool_down(std::vector<events::Event>* events);

  // What was suppressed so far, by reason: "min_hits", "min_age", "min_area", "score" and "static"
  // count confirmed tracks held back (each track once per reason); "cooldown" counts events
  // dropped. Reasons with nothing suppressed are left out.
  std::map<std::string, int64_t> counters() const;
  // The sum of counters(). It only grows, so a copy of counters() is stale exactly when this
  // changed since the copy was made.
  int64_t total() const;

  // Distinct views computed per frame.
  size_t view_count() const { return views_.size(); }
  // Per-track entries held, for tests of bounded state.
  size_t tracked_count() const;

 private:
  enum Reason { kMinHits, kMinAge, kMinArea, kScore, kStatic, kReasons };

  struct TrackState {
    bool admitted = false;   // min_hits, min_age and min_area were met once: they are not rechecked
    bool score_ok = false;   // hysteresis: above score_enter once, not below score_stay since
    bool eligible = false;   // in the view on the last frame
    Point still_at;          // box centre when it last moved more than static_distance...
    double still_since = 0;  // ...and when
  };
  struct View {
    SuppressionSpec spec;
    std::unordered_map<int64_t, TrackState> states;
    track::TrackUpdate out;
  };
  enum class Window { kOpen, kClosing, kClosed };  // kClosing: the first frame after a window
  struct Gate {
    size_t view = 0;
    std::vector<TimeWindow> active;
    Window window = Window::kClosed;
    track::TrackUpdate closing;  // the input on a kClosing frame: every track the rule saw
  };
  // Cool-down of one (track, rule). An episode's end (zone_exit after zone_enter) shares the fate
  // of its start, so sinks never get an end without its start or a start without its end.
  struct Cooling {
    std::map<std::string, double> last_passed;  // event type -> media time it last got through
    std::string open_type;  // a start of this type got through or was dropped (empty: none)...
    bool muted = false;     // ...and was dropped
  };

  void filter(const track::TrackUpdate& tracks, double t, double frame_area, View* view);
  // Why the track is not eligible on this frame, if it is not.
  std::optional<Reason> check(const SuppressionSpec& spec, const track::Track& track, double t,
                              double frame_area, TrackState* state) const;
  void count(int64_t track_id, Reason reason);
  bool passes(const events::Event& e);

  std::vector<View> views_;
  std::vector<Gate> gates_;                                              // one per rule
  std::unordered_map<std::string, double> cooldown_;                     // rule name -> seconds
  std::unordered_map<int64_t, std::map<std::string, Cooling>> cooling_;  // track -> rule -> state
  std::unordered_map<int64_t, unsigned> counted_;  // track -> bit set of reasons counted
  std::vector<int64_t> removed_;                   // tracks the tracker removed on this frame
  std::array<int64_t, kReasons> withheld_{};
  int64_t cooled_ = 0;
  track::TrackUpdate none_;
};

}  // namespace iris::rules
