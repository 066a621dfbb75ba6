// Ops that move data without arithmetic: shape queries, reshapes, transposes, concatenation,
// splitting, slicing, gathering, tiling, padding, and the constant generators (ConstantOfShape,
// Range). With static shapes most of them fold away at load; the rest copy bytes whatever the
// element type.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/ops.h"

namespace iris::runtime {
namespace {

// Copies elements of size `esize`: out (row-major over `shape`) from `src` at
// base + sum(index[d] * stride[d]), strides in elements.
void strided_copy(const Shape& shape, const std::vector<int64_t>& stride, int64_t base,
                  const uint8_t* src, uint8_t* dst, size_t esize) {
  const size_t rank = shape.size();
  const int64_t total = element_count(shape);
  if (total == 0) return;
  if (rank == 0) {
    std::memcpy(dst, src + base * esize, esize);
    return;
  }
  const int64_t width = shape[rank - 1], step = stride[rank - 1];
  const int64_t rows = total / width;
#pragma omp parallel for if (total > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    int64_t off = base, rem = r;
    for (size_t d = rank - 1; d-- > 0;) {
      off += (rem % shape[d]) * stride[d];
      rem /= shape[d];
    }
    uint8_t* o = dst + r * width * esize;
    if (step == 1) {
      std::memcpy(o, src + off * esize, width * esize);
      continue;
    }
    for (int64_t k = 0; k < width; ++k) {
      std::memcpy(o + k * esize, src + (off + k * step) * esize, esize);
    }
  }
}

Status copy_plain(const Operands& a, const std::vector<View>& out) {
  std::memcpy(out[0].data, a.in[0].data, out[0].count() * dtype_size(out[0].dtype));
  return {};
}

// ---- Shape, Size ----

Result<std::vector<TypedShape>> shape_infer(const Operands& a) {
  const int64_t rank = static_cast<int64_t>(a.shape(0).size());
  int64_t start = a.node.attr_int("start", 0), end = a.node.attr_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  return std::vector<TypedShape>{{DType::kInt64, {end - start}}};
}

Status shape_plain(const Operands& a, const std::vector<View>& out) {
  const int64_t rank = static_cast<int64_t>(a.shape(0).size());
  int64_t start = a.node.attr_int("start", 0);
  if (start < 0) start += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  for (int64_t i = 0; i < out[0].count(); ++i) out[0].as<int64_t>()[i] = a.shape(0)[start + i];
  return {};
}

Result<std::vector<TypedShape>> size_infer(const Operands& a) {
  return std::vector<TypedShape>{{DType::kInt64, {}}};
}

Status size_plain(const Operands& a, const std::vector<View>& out) {
  out[0].as<int64_t>()[0] = a.in[0].count();
  return {};
}

// ---- Reshape, Flatten, Squeeze, Unsqueeze ----

Result<std::vector<TypedShape>> reshape_infer(const Operands& a) {
  auto target = a.ints(1, "shape");
  if (!target.ok()) return target.status();
  const Shape& x = a.shape(0);
  const bool allow_zero = a.node.attr_int("allowzero", 0) != 0;
  Shape out = *target;
  int infer_at = -1;
  int64_t known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allow_zero) {
      if (i >= x.size()) return a.error("copies dimension " + std::to_string(i) + " it lacks");
      out[i] = x[i];
    }
    if (out[i] == -1) {
      if (infer_at >= 0) return a.error("has two -1 dimensions in its target shape");
      infer_at = static_cast<int>(i);
      continue;
    }
    if (out[i] < 0) return a.error("has a negative dimension in its target shape");
    known *= out[i];
  }
  const int64_t count = element_count(x);
  if (infer_at >= 0) {
    if (known == 0 || count % known != 0) {
      return a.error("cannot reshape " + shape_string(x) + " to " + shape_string(*target));
    }
    out[infer_at] = count / known;
  }
  if (element_count(out) != count) {
    return a.error("cannot reshape " + shape_string(x) + " (" + std::to_string(count) +
                   " values) to " + shape_string(*target));
  }
  return std::vector<TypedShape>{{a.in[0].dtype, out}};
}

