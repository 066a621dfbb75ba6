// Detection: one object found in one frame by any detector (DNN, HOG, motion, replay).
#pragma once

#include <string>

#include "core/geometry.h"

namespace iris {

struct Detection {
  Box box;            // source pixels
  std::string label;  // class name, e.g. "person"
  float score = 0;    // confidence in [0, 1]
};

}  // namespace iris
