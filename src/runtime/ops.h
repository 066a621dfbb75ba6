// The op registry: for every ONNX op the runtime runs, its shape inference and, for most, a plain
// C++ kernel. Plain kernels fold constants at load and run at inference what oneDNN does not
// (indices, int64 and bool tensors, gathers, sorts); compile.cc lowers the heavy float ops to
// oneDNN. Adding an op is one function pair and one line in a table.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runtime/graph.h"
#include "runtime/tensor.h"

namespace iris::runtime {

struct TypedShape {
  DType dtype = DType::kFloat32;
  Shape shape;
};

// A node's inputs as an op sees them. At shape inference a runtime input has data == nullptr
// (only constants are known); in a kernel every present input has data.
struct Operands {
  const Node& node;
  std::string where;          // how errors name the node: "model 'm.onnx': node 'c1' (Conv)"
  std::vector<View> in;       // one per node input
  std::vector<bool> present;  // false where an optional input is left out

  size_t size() const { return in.size(); }
  bool has(size_t i) const { return i < present.size() && present[i]; }
  bool known(size_t i) const { return has(i) && in[i].data != nullptr; }
  const Shape& shape(size_t i) const { return in[i].shape; }
  // The values of input i, which must be known; `what` names it in the error.
  Result<std::vector<int64_t>> ints(size_t i, const char* what) const;
  Result<std::vector<float>> floats(size_t i, const char* what) const;
  // A possibly negative axis into [0, rank).
  Result<int> axis(int64_t axis, size_t rank) const;
  // The node's "axis" attribute (`fallback` when absent), resolved as axis() does.
  Result<int> axis_attr(int64_t fallback, size_t rank) const {
    return axis(node.attr_int("axis", fallback), rank);
  }
  Status error(const std::string& what) const;
};

// The node's inputs as known at load: shapes of all, data of the constants.
Operands operands_at_load(const Graph& g, const Node& n);

// Output dtypes and shapes from the inputs' static shapes and the constant inputs' values.
using InferFn = Result<std::vector<TypedShape>> (*)(const Operands& a);
// Computes the outputs, dense row-major, into `out` (sized by InferFn).
using PlainFn = Status (*)(const Operands& a, const std::vector<View>& out);

struct OpDef {
  const char* op;
  InferFn infer;
  PlainFn plain;  // nullptr: runs on oneDNN only (float tensors)
};

const OpDef* find_op(std::string_view op);
// The supported op types, sorted.
std::vector<std::string> supported_ops();

// The op tables of ops_*.cc, each ended by an entry with op == nullptr.
extern const OpDef kElementwiseOps[];
extern const OpDef kShapeOps[];
extern const OpDef kNnOps[];

// ---- helpers shared by the op files and the compiler ----

// Runs `f(T{})` with T the C++ type of `t` (bool as uint8_t): one kernel body for every dtype.
template <typename F>
auto dispatch(DType t, F&& f) {
  switch (t) {
    case DType::kInt64:
      return f(int64_t{});
    case DType::kBool:
      return f(uint8_t{});
    case DType::kFloat32:
      break;
  }
  return f(float{});
}

// Numpy broadcasting; nullopt when the shapes do not broadcast.
std::optional<Shape> broadcast_shapes(const std::vector<Shape>& shapes);
// Row-major strides of `shape` seen as `out` (rank-aligned to the right; 0 where broadcast).
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out);

// The activation an elementwise node computes when it is one (Relu, Sigmoid, LeakyRelu, Clip
// with known bounds, Swish...); nullopt otherwise.
std::optional<Activation> activation_of(const Operands& a);
float apply_activation(const Activation& act, float x);

// Geometry of a Conv / pooling window along the spatial axes, resolved from the attributes
// (auto_pad, ceil_mode) and the input shape [N, C, spatial...].
struct Window {
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end, out;
};
Result<Window> conv_window(const Operands& a, const Shape& x, const std::vector<int64_t>& kernel,
                           bool ceil_mode);
// ConvTranspose's window: `out` is the output's spatial sizes.
Result<Window> deconv_window(const Operands& a, const Shape& x, const std::vector<int64_t>& kernel);

// Resize (ONNX 11+ form) resolved against the input shape.
struct ResizePlan {
  bool linear = false;    // else nearest
  std::string transform;  // coordinate_transformation_mode
  std::string nearest;    // nearest_mode
  std::vector<float> scales;
  Shape out;
};
Result<ResizePlan> resize_plan(const Operands& a);
// The source coordinate of output index `o` along an axis of `in` -> `out` elements.
float resize_source(const ResizePlan& p, int64_t o, int64_t in, int64_t out, float scale);
// The source index of output index `o` for nearest resizing.
int64_t resize_nearest(const ResizePlan& p, int64_t o, int64_t in, int64_t out, float scale);

// A row-major shape seen as [outer, axis, inner] around one axis.
struct AxisDims {
  int64_t outer = 1, axis = 1, inner = 1;
};
AxisDims axis_dims(const Shape& shape, int axis);
// Steps `idx` to the next index of `shape` in row-major order (back to zeros after the last).
void next_index(const Shape& shape, std::vector<int64_t>* idx);

// Softmax's [outer, axis, inner] (opset < 13 flattens at `axis`).
Result<AxisDims> softmax_dims(const Operands& a);

// Slice resolved: per input axis, the first index, the step and how many.
struct SliceAxis {
  int64_t start = 0, step = 1, count = 0;
};
Result<std::vector<SliceAxis>> slice_plan(const Operands& a);

// Transpose's permutation (default: reversed axes), checked against `rank`.
Result<std::vector<int64_t>> transpose_perm(const Operands& a, size_t rank);

// Split: the size of each output along `axis`.
Result<std::vector<int64_t>> split_sizes(const Operands& a, int axis, size_t outputs);

// Reductions: the axes reduced (sorted, distinct); empty with noop_with_empty_axes means none.
Result<std::vector<int>> reduce_axes(const Operands& a);

}  // namespace iris::runtime
