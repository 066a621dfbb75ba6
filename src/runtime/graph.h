// The runtime's graph IR: values (tensors with a dtype and, after shape inference, a static
// shape; constants carry their data), nodes in execution order, and the ONNX importer that builds
// it. Passes (passes.h) rewrite a Graph in place; the compiler (model.h) lowers it to kernels.
//
// A node keeps its ONNX op type and attributes. The importer rewrites older opsets' forms into
// the newest one (attributes that became inputs turn into constant inputs), so passes and kernels
// see one form per op. Fusion adds post-ops to Conv nodes.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"
#include "runtime/tensor.h"

namespace iris::runtime {

struct Value {
  std::string name;
  DType dtype = DType::kFloat32;
  Shape shape;  // graph inputs: as declared, -1 where free; others: set by shape inference
  std::shared_ptr<const HostTensor> constant;  // initializers and folded values
};

using Attr =
    std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>, HostTensor>;

// Elementwise activations the runtime runs on their own or fused after a Conv.
enum class Act {
  kRelu,  // alpha: negative slope (LeakyRelu)
  kSigmoid,
  kSwish,        // x * sigmoid(x) (SiLU)
  kHardSwish,    // x * relu6(x + 3) / 6
  kHardSigmoid,  // clip(alpha * x + beta, 0, 1)
  kClip,         // clip(x, alpha, beta)
  kTanh,
  kSoftplus,
  kElu,  // alpha
  kExp,
  kLog,
  kSqrt,
  kAbs,
  kNeg,
  kLinear,  // alpha * x + beta
  kPow,     // x ^ alpha
};

struct Activation {
  Act act = Act::kRelu;
  float alpha = 0;
  float beta = 0;
};

// Work fused into a Conv: an activation, or adding the node input `summand` to the result.
struct PostOp {
  enum Kind { kActivation, kSum } kind = kActivation;
  Activation activation;
  int summand = -1;  // index into Node::inputs, for kSum
};

struct Node {
  std::string op;           // ONNX op type
  std::string name;         // may be empty
  std::vector<int> inputs;  // value ids; -1 where an optional input is left out
  std::vector<int> outputs;
  std::map<std::string, Attr, std::less<>> attrs;
  std::vector<PostOp> post_ops;

  // Attribute readers; a missing attribute gives `fallback`.
  int64_t attr_int(std::string_view key, int64_t fallback) const;
  float attr_float(std::string_view key, float fallback) const;
  std::string attr_string(std::string_view key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(std::string_view key, std::vector<int64_t> fallback = {}) const;
  const HostTensor* attr_tensor(std::string_view key) const;
  bool has_attr(std::string_view key) const { return attrs.find(key) != attrs.end(); }

  int input(size_t i) const { return i < inputs.size() ? inputs[i] : -1; }
};

struct Graph {
  std::string label;  // "model 'path'", how messages name the model
  int64_t opset = 0;  // of the default ONNX domain
  std::vector<Value> values;
  std::vector<Node> nodes;  // in execution order
  std::vector<int> inputs;  // value ids of the runtime inputs (not initializers)
  std::vector<int> outputs;
  std::vector<Shape> declared_outputs;  // output shapes as the file declares them, -1 where free
  std::map<std::string, std::string> metadata;  // the file's metadata_props (quantize.h reads it)

  int add_value(Value v);
  // A new constant value named after `hint`.
  int add_constant(HostTensor t, const std::string& hint);
  // "node 'conv1' (Conv)", or "node producing 'x' (Conv)" when it has no name.
  std::string describe(const Node& n) const;
  // How profiles, fallbacks and calibrations name a node: its name, else its first output's.
  const std::string& layer_name(const Node& n) const;
  // Every op type used, sorted and distinct.
  std::vector<std::string> op_types() const;
};

// Parses an ONNX model: `bytes` is a whole .onnx file, `label` how messages name it. Errors name
// the file, the node and the fix: not ONNX, external data, unsupported op (type and node).
Result<Graph> import_onnx(std::string_view bytes, const std::string& label);
Result<Graph> import_onnx_file(const std::string& path);

}  // namespace iris::runtime
