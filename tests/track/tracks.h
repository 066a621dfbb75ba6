// Test helpers for trackers: boxes by their centre, tracks by id, and the id bookkeeping of the
// long runs that check a tracker's state stays bounded.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "track/tracker.h"

namespace iris::track::testing {

inline Box centered(double cx, double cy, double w, double h) {
  return {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
}

inline const Track* find_id(const std::vector<Track>& tracks, int64_t id) {
  for (const Track& t : tracks) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

inline void expect_ordered_by_id(const std::vector<Track>& tracks) {
  for (size_t i = 1; i < tracks.size(); ++i) EXPECT_LT(tracks[i - 1].id, tracks[i].id);
}

// Follows the ids of a long run: each update's tracks are ordered by id, a new id is greater than
// every earlier one, a removed id is removed once and never comes back, and at the end every id
// seen is either live or removed.
class IdLedger {
 public:
  // Call as ASSERT_NO_FATAL_FAILURE(ledger.observe(u)): a broken rule ends the test.
  void observe(const TrackUpdate& u) {
    max_live_ = std::max(max_live_, u.tracks.size());
    live_.clear();
    expect_ordered_by_id(u.tracks);
    for (const Track& tr : u.tracks) {
      ASSERT_EQ(removed_.count(tr.id), 0u) << "removed track " << tr.id << " came back";
      if (seen_.insert(tr.id).second) {
        ASSERT_GT(tr.id, newest_) << "id reused or out of order";
        newest_ = tr.id;
      }
      live_.insert(tr.id);
    }
    for (const Track& r : u.removed) {
      ASSERT_TRUE(removed_.insert(r.id).second) << "track " << r.id << " removed twice";
      ASSERT_EQ(live_.count(r.id), 0u) << "track " << r.id << " removed but still live";
    }
  }

  // Every track not live at the end was reported removed, exactly once.
  void expect_all_accounted_for() const {
    std::set<int64_t> accounted = removed_;
    accounted.insert(live_.begin(), live_.end());
    EXPECT_EQ(accounted.size(), removed_.size() + live_.size());
    EXPECT_EQ(accounted, seen_);
  }

  size_t max_live() const { return max_live_; }
  size_t seen() const { return seen_.size(); }

 private:
  std::set<int64_t> seen_, removed_, live_;
  int64_t newest_ = 0;
  size_t max_live_ = 0;
};

}  // namespace iris::track::testing
