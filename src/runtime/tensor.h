// Tensors of the iris runtime: element types, static shapes, constant data the runtime owns
// (initializers, folded values) and views onto memory it does not (a Context's arena, the
// caller's buffers).
//
// The runtime keeps three element types. ONNX's other integer types widen to int64 and its
// other float types (float16, double) to float32 at import: detectors only use integers for
// shapes and indices, where int64 loses nothing.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace iris::runtime {

enum class DType : uint8_t { kFloat32, kInt64, kBool };

using Shape = std::vector<int64_t>;

size_t dtype_size(DType t);
const char* dtype_name(DType t);

int64_t element_count(const Shape& shape);
// Row-major strides of `shape`, in elements.
std::vector<int64_t> strides_of(const Shape& shape);
// "[1, 3, 640, 640]"; -1 prints as "?".
std::string shape_string(const Shape& shape);

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::kBool;
}

// A dense row-major array the runtime owns: an initializer, a folded value, an output.
struct HostTensor {
  DType dtype = DType::kFloat32;
  Shape shape;
  std::vector<uint8_t> bytes;  // element_count() * dtype_size(dtype); bool is one byte

  // Zero-filled.
  static HostTensor zeros(DType dtype, Shape shape);
  template <typename T>
  static HostTensor of(Shape shape, const std::vector<T>& values) {
    HostTensor t = zeros(dtype_of<T>(), std::move(shape));
    if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < values.size(); ++i) t.bytes[i] = values[i];
    } else {
      std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
    }
    return t;
  }

  int64_t count() const { return element_count(shape); }
  template <typename T>
  T* data() {
    return reinterpret_cast<T*>(bytes.data());
  }
  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(bytes.data());
  }
  // The values as int64 (int64 or bool tensors) or as float (any), for reading small constants.
  std::vector<int64_t> ints() const;
  std::vector<float> floats() const;
};

// A dense row-major array in memory someone else owns: how plain kernels see their operands.
struct View {
  DType dtype = DType::kFloat32;
  Shape shape;
  void* data = nullptr;

  int64_t count() const { return element_count(shape); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data);
  }
  static View of(const HostTensor& t) {
    return {t.dtype, t.shape, const_cast<uint8_t*>(t.bytes.data())};
  }
  static View of(HostTensor& t) { return {t.dtype, t.shape, t.bytes.data()}; }

  // The values converted to T (float, int64_t, or uint8_t for bool): small constants, and
  // operands of another type.
  template <typename T>
  std::vector<T> values() const {
    const auto convert = [&](const auto* p) { return std::vector<T>(p, p + count()); };
    switch (dtype) {
      case DType::kInt64:
        return convert(as<int64_t>());
      case DType::kBool:
        return convert(as<uint8_t>());
      case DType::kFloat32:
        break;
    }
    return convert(as<float>());
  }
};

}  // namespace iris::runtime
