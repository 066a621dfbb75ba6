// ONNX model summary: the few ModelProto fields iris needs (graph inputs and outputs with their
// shapes, node op types, opset), read straight from the protobuf wire format. Debian ships
// libprotobuf but no onnx.proto bindings, and these fields are a small, stable part of the format.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "infer/backend.h"

namespace iris::infer {

struct OnnxNode {
  std::string name;  // may be empty
  std::string op_type;
  std::vector<std::string> outputs;
};

struct OnnxSummary {
  int64_t ir_version = 0;
  int64_t opset = 0;                // of the default (ai.onnx) domain; 0 when not imported
  std::vector<TensorInfo> inputs;   // real inputs only: initializers listed as inputs are dropped
  std::vector<TensorInfo> outputs;  // -1 for a free or named dimension
  std::vector<OnnxNode> nodes;
};

// `bytes` is a whole .onnx file. Fails when it is not a protobuf ModelProto with a graph that has
// inputs and outputs; the message says what was wrong and where (byte offset).
Result<OnnxSummary> read_onnx(std::string_view bytes);

}  // namespace iris::infer