Result<std::vector<TypedShape>> flatten_infer(const Operands& a) {
  const Shape& x = a.shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  int64_t axis = a.node.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) return a.error("axis is out of range for " + shape_string(x));
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x[i];
  return std::vector<TypedShape>{
      {a.in[0].dtype, {outer, element_count(x) / std::max<int64_t>(outer, 1)}}};
}

Result<std::vector<TypedShape>> squeeze_infer(const Operands& a) {
  const Shape& x = a.shape(0);
  std::vector<bool> drop(x.size(), false);
  if (a.has(1)) {
    auto axes = a.ints(1, "axes");
    if (!axes.ok()) return axes.status();
    for (int64_t ax : *axes) {
      auto r = a.axis(ax, x.size());
      if (!r.ok()) return r.status();
      if (x[*r] != 1) {
        return a.error("squeezes axis " + std::to_string(*r) + " of " + shape_string(x) +
                       ", which is not 1");
      }
      drop[*r] = true;
    }
  } else {
    for (size_t i = 0; i < x.size(); ++i) drop[i] = x[i] == 1;
  }
  Shape out;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!drop[i]) out.push_back(x[i]);
  }
  return std::vector<TypedShape>{{a.in[0].dtype, out}};
}

Result<std::vector<TypedShape>> unsqueeze_infer(const Operands& a) {
  auto axes = a.ints(1, "axes");
  if (!axes.ok()) return axes.status();
  const Shape& x = a.shape(0);
  const size_t rank = x.size() + axes->size();
  std::vector<bool> inserted(rank, false);
  for (int64_t ax : *axes) {
    auto r = a.axis(ax, rank);
    if (!r.ok()) return r.status();
    if (inserted[*r]) return a.error("inserts axis " + std::to_string(*r) + " twice");
    inserted[*r] = true;
  }
  Shape out;
  size_t k = 0;
  for (size_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? 1 : x[k++]);
  return std::vector<TypedShape>{{a.in[0].dtype, out}};
}

// ---- Transpose ----

Result<std::vector<TypedShape>> transpose_infer(const Operands& a) {
  const Shape& x = a.shape(0);
  auto perm = transpose_perm(a, x.size());
  if (!perm.ok()) return perm.status();
  Shape out;
  for (int64_t p : *perm) out.push_back(x[p]);
  return std::vector<TypedShape>{{a.in[0].dtype, out}};
}

Status transpose_plain(const Operands& a, const std::vector<View>& out) {
  const Shape& x = a.shape(0);
  const auto perm = transpose_perm(a, x.size()).value();
  const auto in_strides = strides_of(x);
  std::vector<int64_t> stride;
  for (int64_t p : perm) stride.push_back(in_strides[p]);
  strided_copy(out[0].shape, stride, 0, a.in[0].as<uint8_t>(), out[0].as<uint8_t>(),
               dtype_size(out[0].dtype));
  return {};
}

// ---- Concat, Split, Slice ----

Result<std::vector<TypedShape>> concat_infer(const Operands& a) {
  if (a.size() == 0) return a.error("has no inputs");
  const Shape& first = a.shape(0);
  auto axis = a.axis_attr(0, first.size());
  if (!axis.ok()) return axis.status();
  Shape out = first;
  out[*axis] = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const Shape& s = a.shape(i);
    bool fits = s.size() == first.size() && a.in[i].dtype == a.in[0].dtype;
    for (size_t d = 0; fits && d < s.size(); ++d)
      fits = d == static_cast<size_t>(*axis) || s[d] == first[d];
    if (!fits) {
      return a.error("cannot join " + shape_string(first) + " and " + shape_string(s) +
                     " along axis " + std::to_string(*axis));
    }
    out[*axis] += s[*axis];
  }
  return std::vector<TypedShape>{{a.in[0].dtype, out}};
}

Status concat_plain(const Operands& a, const std::vector<View>& out) {
  const Shape& os = out[0].shape;
  const int axis = a.axis_attr(0, os.size()).value();
  const size_t esize = dtype_size(out[0].dtype);
  const AxisDims d = axis_dims(os, axis);
  const int64_t out_row = d.axis * d.inner * esize;
  int64_t at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const int64_t row = a.shape(i)[axis] * d.inner * esize;
    for (int64_t o = 0; o < d.outer; ++o) {
      std::memcpy(out[0].as<uint8_t>() + o * out_row + at, a.in[i].as<uint8_t>() + o * row, row);
    }
    at += row;
  }
  return {};
}

