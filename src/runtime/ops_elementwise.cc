// Elementwise ops: activations and math on one tensor, arithmetic, comparisons and logic with
// numpy broadcasting, Where, Cast, Expand. Float32 is the hot path at inference (when oneDNN
// cannot take a broadcast); int64 and bool serve shape arithmetic and masks.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "runtime/ops.h"

namespace iris::runtime {
namespace {

// Calls body(out_begin, count, offsets) for every row of `out` (its last axis), with `offsets`
// the element offset of the row's first element in each input; inputs step by `inner[k]` (0 or 1)
// along the row. Large outputs split their rows across threads.
template <size_t N, typename Body>
void for_rows(const Shape& out, const std::array<const Shape*, N>& ins, Body body) {
  const size_t rank = out.size();
  std::array<std::vector<int64_t>, N> strides;
  std::array<int64_t, N> inner{};
  for (size_t k = 0; k < N; ++k) {
    strides[k] = broadcast_strides(*ins[k], out);
    inner[k] = rank ? strides[k][rank - 1] : 0;
  }
  const int64_t width = rank ? out[rank - 1] : 1;
  const int64_t total = element_count(out);
  if (total == 0) return;
  const int64_t rows = total / width;
#pragma omp parallel for if (total > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    std::array<int64_t, N> off{};
    int64_t rem = r;
    for (size_t d = rank > 0 ? rank - 1 : 0; d-- > 0;) {
      const int64_t i = rem % out[d];
      rem /= out[d];
      for (size_t k = 0; k < N; ++k) off[k] += i * strides[k][d];
    }
    body(r * width, width, off, inner);
  }
}

// ---- unary ----

Result<std::vector<TypedShape>> same_as_input(const Operands& a) {
  return std::vector<TypedShape>(a.node.outputs.size(), {a.in[0].dtype, a.shape(0)});
}

Result<std::vector<TypedShape>> float_unary(const Operands& a) {
  if (a.in[0].dtype != DType::kFloat32) {
    return a.error(std::string("needs a float input, got ") + dtype_name(a.in[0].dtype));
  }
  return same_as_input(a);
}

Status activation_plain(const Operands& a, const std::vector<View>& out) {
  auto act = activation_of(a);
  if (!act) return a.error("has bounds that are not scalars known at load");
  const float* x = a.in[0].as<float>();
  float* y = out[0].as<float>();
  const int64_t n = out[0].count();
  const Activation act_v = *act;
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) y[i] = apply_activation(act_v, x[i]);
  return {};
}

// Abs, Neg and Clip also take int64.
Result<std::vector<TypedShape>> numeric_unary(const Operands& a) {
  if (a.in[0].dtype == DType::kBool) return a.error("needs a numeric input, got bool");
  return same_as_input(a);
}

template <typename T>
T clip_bound(const Operands& a, size_t i, T fallback) {
  if (!a.has(i)) return fallback;
  const View& v = a.in[i];
  return v.dtype == DType::kInt64 ? static_cast<T>(v.as<int64_t>()[0])
                                  : static_cast<T>(v.as<float>()[0]);
}

Status numeric_unary_plain(const Operands& a, const std::vector<View>& out) {
  const std::string& op = a.node.op;
  return dispatch(a.in[0].dtype, [&](auto zero) -> Status {
    using T = decltype(zero);
    const T* x = a.in[0].as<T>();
    T* y = out[0].as<T>();
    const int64_t n = out[0].count();
    if (op == "Abs") {
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0 ? -x[i] : x[i];
    } else if (op == "Neg") {
      for (int64_t i = 0; i < n; ++i) y[i] = -x[i];
    } else {  // Clip
      const T lo = clip_bound<T>(a, 1, std::numeric_limits<T>::lowest());
      const T hi = clip_bound<T>(a, 2, std::numeric_limits<T>::max());
      for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(x[i], lo), hi);
    }
    return {};
  });
}

