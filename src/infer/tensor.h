// Tensor: a dense float32 array with a shape, the unit that crosses the Backend and ModelServer
// boundaries. Row-major; shape[0] is the batch where a model has one.
#pragma once

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace iris::infer {

struct Tensor {
  std::string name;            // the model's input or output name
  std::vector<int64_t> shape;  // every dimension known (>= 1)
  std::vector<float> data;     // element_count() values

  static int64_t count(const std::vector<int64_t>& shape) {
    return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
  }
  int64_t element_count() const { return count(shape); }
};

// "[1, 3, 640, 640]"; -1 prints as "?".
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace iris::infer
