// Runtime op tests in the manner of ncnn's test_layer: build a small ONNX graph in memory (Debian's
// ONNX protobuf bindings), run it through the iris runtime, and hold the result against a naive
// reference written in the test. Every case runs twice: once with its data as graph inputs (the
// oneDNN and plain kernels at inference) and once with all data as initializers (the load-time
// folding path, or constant operands of oneDNN kernels).
#pragma once

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "runtime/model.h"

namespace iris::runtime {

using Floats = std::vector<float>;
using Ints = std::vector<int64_t>;

// One node attribute.
struct A {
  onnx::AttributeProto p;
  static A i(const std::string& name, int64_t v);
  static A is(const std::string& name, const Ints& v);
  static A f(const std::string& name, float v);
  static A fs(const std::string& name, const Floats& v);
  static A s(const std::string& name, const std::string& v);
  static A t(const std::string& name, const HostTensor& v);
};

onnx::TensorProto to_proto(const HostTensor& t, const std::string& name);

class GraphBuilder {
 public:
  // `fold`: data() makes initializers instead of graph inputs.
  explicit GraphBuilder(bool fold = false, int opset = 17) : fold_(fold), opset_(opset) {}

  // A tensor the case computes on: a graph input fed at run(), or an initializer when folding.
  std::string data(const HostTensor& t);
  // Always an initializer (weights, shapes, axes).
  std::string constant(const HostTensor& t);
  std::string input(const HostTensor& t);  // always a graph input
  // Adds a node; returns its output names.
  std::vector<std::string> node(const std::string& op, const std::vector<std::string>& inputs,
                                const std::vector<A>& attrs = {}, int outputs = 1,
                                const std::string& name = "");
  void output(const std::string& name) { outputs_.push_back(name); }

  std::string bytes() const;
  // Imports, compiles and runs the graph; failures are test failures.
  std::vector<HostTensor> run(int threads = 1) const { return run(Options{.threads = threads}); }
  std::vector<HostTensor> run(const Options& options) const;
  Result<std::shared_ptr<const Model>> compile(int threads = 1) const {
    return compile(Options{.threads = threads});
  }
  Result<std::shared_ptr<const Model>> compile(const Options& options) const;
  const std::vector<HostTensor>& feeds() const { return feeds_; }

 private:
  std::string fresh(const char* prefix) { return prefix + std::to_string(counter_++); }
  bool fold_;
  int opset_;
  int counter_ = 0;
  onnx::GraphProto graph_;
  std::vector<std::string> outputs_;
  std::vector<HostTensor> feeds_;
};

// Random values in [lo, hi), fixed seed per call site.
HostTensor random(const Shape& shape, float lo = -1, float hi = 1, unsigned seed = 1);
HostTensor tensor(const Shape& shape, const Floats& v);
HostTensor ints(const Shape& shape, const Ints& v);
HostTensor ints(const Ints& v);  // 1-D

// Expects `got` to be `want` within atol + rtol * |want| everywhere; names the first miss.
void expect_near(const HostTensor& got, const HostTensor& want, float atol = 1e-4f,
                 float rtol = 1e-4f, const std::string& what = "");
void expect_equal(const HostTensor& got, const HostTensor& want, const std::string& what = "");

// Numpy broadcasting for references: the output shape, and an operand's strides over it.
Shape broadcast(const Shape& a, const Shape& b);
std::vector<int64_t> broadcast_strides_of(const Shape& s, const Shape& out);

// Row-major strides and index helpers for references.
std::vector<int64_t> row_strides(const Shape& s);
// Calls f(index) for every index of `shape` in row-major order.
void for_each_index(const Shape& shape, const std::function<void(const std::vector<int64_t>&)>& f);

// Direct convolution in double (grouped, strided, dilated, any rank); pads: begin..., end....
HostTensor conv_ref(const HostTensor& x, const HostTensor& w, const HostTensor* b,
                    const Ints& strides, const Ints& pads, const Ints& dil, int64_t group);
// `f` of every element.
HostTensor map(const HostTensor& t, const std::function<double(double)>& f);

// Runs `body(fold)` for fold = false and true, naming the mode in failures.
inline void both_modes(const std::function<void(bool)>& body) {
  for (bool fold : {false, true}) {
    SCOPED_TRACE(fold ? "inputs as initializers (folded at load)" : "inputs fed at inference");
    body(fold);
  }
}

}  // namespace iris::runtime
