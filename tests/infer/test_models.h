// The tiny ONNX models of tests/infer/make_models.py, written once per test process into a
// temporary directory, and the specs the tests load them with.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "infer/model_spec.h"
#include "runtime/quantize.h"
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

// Writes `source` (an .onnx file) to `dest` calibrated for int8 as `iris quantize` stores it, with
// ranges only (no equalization or fallbacks) measured over `samples` random inputs in [0, 1) of
// `shape` (a batch of one).
inline Status write_calibrated(const std::string& source, const std::string& dest,
                               const runtime::Shape& shape, int samples = 8) {
  auto graph = runtime::import_onnx_file(source);
  if (!graph.ok()) return graph.status();
  runtime::Options options;
  options.input_shapes[graph->values[graph->inputs[0]].name] = shape;
  auto calibrator = runtime::Calibrator::create(*graph, options);
  if (!calibrator.ok()) return calibrator.status();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(0, 1);
  auto input = runtime::HostTensor::zeros(runtime::DType::kFloat32, shape);
  for (int i = 0; i < samples; ++i) {
    for (int64_t k = 0; k < input.count(); ++k) input.data<float>()[k] = uniform(rng);
    if (Status s = calibrator->add({runtime::View::of(input)}); !s.ok()) return s;
  }
  runtime::Quantization q;
  q.samples = calibrator->samples();
  q.ranges = calibrator->ranges(q.method);
  return runtime::write_quantized_model(source, dest, q);
}

// The infer tests check messages with support.h's substring check.
using testing::contains;

}  // namespace iris::infer