Result<std::vector<TypedShape>> split_infer(const Operands& a) {
  const Shape& x = a.shape(0);
  auto axis = a.axis_attr(0, x.size());
  if (!axis.ok()) return axis.status();
  auto sizes = split_sizes(a, *axis, a.node.outputs.size());
  if (!sizes.ok()) return sizes.status();
  std::vector<TypedShape> out;
  for (int64_t s : *sizes) {
    Shape o = x;
    o[*axis] = s;
    out.push_back({a.in[0].dtype, o});
  }
  return out;
}

Status split_plain(const Operands& a, const std::vector<View>& out) {
  const Shape& x = a.shape(0);
  const int axis = a.axis_attr(0, x.size()).value();
  const size_t esize = dtype_size(a.in[0].dtype);
  const AxisDims d = axis_dims(x, axis);
  const int64_t in_row = d.axis * d.inner * esize;
  int64_t at = 0;
  for (const View& o : out) {
    const int64_t row = o.shape[axis] * d.inner * esize;
    for (int64_t r = 0; r < d.outer; ++r) {
      std::memcpy(o.as<uint8_t>() + r * row, a.in[0].as<uint8_t>() + r * in_row + at, row);
    }
    at += row;
  }
  return {};
}

Result<std::vector<TypedShape>> slice_infer(const Operands& a) {
  auto plan = slice_plan(a);
  if (!plan.ok()) return plan.status();
  Shape out;
  for (const auto& p : *plan) out.push_back(p.count);
  return std::vector<TypedShape>{{a.in[0].dtype, out}};
}

Status slice_plain(const Operands& a, const std::vector<View>& out) {
  const auto plan = slice_plan(a).value();
  const auto in_strides = strides_of(a.shape(0));
  std::vector<int64_t> stride(plan.size());
  int64_t base = 0;
  for (size_t d = 0; d < plan.size(); ++d) {
    base += plan[d].start * in_strides[d];
    stride[d] = plan[d].step * in_strides[d];
  }
  strided_copy(out[0].shape, stride, base, a.in[0].as<uint8_t>(), out[0].as<uint8_t>(),
               dtype_size(out[0].dtype));
  return {};
}

// ---- Gather, Tile, Pad ----

Result<std::vector<TypedShape>> gather_infer(const Operands& a) {
  const Shape& x = a.shape(0);
  if (x.empty()) return a.error("gathers from a scalar");
  if (a.in[1].dtype != DType::kInt64) return a.error("needs integer indices");
  auto axis = a.axis_attr(0, x.size());
  if (!axis.ok()) return axis.status();
  Shape out(x.begin(), x.begin() + *axis);
  out.insert(out.end(), a.shape(1).begin(), a.shape(1).end());
  out.insert(out.end(), x.begin() + *axis + 1, x.end());
  return std::vector<TypedShape>{{a.in[0].dtype, out}};
}

Status gather_plain(const Operands& a, const std::vector<View>& out) {
  const Shape& x = a.shape(0);
  const int axis = a.axis_attr(0, x.size()).value();
  const size_t esize = dtype_size(a.in[0].dtype);
  const AxisDims d = axis_dims(x, axis);
  const int64_t dim = d.axis, n = a.in[1].count();
  const int64_t* idx = a.in[1].as<int64_t>();
  const int64_t chunk = d.inner * esize;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = idx[k] < 0 ? idx[k] + dim : idx[k];
    if (i < 0 || i >= dim) {
      return a.error("index " + std::to_string(idx[k]) + " is out of range for axis " +
                     std::to_string(axis) + " of " + shape_string(x));
    }
  }
  for (int64_t o = 0; o < d.outer; ++o) {
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = idx[k] < 0 ? idx[k] + dim : idx[k];
      std::memcpy(out[0].as<uint8_t>() + (o * n + k) * chunk,
                  a.in[0].as<uint8_t>() + (o * dim + i) * chunk, chunk);
    }
  }
  return {};
}

