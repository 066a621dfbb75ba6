#include "track/tracker.h"

namespace iris::track {

std::unique_ptr<Tracker> make_tracker(const TrackerSpec& spec) {
  return std::visit([](const auto& s) { return make_tracker(s); }, spec);
}

}  // namespace iris::track
