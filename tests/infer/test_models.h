// The tiny ONNX models of tests/infer/make_models.py, written once per test process into a
// temporary directory, and the specs the tests load them with.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "infer/model_spec.h"
#include "support/support.h"

namespace iris::infer {

// Path of `name` (e.g. "yolov5_nchw.onnx") among the generated models.
inline std::string test_model(const std::string& name) {
  static const testing::TempDir dir;
  static const bool made = [] {
    const std::string cmd =
        "/usr/bin/python3 " IRIS_SOURCE_DIR "/tests/infer/make_models.py " + dir.path();
    return std::system(cmd.c_str()) == 0;
  }();
  if (!made) {
    ADD_FAILURE() << "tests/infer/make_models.py failed; it needs python3-onnx and python3-numpy "
                     "(scripts/deps.sh installs them)";
  }
  return dir.file(name);
}

// What make_models.py's models expect: a 64x64 input of values pixel / 255, classes a, b, c.
inline ModelSpec test_spec(const std::string& file, const std::string& decoder,
                           Layout layout = Layout::kNCHW, Resize resize = Resize::kLetterbox) {
  ModelSpec spec;
  spec.name = file;
  spec.path = test_model(file);
  spec.decoder = decoder;
  spec.layout = layout;
  spec.resize = resize;
  spec.class_names = {"a", "b", "c"};
  return spec;
}

// The infer tests check messages with support.h's substring check.
using testing::contains;

}  // namespace iris::infer