Result<std::vector<TypedShape>> tile_infer(const Operands& a) {
  auto repeats = a.ints(1, "repeats");
  if (!repeats.ok()) return repeats.status();
  const Shape& x = a.shape(0);
  if (repeats->size() != x.size()) return a.error("repeats do not match the input's rank");
  Shape out = x;
  for (size_t i = 0; i < x.size(); ++i) {
    if ((*repeats)[i] < 0) return a.error("has a negative repeat");
    out[i] *= (*repeats)[i];
  }
  return std::vector<TypedShape>{{a.in[0].dtype, out}};
}

Status tile_plain(const Operands& a, const std::vector<View>& out) {
  const Shape& x = a.shape(0);
  const Shape& os = out[0].shape;
  const auto in_strides = strides_of(x);
  const size_t esize = dtype_size(out[0].dtype);
  const int64_t total = out[0].count();
  std::vector<int64_t> idx(os.size(), 0);
  for (int64_t o = 0; o < total; ++o) {
    int64_t off = 0;
    for (size_t d = 0; d < os.size(); ++d) off += (idx[d] % x[d]) * in_strides[d];
    std::memcpy(out[0].as<uint8_t>() + o * esize, a.in[0].as<uint8_t>() + off * esize, esize);
    next_index(os, &idx);
  }
  return {};
}

struct PadPlan {
  std::vector<int64_t> begin, end;
};

Result<PadPlan> pad_plan(const Operands& a) {
  const Shape& x = a.shape(0);
  auto pads = a.ints(1, "pads");
  if (!pads.ok()) return pads.status();
  std::vector<int64_t> axes;
  if (a.has(3)) {
    auto v = a.ints(3, "axes");
    if (!v.ok()) return v.status();
    axes = std::move(*v);
  } else {
    for (size_t i = 0; i < x.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (pads->size() != 2 * axes.size()) return a.error("pads do not match the input's rank");
  PadPlan p{std::vector<int64_t>(x.size(), 0), std::vector<int64_t>(x.size(), 0)};
  for (size_t k = 0; k < axes.size(); ++k) {
    auto r = a.axis(axes[k], x.size());
    if (!r.ok()) return r.status();
    p.begin[*r] = (*pads)[k];
    p.end[*r] = (*pads)[k + axes.size()];
  }
  const std::string mode = a.node.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    return a.error("has mode '" + mode + "'; the iris runtime pads with constant, reflect, edge");
  }
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] + p.begin[i] + p.end[i] < 0) return a.error("crops more than the input has");
    if (mode == "reflect" && (p.begin[i] >= x[i] || p.end[i] >= x[i])) {
      return a.error("reflects by more than the input's size minus one");
    }
    if (mode == "edge" && x[i] == 0 && p.begin[i] + p.end[i] > 0) {
      return a.error("pads an empty axis by its edge");
    }
  }
  return p;
}

Result<std::vector<TypedShape>> pad_infer(const Operands& a) {
  auto p = pad_plan(a);
  if (!p.ok()) return p.status();
  Shape out = a.shape(0);
  for (size_t i = 0; i < out.size(); ++i) out[i] += p->begin[i] + p->end[i];
  return std::vector<TypedShape>{{a.in[0].dtype, out}};
}

Status pad_plain(const Operands& a, const std::vector<View>& out) {
  const PadPlan p = pad_plan(a).value();
  const std::string mode = a.node.attr_string("mode", "constant");
  const bool constant = mode == "constant", edge = mode == "edge";  // else reflect
  const Shape& x = a.shape(0);
  const Shape& os = out[0].shape;
  const auto in_strides = strides_of(x);
  const size_t esize = dtype_size(out[0].dtype);
  std::vector<uint8_t> fill(esize, 0);
  if (a.has(2) && a.in[2].count() > 0) std::memcpy(fill.data(), a.in[2].data, esize);
  const int64_t total = out[0].count();
  std::vector<int64_t> idx(os.size(), 0);
  for (int64_t o = 0; o < total; ++o) {
    int64_t off = 0;
    bool outside = false;
    for (size_t d = 0; d < os.size(); ++d) {
      int64_t i = idx[d] - p.begin[d];
      if (i < 0 || i >= x[d]) {
        if (constant) {
          outside = true;
          break;
        }
        if (edge) {
          i = std::clamp<int64_t>(i, 0, x[d] - 1);
        } else {
          i = i < 0 ? -i : 2 * (x[d] - 1) - i;
        }
      }
      off += i * in_strides[d];
    }
    std::memcpy(out[0].as<uint8_t>() + o * esize,
                outside ? fill.data() : a.in[0].as<uint8_t>() + off * esize, esize);
    next_index(os, &idx);
  }
  return {};
}

