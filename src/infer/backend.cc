#include "infer/backend.h"

namespace iris::infer {

std::unique_ptr<Backend> make_opencv_backend();   // opencv_backend.cc
std::unique_ptr<Backend> make_runtime_backend();  // runtime_backend.cc

Result<std::unique_ptr<Backend>> make_backend(const std::string& name) {
  if (name == "opencv") return make_opencv_backend();
  if (name == "iris") return make_runtime_backend();
  return Status::error("unknown backend '" + name + "'; fix: use one of: opencv, iris");
}

}  // namespace iris::infer