Status float_math_plain(const Operands& a, const std::vector<View>& out) {
  const std::string& op = a.node.op;
  const float* x = a.in[0].as<float>();
  float* y = out[0].as<float>();
  const int64_t n = out[0].count();
  float (*f)(float) = nullptr;
  if (op == "Floor") f = [](float v) { return std::floor(v); };
  if (op == "Ceil") f = [](float v) { return std::ceil(v); };
  if (op == "Round") f = [](float v) { return std::nearbyint(v); };  // half to even
  if (op == "Reciprocal") f = [](float v) { return 1.0f / v; };
  if (op == "Erf") f = [](float v) { return std::erf(v); };
  if (op == "Sin") f = [](float v) { return std::sin(v); };
  if (op == "Cos") f = [](float v) { return std::cos(v); };
  if (op == "Sign") f = [](float v) { return static_cast<float>((v > 0) - (v < 0)); };
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
  return {};
}

Result<std::vector<TypedShape>> bool_unary(const Operands& a) {
  if (a.in[0].dtype != DType::kBool) return a.error("needs a bool input");
  return same_as_input(a);
}

Status not_plain(const Operands& a, const std::vector<View>& out) {
  const uint8_t* x = a.in[0].as<uint8_t>();
  uint8_t* y = out[0].as<uint8_t>();
  for (int64_t i = 0; i < out[0].count(); ++i) y[i] = !x[i];
  return {};
}

// Identity and Dropout (inference: output = input, mask all true).
Result<std::vector<TypedShape>> identity_infer(const Operands& a) {
  std::vector<TypedShape> out{{a.in[0].dtype, a.shape(0)}};
  if (a.node.outputs.size() > 1) out.push_back({DType::kBool, a.shape(0)});
  return out;
}

Status identity_plain(const Operands& a, const std::vector<View>& out) {
  std::memcpy(out[0].data, a.in[0].data, out[0].count() * dtype_size(out[0].dtype));
  if (out.size() > 1) std::memset(out[1].data, 1, out[1].count());
  return {};
}

// ---- Cast ----

std::optional<DType> cast_target(int64_t onnx_type) {
  switch (onnx_type) {
    case 1:   // FLOAT
    case 10:  // FLOAT16
    case 11:  // DOUBLE
    case 16:  // BFLOAT16
      return DType::kFloat32;
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 12:
    case 13:
      return DType::kInt64;
    case 9:
      return DType::kBool;
  }
  return std::nullopt;
}

Result<std::vector<TypedShape>> cast_infer(const Operands& a) {
  const auto to = cast_target(a.node.attr_int("to", 0));
  if (!to) {
    return a.error("casts to ONNX type " + std::to_string(a.node.attr_int("to", 0)) +
                   ", which the iris runtime does not support (float, integers, bool)");
  }
  return std::vector<TypedShape>{{*to, a.shape(0)}};
}

// Narrow integer targets wrap as the ONNX type would (int32, uint8...); nullptr for the rest.
template <typename N>
int64_t wrap(int64_t v) {
  return static_cast<N>(v);
}

using Narrow = int64_t (*)(int64_t);

Narrow narrowing(int64_t onnx_type) {
  switch (onnx_type) {
    case 2:
      return wrap<uint8_t>;
    case 3:
      return wrap<int8_t>;
    case 4:
      return wrap<uint16_t>;
    case 5:
      return wrap<int16_t>;
    case 6:
      return wrap<int32_t>;
    case 12:
      return wrap<uint32_t>;
  }
  return nullptr;
}

Status cast_plain(const Operands& a, const std::vector<View>& out) {
  const int64_t n = out[0].count();
  const Narrow narrow = narrowing(a.node.attr_int("to", 1));
  return dispatch(a.in[0].dtype, [&](auto zero) -> Status {
    using S = decltype(zero);
    const S* x = a.in[0].as<S>();
    return dispatch(out[0].dtype, [&](auto zero2) -> Status {
      using D = decltype(zero2);
      D* y = out[0].as<D>();
      for (int64_t i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<D, uint8_t>) {
          y[i] = x[i] != 0;
        } else if constexpr (std::is_same_v<S, float> && std::is_same_v<D, int64_t>) {
          y[i] = std::isfinite(x[i]) ? static_cast<int64_t>(x[i]) : 0;
        } else {
          y[i] = static_cast<D>(x[i]);
        }
      }
      if constexpr (std::is_same_v<D, int64_t>) {
        if (narrow) {
          for (int64_t i = 0; i < n; ++i) y[i] = narrow(y[i]);
        }
      }
      return {};
    });
  });
}

