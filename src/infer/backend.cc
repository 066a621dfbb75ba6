#include "infer/backend.h"

namespace iris::infer {

std::unique_ptr<Backend> make_opencv_backend();  // opencv_backend.cc

Result<std::unique_ptr<Backend>> make_backend(const std::string& name) {
  if (name == "opencv") return make_opencv_backend();
  return Status::error("unknown backend '" + name + "'; fix: use one of: opencv");
}

}  // namespace iris::infer
