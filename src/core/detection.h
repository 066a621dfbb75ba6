// Detection: one object found in one frame by any detector (DNN, HOG, motion, replay), with what
// secondary models said about it.
#pragma once

#include <string>
#include <vector>

#include "core/geometry.h"

namespace iris {

// One answer of a classifier run on the detection's crop.
struct Classification {
  std::string model;  // secondary model name from the config
  std::string label;
  float score = 0;
};

struct Detection {
  Box box;                              // source pixels
  std::string label;                    // class name, e.g. "person"
  float score = 0;                      // confidence in [0, 1]
  std::vector<Classification> classes;  // top-k of each classifier run on the crop, best first
  std::vector<float> embedding;         // appearance vector from an embedding model (L2-normed)
};

}  // namespace iris