// ---- ConstantOfShape, Range ----

Result<std::vector<TypedShape>> constant_of_shape_infer(const Operands& a) {
  auto shape = a.ints(0, "shape");
  if (!shape.ok()) return shape.status();
  for (int64_t d : *shape) {
    if (d < 0) return a.error("has a negative dimension in " + shape_string(*shape));
  }
  const HostTensor* value = a.node.attr_tensor("value");
  return std::vector<TypedShape>{{value ? value->dtype : DType::kFloat32, *shape}};
}

Status constant_of_shape_plain(const Operands& a, const std::vector<View>& out) {
  const HostTensor* value = a.node.attr_tensor("value");
  const size_t esize = dtype_size(out[0].dtype);
  std::vector<uint8_t> fill(esize, 0);
  if (value && value->count() > 0) std::memcpy(fill.data(), value->bytes.data(), esize);
  for (int64_t i = 0; i < out[0].count(); ++i) {
    std::memcpy(out[0].as<uint8_t>() + i * esize, fill.data(), esize);
  }
  return {};
}

Result<std::vector<TypedShape>> range_infer(const Operands& a) {
  auto start = a.floats(0, "start");
  if (!start.ok()) return start.status();
  auto limit = a.floats(1, "limit");
  if (!limit.ok()) return limit.status();
  auto delta = a.floats(2, "delta");
  if (!delta.ok()) return delta.status();
  if (start->size() != 1 || limit->size() != 1 || delta->size() != 1 || (*delta)[0] == 0) {
    return a.error("needs scalar start, limit and a non-zero delta");
  }
  int64_t n;
  if (a.in[0].dtype == DType::kInt64) {
    const int64_t s = a.ints(0, "start").value()[0], l = a.ints(1, "limit").value()[0],
                  d = a.ints(2, "delta").value()[0];
    n = d > 0 ? (l - s + d - 1) / d : (s - l - d - 1) / -d;
  } else {
    n = static_cast<int64_t>(std::ceil(((*limit)[0] - (*start)[0]) / (*delta)[0]));
  }
  return std::vector<TypedShape>{{a.in[0].dtype, {std::max<int64_t>(n, 0)}}};
}

Status range_plain(const Operands& a, const std::vector<View>& out) {
  if (out[0].dtype == DType::kInt64) {
    const int64_t s = a.ints(0, "start").value()[0], d = a.ints(2, "delta").value()[0];
    for (int64_t i = 0; i < out[0].count(); ++i) out[0].as<int64_t>()[i] = s + i * d;
  } else {
    const float s = a.floats(0, "start").value()[0], d = a.floats(2, "delta").value()[0];
    for (int64_t i = 0; i < out[0].count(); ++i) out[0].as<float>()[i] = s + i * d;
  }
  return {};
}

}  // namespace

const OpDef kShapeOps[] = {
    {"Shape", shape_infer, shape_plain},
    {"Size", size_infer, size_plain},
    {"Reshape", reshape_infer, copy_plain},
    {"Flatten", flatten_infer, copy_plain},
    {"Squeeze", squeeze_infer, copy_plain},
    {"Unsqueeze", unsqueeze_infer, copy_plain},
    {"Transpose", transpose_infer, transpose_plain},
    {"Concat", concat_infer, concat_plain},
    {"Split", split_infer, split_plain},
    {"Slice", slice_infer, slice_plain},
    {"Gather", gather_infer, gather_plain},
    {"Tile", tile_infer, tile_plain},
    {"Pad", pad_infer, pad_plain},
    {"ConstantOfShape", constant_of_shape_infer, constant_of_shape_plain},
    {"Range", range_infer, range_plain},
    {nullptr, nullptr, nullptr},
};

}  // namespace iris::runtime
