// ONNX protobuf -> Graph, with Debian's libonnx-dev bindings. Older opsets' forms are rewritten
// into the newest (attributes that became inputs turn into constant inputs; Upsample and
// Resize-10 into Resize-11), so passes and kernels see one form per op.
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <opencv2/core.hpp>
#include <unordered_map>

#include "core/text.h"
#include "runtime/graph.h"
#include "runtime/ops.h"

namespace iris::runtime {
namespace {

constexpr char kResaveFix[] =
    "fix: re-export or re-save the model as one self-contained .onnx file "
    "(onnx.save(onnx.load(path), path, save_as_external_data=False))";

float bfloat16_to_float(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

// The runtime dtype an ONNX element type widens to; nullopt for strings and complex numbers.
std::optional<DType> dtype_of_onnx(int t) {
  using P = onnx::TensorProto;
  switch (t) {
    case P::FLOAT:
    case P::DOUBLE:
    case P::FLOAT16:
    case P::BFLOAT16:
      return DType::kFloat32;
    case P::UINT8:
    case P::INT8:
    case P::UINT16:
    case P::INT16:
    case P::INT32:
    case P::INT64:
    case P::UINT32:
    case P::UINT64:
      return DType::kInt64;
    case P::BOOL:
      return DType::kBool;
    default:
      return std::nullopt;
  }
}

template <typename T>
T read_le(const std::string& raw, size_t i) {
  T v;
  std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
  return v;
}

// One TensorProto as a HostTensor; `what` names it in errors.
Result<HostTensor> read_tensor(const onnx::TensorProto& p, const std::string& what) {
  using P = onnx::TensorProto;
  if (p.data_location() == P::EXTERNAL) {
    return Status::error(what + " keeps its data in an external file; " + kResaveFix);
  }
  const auto dtype = dtype_of_onnx(p.data_type());
  if (!dtype) {
    return Status::error(what + " has element type " + P::DataType_Name(p.data_type()) +
                         ", which the iris runtime does not support; fix: export it as float, "
                         "int64 or bool");
  }
  Shape shape(p.dims().begin(), p.dims().end());
  for (int64_t d : shape) {
    if (d < 0) return Status::error(what + " has a negative dimension; the file is corrupt");
  }
  HostTensor t = HostTensor::zeros(*dtype, shape);
  const int64_t n = t.count();
  const std::string& raw = p.raw_data();
  const bool has_raw = p.has_raw_data();
  size_t elem = 0;  // bytes per element of the stored type
  switch (p.data_type()) {
    case P::FLOAT:
    case P::INT32:
    case P::UINT32:
      elem = 4;
      break;
    case P::DOUBLE:
    case P::INT64:
    case P::UINT64:
      elem = 8;
      break;
    case P::FLOAT16:
    case P::BFLOAT16:
    case P::INT16:
    case P::UINT16:
      elem = 2;
      break;
    default:
      elem = 1;
  }
  const auto size_error = [&](int64_t have) {
    return Status::error(what + " has " + std::to_string(have) + " values for shape " +
                         shape_string(shape) + "; the file is corrupt");
  };
  if (has_raw) {
    if (raw.size() != static_cast<size_t>(n) * elem) {
      return size_error(static_cast<int64_t>(raw.size() / std::max<size_t>(elem, 1)));
    }
  }
  // Typed fields: float_data, double_data, int64_data, uint64_data, or int32_data for the rest.
  int64_t have = 0;
  switch (p.data_type()) {
    case P::FLOAT:
      have = p.float_data_size();
      break;
    case P::DOUBLE:
      have = p.double_data_size();
      break;
    case P::INT64:
      have = p.int64_data_size();
      break;
    case P::UINT32:
    case P::UINT64:
      have = p.uint64_data_size();
      break;
    default:
      have = p.int32_data_size();
  }
  if (!has_raw && have != n) return size_error(have);

  for (int64_t i = 0; i < n; ++i) {
    double f = 0;   // float path
    int64_t k = 0;  // integer path
    switch (p.data_type()) {
      case P::FLOAT:
        f = has_raw ? read_le<float>(raw, i) : p.float_data(i);
        break;
      case P::DOUBLE:
        f = has_raw ? read_le<double>(raw, i) : p.double_data(i);
        break;
      case P::FLOAT16:
        f = static_cast<float>(cv::float16_t::fromBits(
            has_raw ? read_le<uint16_t>(raw, i) : static_cast<uint16_t>(p.int32_data(i))));
        break;
      case P::BFLOAT16:
        f = bfloat16_to_float(has_raw ? read_le<uint16_t>(raw, i)
                                      : static_cast<uint16_t>(p.int32_data(i)));
        break;
      case P::INT64:
        k = has_raw ? read_le<int64_t>(raw, i) : p.int64_data(i);
        break;
      case P::UINT64:
        k = static_cast<int64_t>(has_raw ? read_le<uint64_t>(raw, i) : p.uint64_data(i));
        break;
      case P::UINT32:
        k = has_raw ? read_le<uint32_t>(raw, i) : static_cast<uint32_t>(p.uint64_data(i));
        break;
      case P::INT32:
        k = has_raw ? read_le<int32_t>(raw, i) : p.int32_data(i);
        break;
      case P::INT16:
        k = has_raw ? read_le<int16_t>(raw, i) : static_cast<int16_t>(p.int32_data(i));
        break;
      case P::UINT16:
        k = has_raw ? read_le<uint16_t>(raw, i) : static_cast<uint16_t>(p.int32_data(i));
        break;
      case P::INT8:
        k = has_raw ? read_le<int8_t>(raw, i) : static_cast<int8_t>(p.int32_data(i));
        break;
      case P::UINT8:
      case P::BOOL:
        k = has_raw ? read_le<uint8_t>(raw, i) : static_cast<uint8_t>(p.int32_data(i));
        break;
    }
    switch (*dtype) {
      case DType::kFloat32:
        t.data<float>()[i] = static_cast<float>(f);
        break;
      case DType::kInt64:
        t.data<int64_t>()[i] = k;
        break;
      case DType::kBool:
        t.bytes[i] = k != 0;
        break;
    }
  }
  return t;
}

Result<Attr> read_attr(const onnx::AttributeProto& a, const std::string& what) {
  using A = onnx::AttributeProto;
  switch (a.type()) {
    case A::INT:
      return Attr(a.i());
    case A::FLOAT:
      return Attr(a.f());
    case A::STRING:
      return Attr(a.s());
    case A::INTS:
      return Attr(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case A::FLOATS:
      return Attr(std::vector<float>(a.floats().begin(), a.floats().end()));
    case A::TENSOR: {
      auto t = read_tensor(a.t(), what + " attribute '" + a.name() + "'");
      if (!t.ok()) return t.status();
      return Attr(std::move(*t));
    }
    default:
      return Status::error(what + " has attribute '" + a.name() + "' of type " +
                           A::AttributeType_Name(a.type()) +
                           ", which the iris runtime does not support (subgraphs, string "
                           "lists); fix: export the model without control flow");
  }
}

// Builds the graph from the parsed proto; the caller checked it has a graph.
class Importer {
 public:
  Importer(const onnx::ModelProto& m, const std::string& label) : m_(m) { g_.label = label; }

  Result<Graph> run() {
    for (const auto& op : m_.opset_import()) {
      if (op.domain().empty() || op.domain() == "ai.onnx") g_.opset = op.version();
    }
    for (const auto& kv : m_.metadata_props()) g_.metadata[kv.key()] = kv.value();
    const auto& graph = m_.graph();
    if (graph.output_size() == 0) {
      return Status::error(g_.label + " has no graph outputs; fix: export the model again");
    }
    if (graph.sparse_initializer_size() > 0) {
      return Status::error(g_.label +
                           " has sparse initializers, which the iris runtime does not "
                           "support; fix: re-export it with dense weights");
    }
    for (const auto& init : graph.initializer()) {
      auto t = read_tensor(init, g_.label + ": initializer '" + init.name() + "'");
      if (!t.ok()) return t.status();
      add_named_constant(init.name(), std::move(*t));
    }
    for (const auto& in : graph.input()) {
      if (ids_.count(in.name())) continue;  // an initializer listed as input (IR < 4)
      auto v = declared(in, "input");
      if (!v.ok()) return v.status();
      const int id = g_.add_value(std::move(*v));
      ids_[in.name()] = id;
      g_.inputs.push_back(id);
    }
    if (Status s = import_nodes(); !s.ok()) return s;
    for (const auto& out : graph.output()) {
      const auto it = ids_.find(out.name());
      if (it == ids_.end()) {
        return Status::error(g_.label + ": output '" + out.name() +
                             "' is produced by no node; the file is corrupt");
      }
      auto v = declared(out, "output");
      if (!v.ok()) return v.status();
      g_.outputs.push_back(it->second);
      g_.declared_outputs.push_back(v->shape);
    }
    return std::move(g_);
  }

 private:
  Result<Value> declared(const onnx::ValueInfoProto& info, const char* kind) {
    Value v{.name = info.name()};
    // Outputs may leave their type out: shape inference gives it.
    if (!info.has_type() && std::string_view(kind) == "output") return v;
    if (!info.type().has_tensor_type()) {
      return Status::error(g_.label + ": " + kind + " '" + info.name() +
                           "' is not a tensor; fix: export the model with tensor inputs and "
                           "outputs");
    }
    const auto& tt = info.type().tensor_type();
    const auto dtype = dtype_of_onnx(tt.elem_type());
    if (!dtype) {
      return Status::error(g_.label + ": " + kind + " '" + info.name() + "' has element type " +
                           onnx::TensorProto::DataType_Name(tt.elem_type()) +
                           ", which the iris runtime does not support");
    }
    v.dtype = *dtype;
    for (const auto& d : tt.shape().dim()) {
      v.shape.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : -1);
    }
    return v;
  }

  // Nodes in dependency order (ONNX requires it, some exporters do not keep it).
  Status import_nodes() {
    const auto& graph = m_.graph();
    std::unordered_map<std::string, int> producer;
    for (int i = 0; i < graph.node_size(); ++i) {
      for (const auto& o : graph.node(i).output()) {
        if (o.empty()) continue;
        if (ids_.count(o) || !producer.emplace(o, i).second) {
          return Status::error(g_.label + ": tensor '" + o +
                               "' is produced twice; the file is corrupt");
        }
      }
    }
    std::vector<int> state(graph.node_size(), 0);  // 0 new, 1 visiting, 2 done
    std::vector<int> order;
    // Iterative depth-first visit so that deep graphs do not overflow the stack.
    for (int root = 0; root < graph.node_size(); ++root) {
      std::vector<std::pair<int, int>> stack{{root, 0}};
      while (!stack.empty()) {
        auto& [i, next] = stack.back();
        if (next == 0) {
          if (state[i] == 2) {
            stack.pop_back();
            continue;
          }
          if (state[i] == 1) {
            return Status::error(g_.label + ": the graph has a cycle through node '" +
                                 graph.node(i).name() + "'; the file is corrupt");
          }
          state[i] = 1;
        }
        const auto& node = graph.node(i);
        if (next < node.input_size()) {
          const auto it = producer.find(node.input(next++));
          if (it != producer.end() && state[it->second] != 2) {
            if (state[it->second] == 1) {
              return Status::error(g_.label + ": the graph has a cycle through node '" +
                                   node.name() + "'; the file is corrupt");
            }
            stack.push_back({it->second, 0});
          }
          continue;
        }
        state[i] = 2;
        order.push_back(i);
        stack.pop_back();
      }
    }

    std::map<std::string, std::string> unsupported;  // op -> first node
    for (int i : order) {
      const auto& p = graph.node(i);
      const std::string op = p.domain().empty() || p.domain() == "ai.onnx"
                                 ? p.op_type()
                                 : p.domain() + "." + p.op_type();
      const std::string who = p.name().empty()
                                  ? (p.output_size() ? "producing '" + p.output(0) + "'" : "")
                                  : "'" + p.name() + "'";
      if (op == "Constant") {
        if (Status s = import_constant(p, who); !s.ok()) return s;
        continue;
      }
      if (!find_op(op) && op != "Upsample") {
        unsupported.emplace(op, who);
        continue;
      }
      Node n{.op = op, .name = p.name()};
      for (const auto& a : p.attribute()) {
        auto attr = read_attr(a, g_.label + ": node " + who + " (" + op + ")");
        if (!attr.ok()) return attr.status();
        n.attrs[a.name()] = std::move(*attr);
      }
      for (const auto& in : p.input()) {
        if (in.empty()) {
          n.inputs.push_back(-1);
          continue;
        }
        const auto it = ids_.find(in);
        if (it == ids_.end()) {
          return Status::error(g_.label + ": node " + who + " (" + op + ") reads '" + in +
                               "', which no node, input or initializer provides; the file is "
                               "corrupt");
        }
        n.inputs.push_back(it->second);
      }
      for (int k = 0; k < p.output_size(); ++k) {
        const std::string& o = p.output(k);
        // Unused optional outputs still get a value, so kernels always have somewhere to write.
        Value v{.name =
                    o.empty() ? (p.name().empty() ? op : p.name()) + ":" + std::to_string(k) : o};
        const int id = g_.add_value(std::move(v));
        if (!o.empty()) ids_[o] = id;
        n.outputs.push_back(id);
      }
      canonicalize(n);
      g_.nodes.push_back(std::move(n));
    }
    if (!unsupported.empty()) {
      const std::string list = join(unsupported, ", ", [](const auto& op_who) {
        return "op " + op_who.first + " (node " + op_who.second + ")";
      });
      return Status::error(g_.label + ": the iris runtime does not support " + list +
                           "; fix: re-export the model without " +
                           (unsupported.size() == 1 ? "that op" : "those ops") +
                           ", use `backend: opencv`, or add the op to src/runtime/ (supported: " +
                           join(supported_ops()) + ")");
    }
    return {};
  }

  Status import_constant(const onnx::NodeProto& p, const std::string& who) {
    if (p.output_size() != 1 || p.attribute_size() != 1) {
      return Status::error(g_.label + ": Constant node " + who +
                           " needs one output and one value attribute; the file is corrupt");
    }
    const auto& a = p.attribute(0);
    HostTensor t;
    if (a.name() == "value") {
      auto r = read_tensor(a.t(), g_.label + ": Constant node " + who);
      if (!r.ok()) return r.status();
      t = std::move(*r);
    } else if (a.name() == "value_float") {
      t = HostTensor::of<float>({}, {a.f()});
    } else if (a.name() == "value_floats") {
      t = HostTensor::of<float>({a.floats_size()}, {a.floats().begin(), a.floats().end()});
    } else if (a.name() == "value_int") {
      t = HostTensor::of<int64_t>({}, {a.i()});
    } else if (a.name() == "value_ints") {
      t = HostTensor::of<int64_t>({a.ints_size()}, {a.ints().begin(), a.ints().end()});
    } else {
      return Status::error(g_.label + ": Constant node " + who + " holds a '" + a.name() +
                           "', which the iris runtime does not support; fix: export the constant "
                           "as a dense tensor");
    }
    add_named_constant(p.output(0), std::move(t));
    return {};
  }

  // A constant the file names: an initializer, or a Constant node's output.
  void add_named_constant(const std::string& name, HostTensor t) {
    Value v{.name = name, .dtype = t.dtype, .shape = t.shape};
    v.constant = std::make_shared<const HostTensor>(std::move(t));
    ids_[name] = g_.add_value(std::move(v));
  }

  // Moves attribute `key` (ints) into input slot `slot` as a constant.
  void attr_to_input(Node& n, const char* key, size_t slot) {
    if (n.inputs.size() <= slot) n.inputs.resize(slot + 1, -1);
    const auto it = n.attrs.find(key);
    if (it == n.attrs.end()) return;
    HostTensor t;
    if (const auto* ints = std::get_if<std::vector<int64_t>>(&it->second)) {
      t = HostTensor::of<int64_t>({static_cast<int64_t>(ints->size())}, *ints);
    } else if (const auto* floats = std::get_if<std::vector<float>>(&it->second)) {
      t = HostTensor::of<float>({static_cast<int64_t>(floats->size())}, *floats);
    } else if (const auto* i = std::get_if<int64_t>(&it->second)) {
      t = HostTensor::of<int64_t>({1}, {*i});
    } else if (const auto* f = std::get_if<float>(&it->second)) {
      t = HostTensor::of<float>({}, {*f});
    }
    n.inputs[slot] = g_.add_constant(std::move(t), key);
    n.attrs.erase(it);
  }

  void canonicalize(Node& n) {
    const int64_t opset = g_.opset;
    const std::string& op = n.op;
    if (op == "Slice" && opset < 10) {
      attr_to_input(n, "starts", 1);
      attr_to_input(n, "ends", 2);
      attr_to_input(n, "axes", 3);
    } else if ((op == "Squeeze" || op == "Unsqueeze") && opset < 13) {
      attr_to_input(n, "axes", 1);
    } else if (op == "Split" && opset < 13) {
      attr_to_input(n, "split", 1);
    } else if (op.rfind("Reduce", 0) == 0 && (op == "ReduceSum" ? opset < 13 : opset < 18)) {
      attr_to_input(n, "axes", 1);
    } else if (op == "Pad" && opset < 11) {
      attr_to_input(n, "pads", 1);
      if (n.has_attr("value")) {
        n.inputs.resize(3, -1);
        n.inputs[2] =
            g_.add_constant(HostTensor::of<float>({}, {n.attr_float("value", 0)}), "pad_value");
        n.attrs.erase("value");
      }
    } else if (op == "Clip" && opset < 11) {
      n.inputs.resize(3, -1);
      if (n.has_attr("min")) {
        n.inputs[1] = g_.add_constant(HostTensor::of<float>({}, {n.attr_float("min", 0)}), "min");
      }
      if (n.has_attr("max")) {
        n.inputs[2] = g_.add_constant(HostTensor::of<float>({}, {n.attr_float("max", 0)}), "max");
      }
      n.attrs.erase("min");
      n.attrs.erase("max");
    } else if (op == "TopK" && opset < 10) {
      attr_to_input(n, "k", 1);
    } else if (op == "Upsample" || (op == "Resize" && opset < 11)) {
      // Upsample-7 and Resize-10: asymmetric coordinates; nearest rounds down.
      if (op == "Upsample" && n.has_attr("scales")) attr_to_input(n, "scales", 1);
      n.op = "Resize";
      const int scales = n.input(1);
      n.inputs = {n.inputs[0], -1, scales};
      std::string mode = n.attr_string("mode", "nearest");
      if (mode == "bilinear") mode = "linear";
      n.attrs["mode"] = mode;
      n.attrs["coordinate_transformation_mode"] = std::string("asymmetric");
      n.attrs["nearest_mode"] = std::string("floor");
    } else if ((op == "Softmax" || op == "LogSoftmax") && !n.has_attr("axis")) {
      n.attrs["axis"] = int64_t{opset < 13 ? 1 : -1};
    }
    if ((op == "Softmax" || op == "LogSoftmax") && opset < 13) n.attrs["_flatten"] = int64_t{1};
  }

  const onnx::ModelProto& m_;
  Graph g_;
  std::unordered_map<std::string, int> ids_;
};

}  // namespace

Result<Graph> import_onnx(std::string_view bytes, const std::string& label) {
  onnx::ModelProto m;
  if (bytes.empty() || bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || !m.has_graph()) {
    return Status::error(label +
                         " is not an ONNX model (it does not parse as an ONNX ModelProto "
                         "with a graph); fix: point the model's path at an .onnx file");
  }
  return Importer(m, label).run();
}

Result<Graph> import_onnx_file(const std::string& path) {
  const std::string label = "model '" + path + "'";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::error(label +
                         " does not exist or is not a file; fix: check the model's path "
                         "(models shipped with iris come from scripts/fetch_models.sh)");
  }
  auto bytes = read_file(path);
  if (!bytes.ok()) {
    return Status::error(label + " could not be read (" + bytes.status().message() +
                         "); fix: make it readable");
  }
  return import_onnx(*bytes, label);
}

}  // namespace iris::runtime