// ---- binary and variadic ----

enum class Kind { kArith, kCompare, kLogic };

Kind kind_of(const std::string& op) {
  if (op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" ||
      op == "GreaterOrEqual") {
    return Kind::kCompare;
  }
  if (op == "And" || op == "Or" || op == "Xor") return Kind::kLogic;
  return Kind::kArith;
}

Result<std::vector<TypedShape>> nary_infer(const Operands& a) {
  std::vector<Shape> shapes;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a.has(i)) return a.error("has a missing input");
    shapes.push_back(a.shape(i));
    // Pow's exponent may differ in type; every other op takes one type.
    if (a.node.op != "Pow" && a.in[i].dtype != a.in[0].dtype) {
      return a.error(std::string("mixes element types ") + dtype_name(a.in[0].dtype) + " and " +
                     dtype_name(a.in[i].dtype));
    }
  }
  if (shapes.empty()) return a.error("has no inputs");
  const auto out = broadcast_shapes(shapes);
  if (!out) {
    std::string list;
    for (const auto& s : shapes) list += (list.empty() ? "" : " and ") + shape_string(s);
    return a.error("cannot broadcast " + list + " together");
  }
  const Kind kind = kind_of(a.node.op);
  if (kind == Kind::kLogic && a.in[0].dtype != DType::kBool) return a.error("needs bool inputs");
  if (kind == Kind::kArith && a.in[0].dtype == DType::kBool) {
    return a.error("does arithmetic on bool inputs");
  }
  const DType dtype = kind == Kind::kArith ? a.in[0].dtype : DType::kBool;
  return std::vector<TypedShape>{{dtype, *out}};
}

