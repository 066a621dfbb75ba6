#include "infer/backend.h"

#include "core/text.h"

namespace iris::infer {

std::unique_ptr<Backend> make_opencv_backend();   // opencv_backend.cc
std::unique_ptr<Backend> make_runtime_backend();  // runtime_backend.cc

Result<std::unique_ptr<Backend>> make_backend(const std::string& name) {
  if (name == "opencv") return make_opencv_backend();
  if (name == "iris") return make_runtime_backend();
  return Status::error("unknown backend '" + name + "'; fix: use one of: opencv, iris");
}

Status check_image_input(const std::string& label, ModelInfo* info) {
  if (info->inputs.size() != 1) {
    const std::string names =
        join(info->inputs, ", ", [](const TensorInfo& i) -> const std::string& { return i.name; });
    return Status::error(label + " has " + std::to_string(info->inputs.size()) + " inputs (" +
                         names +
                         "); iris feeds exactly one image input; fix: re-export the model with "
                         "the other inputs folded into constants");
  }
  const auto& shape = info->inputs[0].shape;
  const int64_t batch = shape.empty() ? -1 : shape[0];
  if (batch > 1) {
    return Status::error(label + ": input '" + info->inputs[0].name + "' " + shape_string(shape) +
                         " has a fixed batch of " + std::to_string(batch) +
                         "; fix: re-export it with batch 1 or a dynamic batch axis");
  }
  info->max_batch = batch == 1 ? 1 : 0;
  return Status();
}

}  // namespace iris::infer
