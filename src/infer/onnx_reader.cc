#include "infer/onnx_reader.h"

#include <functional>
#include <set>

namespace iris::infer {
namespace {

// Field numbers from onnx.proto (stable since IR version 3).
namespace model_proto {
constexpr uint32_t kIrVersion = 1, kGraph = 7, kOpsetImport = 8;
}
namespace opset_proto {
constexpr uint32_t kDomain = 1, kVersion = 2;
}
namespace graph_proto {
constexpr uint32_t kNode = 1, kInitializer = 5, kInput = 11, kOutput = 12;
}
namespace node_proto {
constexpr uint32_t kOutput = 2, kName = 3, kOpType = 4;
}
constexpr uint32_t kTensorName = 8;                 // TensorProto.name
constexpr uint32_t kValueName = 1, kValueType = 2;  // ValueInfoProto
constexpr uint32_t kTypeTensor = 1;                 // TypeProto.tensor_type
constexpr uint32_t kTensorShape = 2;                // TypeProto.Tensor.shape
constexpr uint32_t kShapeDim = 1;                   // TensorShapeProto.dim
constexpr uint32_t kDimValue = 1;                   // Dimension.dim_value

struct Field {
  uint32_t number = 0;
  uint64_t varint = 0;     // wire type 0
  std::string_view bytes;  // wire type 2
  bool is_bytes = false;
};

// Walks protobuf messages of one file; the first malformed byte stops everything with an error
// that gives its offset in the file.
class Wire {
 public:
  explicit Wire(std::string_view file) : file_(file) {}

  // Calls `fn` on each field of `msg` (a view into the file) until `fn` returns false.
  bool each(std::string_view msg, const std::function<bool(const Field&)>& fn) {
    size_t pos = 0;
    while (pos < msg.size()) {
      const size_t start = pos;
      uint64_t key = 0;
      if (!varint(msg, &pos, &key)) return false;
      Field f;
      f.number = static_cast<uint32_t>(key >> 3);
      const uint32_t wire_type = key & 7;
      if (f.number == 0) return fail(msg, start, "field number 0");
      switch (wire_type) {
        case 0:
          if (!varint(msg, &pos, &f.varint)) return false;
          break;
        case 1:
        case 5: {
          const size_t n = wire_type == 1 ? 8 : 4;
          if (msg.size() - pos < n) return fail(msg, start, "truncated fixed-width field");
          pos += n;
          break;
        }
        case 2: {
          uint64_t len = 0;
          if (!varint(msg, &pos, &len)) return false;
          if (len > msg.size() - pos) return fail(msg, start, "length runs past the end");
          f.bytes = msg.substr(pos, len);
          f.is_bytes = true;
          pos += len;
          break;
        }
        default:
          return fail(msg, start, "unknown wire type " + std::to_string(wire_type));
      }
      if (!fn(f)) return false;
    }
    return true;
  }

  bool fail(std::string_view msg, size_t pos, const std::string& what) {
    if (error_.empty()) {
      error_ = what + " at byte " + std::to_string(msg.data() - file_.data() + pos);
    }
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  bool varint(std::string_view msg, size_t* pos, uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (*pos >= msg.size()) return fail(msg, *pos, "truncated varint");
      const auto b = static_cast<uint8_t>(msg[(*pos)++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return fail(msg, *pos, "varint longer than 10 bytes");
  }

  std::string_view file_;
  std::string error_;
};

bool read_value_info(Wire& w, std::string_view msg, TensorInfo* out) {
  return w.each(msg, [&](const Field& f) {
    if (f.number == kValueName && f.is_bytes) out->name = std::string(f.bytes);
    if (f.number != kValueType || !f.is_bytes) return true;
    return w.each(f.bytes, [&](const Field& type) {
      if (type.number != kTypeTensor || !type.is_bytes) return true;
      return w.each(type.bytes, [&](const Field& tensor) {
        if (tensor.number != kTensorShape || !tensor.is_bytes) return true;
        return w.each(tensor.bytes, [&](const Field& dim) {
          if (dim.number != kShapeDim || !dim.is_bytes) return true;
          int64_t value = -1;  // dim_param (a name) or nothing: free
          const bool ok = w.each(dim.bytes, [&](const Field& d) {
            if (d.number == kDimValue && !d.is_bytes && static_cast<int64_t>(d.varint) > 0) {
              value = static_cast<int64_t>(d.varint);
            }
            return true;
          });
          out->shape.push_back(value);
          return ok;
        });
      });
    });
  });
}

bool read_node(Wire& w, std::string_view msg, OnnxNode* out) {
  return w.each(msg, [&](const Field& f) {
    if (!f.is_bytes) return true;
    if (f.number == node_proto::kOutput) out->outputs.emplace_back(f.bytes);
    if (f.number == node_proto::kName) out->name = std::string(f.bytes);
    if (f.number == node_proto::kOpType) out->op_type = std::string(f.bytes);
    return true;
  });
}

bool read_graph(Wire& w, std::string_view msg, OnnxSummary* out) {
  std::set<std::string> initializers;
  std::vector<TensorInfo> inputs;
  const bool ok = w.each(msg, [&](const Field& f) {
    if (!f.is_bytes) return true;
    switch (f.number) {
      case graph_proto::kNode:
        out->nodes.emplace_back();
        return read_node(w, f.bytes, &out->nodes.back());
      case graph_proto::kInitializer:
        return w.each(f.bytes, [&](const Field& t) {
          if (t.number == kTensorName && t.is_bytes) initializers.emplace(t.bytes);
          return true;
        });
      case graph_proto::kInput:
        inputs.emplace_back();
        return read_value_info(w, f.bytes, &inputs.back());
      case graph_proto::kOutput:
        out->outputs.emplace_back();
        return read_value_info(w, f.bytes, &out->outputs.back());
      default:
        return true;
    }
  });
  // Before IR version 4 every initializer was also listed as a graph input.
  for (auto& in : inputs) {
    if (!initializers.count(in.name)) out->inputs.push_back(std::move(in));
  }
  return ok;
}

}  // namespace

Result<OnnxSummary> read_onnx(std::string_view bytes) {
  Wire w(bytes);
  OnnxSummary s;
  bool has_graph = false;
  const bool ok = w.each(bytes, [&](const Field& f) {
    if (f.number == model_proto::kIrVersion && !f.is_bytes) {
      s.ir_version = static_cast<int64_t>(f.varint);
    } else if (f.number == model_proto::kGraph && f.is_bytes) {
      has_graph = true;
      return read_graph(w, f.bytes, &s);
    } else if (f.number == model_proto::kOpsetImport && f.is_bytes) {
      std::string domain;
      int64_t version = 0;
      const bool ok = w.each(f.bytes, [&](const Field& o) {
        if (o.number == opset_proto::kDomain && o.is_bytes) domain = std::string(o.bytes);
        if (o.number == opset_proto::kVersion && !o.is_bytes) {
          version = static_cast<int64_t>(o.varint);
        }
        return true;
      });
      if (domain.empty() || domain == "ai.onnx") s.opset = version;
      return ok;
    }
    return true;
  });
  if (!ok) return Status::error("malformed protobuf: " + w.error());
  if (s.ir_version <= 0 || !has_graph) {
    return Status::error("a protobuf without the ir_version and graph of an ONNX ModelProto");
  }
  if (s.inputs.empty() || s.outputs.empty()) {
    return Status::error("an ONNX graph without inputs or outputs");
  }
  return s;
}

}  // namespace iris::infer