// Calls run(f) with f(x, y) the arithmetic `op` on T, chosen once rather than per element.
template <typename T, typename Run>
void with_arith(const std::string& op, bool fmod, Run run) {
  if (op == "Add" || op == "Sum" || op == "Mean") return run([](T x, T y) -> T { return x + y; });
  if (op == "Sub") return run([](T x, T y) -> T { return x - y; });
  if (op == "Mul") return run([](T x, T y) -> T { return x * y; });
  if (op == "Max") return run([](T x, T y) { return std::max(x, y); });
  if (op == "Min") return run([](T x, T y) { return std::min(x, y); });
  if (op == "Div") {
    return run([](T x, T y) -> T {
      if constexpr (std::is_integral_v<T>) return y == 0 ? 0 : x / y;
      return x / y;
    });
  }
  if (op == "Pow") {
    return run([](T x, T y) -> T {
      if constexpr (std::is_integral_v<T>) {
        return static_cast<T>(std::llround(std::pow(static_cast<double>(x), y)));
      }
      return std::pow(x, y);
    });
  }
  // Mod: fmod=1 keeps the dividend's sign (C), fmod=0 the divisor's (Python).
  run([fmod](T x, T y) -> T {
    T r;
    if constexpr (std::is_integral_v<T>) {
      if (y == 0) return 0;
      r = x % y;
    } else {
      r = std::fmod(x, y);
    }
    if (!fmod && r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
  });
}

// Calls run(f) with f(x, y) the comparison or logic `op` on T, as a bool byte.
template <typename T, typename Run>
void with_compare(const std::string& op, Run run) {
  if (op == "Equal") return run([](T x, T y) -> uint8_t { return x == y; });
  if (op == "Less") return run([](T x, T y) -> uint8_t { return x < y; });
  if (op == "Greater") return run([](T x, T y) -> uint8_t { return x > y; });
  if (op == "LessOrEqual") return run([](T x, T y) -> uint8_t { return x <= y; });
  if (op == "GreaterOrEqual") return run([](T x, T y) -> uint8_t { return x >= y; });
  if (op == "And") return run([](T x, T y) -> uint8_t { return x && y; });
  if (op == "Or") return run([](T x, T y) -> uint8_t { return x || y; });
  run([](T x, T y) -> uint8_t { return (x != 0) != (y != 0); });  // Xor
}

// out = f(x, y) elementwise with broadcasting, x and y of type T, out of type R.
template <typename T, typename R, typename F>
void binary_loop(const View& x, const View& y, const View& out, F f) {
  const T* px = x.as<T>();
  const T* py = y.as<T>();
  R* po = out.as<R>();
  for_rows<2>(out.shape, {&x.shape, &y.shape},
              [&](int64_t o, int64_t n, const std::array<int64_t, 2>& off,
                  const std::array<int64_t, 2>& step) {
                for (int64_t k = 0; k < n; ++k) {
                  po[o + k] = f(px[off[0] + k * step[0]], py[off[1] + k * step[1]]);
                }
              });
}

Status nary_plain(const Operands& a, const std::vector<View>& out) {
  const std::string op = a.node.op;
  const Kind kind = kind_of(op);
  const bool fmod = a.node.attr_int("fmod", 0) != 0;
  if (kind != Kind::kArith) {
    return dispatch(a.in[0].dtype, [&](auto zero) -> Status {
      using T = decltype(zero);
      with_compare<T>(op, [&](auto f) { binary_loop<T, uint8_t>(a.in[0], a.in[1], out[0], f); });
      return {};
    });
  }
  return dispatch(out[0].dtype, [&](auto zero) -> Status {
    using T = decltype(zero);
    if (a.size() == 1) {
      binary_loop<T, T>(a.in[0], a.in[0], out[0], [](T x, T) { return x; });
      return {};
    }
    // A Pow exponent of another type, converted to the base's type.
    std::vector<T> exponent;
    View rhs = a.in[1];
    if (op == "Pow" && a.in[1].dtype != out[0].dtype) {
      exponent = a.in[1].values<T>();
      rhs = {out[0].dtype, a.in[1].shape, exponent.data()};
    }
    with_arith<T>(op, fmod, [&](auto f) {
      binary_loop<T, T>(a.in[0], rhs, out[0], f);
      // Variadic Sum, Max, Min, Mean: fold the rest into the output.
      for (size_t i = 2; i < a.size(); ++i) binary_loop<T, T>(out[0], a.in[i], out[0], f);
    });
    if (op == "Mean") {
      T* y = out[0].as<T>();
      for (int64_t i = 0; i < out[0].count(); ++i) y[i] /= static_cast<T>(a.size());
    }
    return {};
  });
}

// ---- Where, Expand ----

Result<std::vector<TypedShape>> where_infer(const Operands& a) {
  if (a.in[0].dtype != DType::kBool) return a.error("needs a bool condition");
  if (a.in[1].dtype != a.in[2].dtype) return a.error("has branches of different element types");
  const auto out = broadcast_shapes({a.shape(0), a.shape(1), a.shape(2)});
  if (!out) return a.error("cannot broadcast its inputs together");
  return std::vector<TypedShape>{{a.in[1].dtype, *out}};
}

Status where_plain(const Operands& a, const std::vector<View>& out) {
  return dispatch(out[0].dtype, [&](auto zero) -> Status {
    using T = decltype(zero);
    const uint8_t* c = a.in[0].as<uint8_t>();
    const T* x = a.in[1].as<T>();
    const T* y = a.in[2].as<T>();
    T* o = out[0].as<T>();
    for_rows<3>(out[0].shape, {&a.in[0].shape, &a.in[1].shape, &a.in[2].shape},
                [&](int64_t at, int64_t n, const std::array<int64_t, 3>& off,
                    const std::array<int64_t, 3>& step) {
                  for (int64_t k = 0; k < n; ++k) {
                    o[at + k] =
                        c[off[0] + k * step[0]] ? x[off[1] + k * step[1]] : y[off[2] + k * step[2]];
                  }
                });
    return {};
  });
}

Result<std::vector<TypedShape>> expand_infer(const Operands& a) {
  auto shape = a.ints(1, "shape");
  if (!shape.ok()) return shape.status();
  const auto out = broadcast_shapes({a.shape(0), *shape});
  if (!out) {
    return a.error("cannot expand " + shape_string(a.shape(0)) + " to " + shape_string(*shape));
  }
  return std::vector<TypedShape>{{a.in[0].dtype, *out}};
}

Status expand_plain(const Operands& a, const std::vector<View>& out) {
  return dispatch(out[0].dtype, [&](auto zero) -> Status {
    using T = decltype(zero);
    const T* x = a.in[0].as<T>();
    T* o = out[0].as<T>();
    for_rows<1>(out[0].shape, {&a.in[0].shape},
                [&](int64_t at, int64_t n, const std::array<int64_t, 1>& off,
                    const std::array<int64_t, 1>& step) {
                  for (int64_t k = 0; k < n; ++k) o[at + k] = x[off[0] + k * step[0]];
                });
    return {};
  });
}

}  // namespace

