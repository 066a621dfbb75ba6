#include "server/kserve_codec.h"

#include <opencv2/core/cvdef.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/text.h"

namespace iris::server {
namespace {

using nlohmann::json;

enum class Kind { kFloat, kHalf, kSigned, kUnsigned };

struct Datatype {
  std::string_view name;
  int size;  // bytes per element in binary data
  Kind kind;
  double min, max;  // the type's range
};

// Integers beyond 2^24 are not all FP32 values: those must come as FP32 themselves.
constexpr double kExactInt = 16777216.0;

constexpr Datatype kAccepted[] = {
    {"FP32", 4, Kind::kFloat, -3.4028234663852886e38, 3.4028234663852886e38},
    {"FP16", 2, Kind::kHalf, -65504, 65504},
    {"UINT8", 1, Kind::kUnsigned, 0, 255},
    {"INT8", 1, Kind::kSigned, -128, 127},
    {"UINT16", 2, Kind::kUnsigned, 0, 65535},
    {"INT16", 2, Kind::kSigned, -32768, 32767},
    {"INT32", 4, Kind::kSigned, -2147483648.0, 2147483647.0},
    {"INT64", 8, Kind::kSigned, -9223372036854775808.0, 9223372036854775807.0},
};
// KServe datatypes that cannot feed an FP32 model input without changing values.
constexpr std::string_view kRefused[] = {"BOOL", "UINT32", "UINT64", "FP64", "BF16", "BYTES"};
constexpr std::string_view kAcceptedList =
    "FP32, or FP16, UINT8, INT8, UINT16, INT16, INT32, INT64 whose values are exact FP32 values";

const Datatype* find_datatype(std::string_view name) {
  for (const Datatype& d : kAccepted) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string show(const json& v) {
  std::string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// The context of every message about one input.
std::string where(const std::string& name) { return "input '" + name + "'"; }

// One JSON value as an element of `type`, checked.
Result<float> element(const json& v, const Datatype& type, const std::string& input) {
  if (!v.is_number()) {
    return Status::error(where(input) + ": " + show(v) + " is not a number; " +
                         std::string(type.name) + " data holds numbers");
  }
  const double d = v.get<double>();
  if (type.kind == Kind::kSigned || type.kind == Kind::kUnsigned) {
    if (v.is_number_float() && d != std::floor(d)) {
      return Status::error(where(input) + ": " + show(v) + " is not an integer; " +
                           std::string(type.name) + " data holds integers (or send FP32)");
    }
  }
  if (!(d >= type.min && d <= type.max)) {
    return Status::error(where(input) + ": " + show(v) + " is out of the range of " +
                         std::string(type.name));
  }
  if ((type.kind == Kind::kSigned || type.kind == Kind::kUnsigned) && std::abs(d) > kExactInt) {
    return Status::error(where(input) + ": " + show(v) +
                         " is not exactly an FP32 value, which the model computes in; send it "
                         "as FP32 or keep integers within +-16777216");
  }
  return static_cast<float>(d);
}

// Appends the values of `data`, flat or nested row-major, to *out; `depth` bounds the nesting
// to the shape's rank.
Status flatten(const json& data, const Datatype& type, const std::string& input, size_t depth,
               std::vector<float>* out, size_t limit) {
  for (const json& v : data) {
    if (v.is_array()) {
      if (depth == 0) {
        return Status::error(where(input) + ": data is nested deeper than its shape's rank");
      }
      if (Status s = flatten(v, type, input, depth - 1, out, limit); !s) return s;
      continue;
    }
    if (out->size() >= limit) {
      return Status::error(where(input) + ": data has more values than its shape holds (" +
                           std::to_string(limit) + ")");
    }
    auto e = element(v, type, input);
    if (!e.ok()) return e.status();
    out->push_back(*e);
  }
  return Status();
}

// Reads `count` elements of `type` from little-endian bytes.
Status from_binary(std::string_view bytes, const Datatype& type, const std::string& input,
                   std::vector<float>* out) {
  const size_t n = bytes.size() / type.size;
  out->resize(n);
  const char* p = bytes.data();
  for (size_t i = 0; i < n; ++i, p += type.size) {
    double v = 0;
    switch (type.kind) {
      case Kind::kFloat: {
        float f;
        std::memcpy(&f, p, 4);
        (*out)[i] = f;
        continue;
      }
      case Kind::kHalf: {
        uint16_t h;
        std::memcpy(&h, p, 2);
        (*out)[i] = static_cast<float>(cv::float16_t::fromBits(h));
        continue;
      }
      case Kind::kUnsigned:
        if (type.size == 1) {
          v = static_cast<uint8_t>(*p);
        } else {
          uint16_t u;
          std::memcpy(&u, p, 2);
          v = u;
        }
        break;
      case Kind::kSigned:
        if (type.size == 1) {
          v = static_cast<int8_t>(*p);
        } else if (type.size == 2) {
          int16_t s;
          std::memcpy(&s, p, 2);
          v = s;
        } else if (type.size == 4) {
          int32_t s;
          std::memcpy(&s, p, 4);
          v = s;
        } else {
          int64_t s;
          std::memcpy(&s, p, 8);
          v = static_cast<double>(s);
        }
        break;
    }
    if (std::abs(v) > kExactInt) {
      return Status::error(where(input) + ": element " + std::to_string(i) + " (" +
                           std::to_string(static_cast<long long>(v)) +
                           ") is not exactly an FP32 value; send FP32");
    }
    (*out)[i] = static_cast<float>(v);
  }
  return Status();
}

// The shortest decimal text that reads back as exactly `v`; "null" for NaN and infinities, which
// JSON cannot hold.
void append_float(std::string& out, float v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// A string member of `object`; errors name the object (`what`) and the key.
Result<std::string> string_field(const json& object, const char* key, const std::string& what,
                                 bool required) {
  const auto it = object.find(key);
  if (it == object.end()) {
    if (!required) return std::string();
    return Status::error(what + " has no \"" + key + "\"; add it");
  }
  if (!it->is_string()) {
    return Status::error(what + ": \"" + key + "\" is " + show(*it) + ", not a string");
  }
  return it->get<std::string>();
}

Result<std::optional<bool>> bool_parameter(const json& object, const char* key,
                                           const std::string& what) {
  const auto params = object.find("parameters");
  if (params == object.end()) return std::optional<bool>();
  if (!params->is_object()) {
    return Status::error(what + ": \"parameters\" is " + show(*params) + ", not an object");
  }
  const auto it = params->find(key);
  if (it == params->end()) return std::optional<bool>();
  if (!it->is_boolean()) {
    return Status::error(what + ": parameter \"" + key + "\" is " + show(*it) +
                         ", not true or false");
  }
  return std::optional<bool>(it->get<bool>());
}

Result<std::vector<int64_t>> read_shape(const json& input, const std::string& name) {
  const auto it = input.find("shape");
  if (it == input.end() || !it->is_array()) {
    return Status::error(where(name) + " needs \"shape\": a list of dimensions, e.g. [1, 3]");
  }
  std::vector<int64_t> shape;
  for (const json& d : *it) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      return Status::error(where(name) + ": shape " + show(*it) + " must list whole numbers >= 0");
    }
    shape.push_back(d.get<int64_t>());
  }
  return shape;
}

}  // namespace

Result<InferRequest> parse_infer_request(std::string_view body,
                                         std::optional<uint64_t> header_length) {
  std::string_view head = body;
  std::string_view binary;
  if (header_length) {
    if (*header_length > body.size()) {
      return Status::error("Inference-Header-Content-Length is " + std::to_string(*header_length) +
                           " but the body has only " + std::to_string(body.size()) + " bytes");
    }
    head = body.substr(0, *header_length);
    binary = body.substr(*header_length);
  }
  json root;
  try {
    root = json::parse(head);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    if (const size_t end = what.find("] "); end != std::string::npos) what = what.substr(end + 2);
    return Status::error("the request is not valid JSON (" + what + ")");
  }
  if (!root.is_object()) {
    return Status::error("the request is " + show(root) +
                         "; it must be an object with \"inputs\": [...]");
  }
  InferRequest request;
  auto id = string_field(root, "id", "the request", false);
  if (!id.ok()) return id.status();
  request.id = *id;
  auto binary_out = bool_parameter(root, "binary_data_output", "the request");
  if (!binary_out.ok()) return binary_out.status();
  request.binary_outputs = binary_out->value_or(false);

  const auto inputs = root.find("inputs");
  if (inputs == root.end() || !inputs->is_array() || inputs->empty()) {
    return Status::error(
        "the request needs \"inputs\": a non-empty list of "
        "{\"name\", \"shape\", \"datatype\", \"data\"}");
  }
  size_t offset = 0;  // into the binary part
  for (const json& in : *inputs) {
    if (!in.is_object()) {
      return Status::error("an input is " + show(in) +
                           "; each is an object with name, shape, datatype and data");
    }
    auto name = string_field(in, "name", "an input", true);
    if (!name.ok()) return name.status();
    InferInput input;
    input.name = *name;
    auto datatype = string_field(in, "datatype", where(input.name), true);
    if (!datatype.ok()) return datatype.status();
    input.datatype = *datatype;
    auto shape = read_shape(in, input.name);
    if (!shape.ok()) return shape.status();
    const Datatype* type = find_datatype(input.datatype);
    if (!type) {
      const bool known =
          std::find(std::begin(kRefused), std::end(kRefused), input.datatype) != std::end(kRefused);
      return Status::error(where(input.name) + ": " +
                           (known ? "datatype " + input.datatype + " cannot feed the model's FP32"
                                  : "unknown datatype '" + input.datatype + "'") +
                           "; send " + std::string(kAcceptedList));
    }
    // Bounded by the body: no shape may claim more elements than the bytes could carry.
    uint64_t count = 1;
    for (int64_t d : *shape) {
      if (d != 0 && count > body.size() / static_cast<uint64_t>(d)) {
        return Status::error(where(input.name) + ": shape " + infer::shape_string(*shape) +
                             " holds more values than the request carries");
      }
      count *= static_cast<uint64_t>(d);
    }
    auto binary_size = [&]() -> Result<std::optional<uint64_t>> {
      const auto params = in.find("parameters");
      if (params == in.end() || !params->is_object()) return std::optional<uint64_t>();
      const auto it = params->find("binary_data_size");
      if (it == params->end()) return std::optional<uint64_t>();
      if (!it->is_number_unsigned()) {
        return Status::error(where(input.name) + ": binary_data_size is " + show(*it) +
                             ", not a byte count");
      }
      return std::optional<uint64_t>(it->get<uint64_t>());
    }();
    if (!binary_size.ok()) return binary_size.status();
    const auto data = in.find("data");
    if (binary_size->has_value()) {
      if (data != in.end()) {
        return Status::error(where(input.name) +
                             " has both \"data\" and binary_data_size; send one of them");
      }
      const uint64_t size = **binary_size;
      if (size != count * type->size) {
        return Status::error(where(input.name) + ": binary_data_size is " + std::to_string(size) +
                             " bytes, but shape " + infer::shape_string(*shape) + " of " +
                             input.datatype + " needs " + std::to_string(count * type->size));
      }
      if (offset + size > binary.size()) {
        return Status::error(where(input.name) + ": the binary data ends after " +
                             std::to_string(binary.size()) + " bytes, " +
                             std::to_string(offset + size) + " were announced");
      }
      if (Status s =
              from_binary(binary.substr(offset, size), *type, input.name, &input.tensor.data);
          !s) {
        return s;
      }
      offset += size;
    } else {
      if (data == in.end() || !data->is_array()) {
        return Status::error(where(input.name) +
                             " needs \"data\": a list of values (flat or nested), or "
                             "binary_data_size with the binary tensor extension");
      }
      input.tensor.data.reserve(count);
      if (Status s = flatten(*data, *type, input.name, shape->size(), &input.tensor.data, count);
          !s) {
        return s;
      }
      if (input.tensor.data.size() != count) {
        return Status::error(where(input.name) + ": data has " +
                             std::to_string(input.tensor.data.size()) + " values, but shape " +
                             infer::shape_string(*shape) + " needs " + std::to_string(count));
      }
    }
    input.tensor.name = input.name;
    input.tensor.shape = std::move(*shape);
    request.inputs.push_back(std::move(input));
  }
  if (offset != binary.size()) {
    return Status::error("the body has " + std::to_string(binary.size() - offset) +
                         " bytes of binary data that no input claims (binary_data_size)");
  }

  if (const auto outputs = root.find("outputs"); outputs != root.end()) {
    if (!outputs->is_array()) {
      return Status::error("\"outputs\" is " + show(*outputs) +
                           "; give a list of {\"name\": ...}, or leave it out for all");
    }
    for (const json& out : *outputs) {
      if (!out.is_object()) {
        return Status::error("an output is " + show(out) + "; each is an object with a name");
      }
      auto name = string_field(out, "name", "an output", true);
      if (!name.ok()) return name.status();
      auto binary_flag = bool_parameter(out, "binary_data", "output '" + *name + "'");
      if (!binary_flag.ok()) return binary_flag.status();
      request.outputs.push_back({*name, *binary_flag});
    }
  }
  return request;
}

EncodedResponse encode_infer_response(std::string_view model, std::string_view id,
                                      const std::vector<OutputToSend>& outputs) {
  EncodedResponse r;
  std::string& s = r.body;
  s += "{\"model_name\":" + json(model).dump() + ",\"model_version\":\"1\"";
  if (!id.empty()) s += ",\"id\":" + json(id).dump();
  s += ",\"outputs\":[";
  std::string binary;
  bool any_binary = false;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const infer::Tensor& t = *outputs[i].tensor;
    if (i > 0) s += ',';
    s += "{\"name\":" + json(t.name).dump() + ",\"datatype\":\"FP32\",\"shape\":[";
    for (size_t d = 0; d < t.shape.size(); ++d) {
      if (d > 0) s += ',';
      s += std::to_string(t.shape[d]);
    }
    s += ']';
    if (outputs[i].binary) {
      any_binary = true;
      // Little-endian, as the extension asks: the byte order of every machine iris builds for.
      const size_t bytes = t.data.size() * sizeof(float);
      s += ",\"parameters\":{\"binary_data_size\":" + std::to_string(bytes) + "}}";
      binary.append(reinterpret_cast<const char*>(t.data.data()), bytes);
      continue;
    }
    s += ",\"data\":[";
    s.reserve(s.size() + t.data.size() * 10);
    for (size_t k = 0; k < t.data.size(); ++k) {
      if (k > 0) s += ',';
      append_float(s, t.data[k]);
    }
    s += "]}";
  }
  s += "]}";
  if (any_binary) {
    r.header_length = s.size();
    s += binary;
  }
  return r;
}

}  // namespace iris::server
