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

std::string model_label(const std::string& path) { return "model '" + path + "'"; }

Status check_input(const std::string& label, const TensorInfo& in, int max_batch,
                   const Tensor& input) {
  const std::string where = label + ": input tensor " + shape_string(input.shape);
  if (input.shape.empty() || input.shape[0] < 1) {
    return Status::error(where + " has no batch dimension");
  }
  if (max_batch > 0 && input.shape[0] > max_batch) {
    return Status::error(where + " has a batch of " + std::to_string(input.shape[0]) +
                         " but the model accepts at most " + std::to_string(max_batch));
  }
  bool fits = in.shape.empty() || in.shape.size() == input.shape.size();
  for (size_t i = 1; fits && i < in.shape.size(); ++i) {
    fits = in.shape[i] < 0 || in.shape[i] == input.shape[i];
  }
  if (!fits) {
    return Status::error(where + " does not fit the model's input '" + in.name + "' " +
                         shape_string(in.shape));
  }
  if (static_cast<int64_t>(input.data.size()) != input.element_count()) {
    return Status::error(where + " holds " + std::to_string(input.data.size()) + " values");
  }
  return Status();
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