const OpDef kElementwiseOps[] = {
    {"Relu", float_unary, activation_plain},
    {"LeakyRelu", float_unary, activation_plain},
    {"Sigmoid", float_unary, activation_plain},
    {"HardSigmoid", float_unary, activation_plain},
    {"HardSwish", float_unary, activation_plain},
    {"Swish", float_unary, activation_plain},  // x * sigmoid(x); fusion makes it (SiLU)
    {"Tanh", float_unary, activation_plain},
    {"Softplus", float_unary, activation_plain},
    {"Elu", float_unary, activation_plain},
    {"Exp", float_unary, activation_plain},
    {"Log", float_unary, activation_plain},
    {"Sqrt", float_unary, activation_plain},
    {"Abs", numeric_unary, numeric_unary_plain},
    {"Neg", numeric_unary, numeric_unary_plain},
    {"Clip", numeric_unary, numeric_unary_plain},
    {"Floor", float_unary, float_math_plain},
    {"Ceil", float_unary, float_math_plain},
    {"Round", float_unary, float_math_plain},
    {"Reciprocal", float_unary, float_math_plain},
    {"Erf", float_unary, float_math_plain},
    {"Sin", float_unary, float_math_plain},
    {"Cos", float_unary, float_math_plain},
    {"Sign", float_unary, float_math_plain},
    {"Not", bool_unary, not_plain},
    {"Identity", identity_infer, identity_plain},
    {"Dropout", identity_infer, identity_plain},
    {"Cast", cast_infer, cast_plain},
    {"Add", nary_infer, nary_plain},
    {"Sub", nary_infer, nary_plain},
    {"Mul", nary_infer, nary_plain},
    {"Div", nary_infer, nary_plain},
    {"Pow", nary_infer, nary_plain},
    {"Mod", nary_infer, nary_plain},
    {"Max", nary_infer, nary_plain},
    {"Min", nary_infer, nary_plain},
    {"Sum", nary_infer, nary_plain},
    {"Mean", nary_infer, nary_plain},
    {"Equal", nary_infer, nary_plain},
    {"Less", nary_infer, nary_plain},
    {"Greater", nary_infer, nary_plain},
    {"LessOrEqual", nary_infer, nary_plain},
    {"GreaterOrEqual", nary_infer, nary_plain},
    {"And", nary_infer, nary_plain},
    {"Or", nary_infer, nary_plain},
    {"Xor", nary_infer, nary_plain},
    {"Where", where_infer, where_plain},
    {"Expand", expand_infer, expand_plain},
    {nullptr, nullptr, nullptr},
};

}  // namespace iris::runtime
