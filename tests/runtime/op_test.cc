#include "op_test.h"

#include <cstring>

namespace iris::runtime {

namespace {

A named(const std::string& name, onnx::AttributeProto::AttributeType type) {
  A a;
  a.p.set_name(name);
  a.p.set_type(type);
  return a;
}

int onnx_type(DType t) {
  switch (t) {
    case DType::kInt64:
      return onnx::TensorProto::INT64;
    case DType::kBool:
      return onnx::TensorProto::BOOL;
    case DType::kFloat32:
      break;
  }
  return onnx::TensorProto::FLOAT;
}

}  // namespace

A A::i(const std::string& name, int64_t v) {
  A a = named(name, onnx::AttributeProto::INT);
  a.p.set_i(v);
  return a;
}

A A::is(const std::string& name, const Ints& v) {
  A a = named(name, onnx::AttributeProto::INTS);
  for (int64_t x : v) a.p.add_ints(x);
  return a;
}

A A::f(const std::string& name, float v) {
  A a = named(name, onnx::AttributeProto::FLOAT);
  a.p.set_f(v);
  return a;
}

A A::fs(const std::string& name, const Floats& v) {
  A a = named(name, onnx::AttributeProto::FLOATS);
  for (float x : v) a.p.add_floats(x);
  return a;
}

A A::s(const std::string& name, const std::string& v) {
  A a = named(name, onnx::AttributeProto::STRING);
  a.p.set_s(v);
  return a;
}

A A::t(const std::string& name, const HostTensor& v) {
  A a = named(name, onnx::AttributeProto::TENSOR);
  *a.p.mutable_t() = to_proto(v, "");
  return a;
}

onnx::TensorProto to_proto(const HostTensor& t, const std::string& name) {
  onnx::TensorProto p;
  p.set_name(name);
  p.set_data_type(onnx_type(t.dtype));
  for (int64_t d : t.shape) p.add_dims(d);
  p.set_raw_data(std::string(t.bytes.begin(), t.bytes.end()));
  return p;
}

std::string GraphBuilder::data(const HostTensor& t) { return fold_ ? constant(t) : input(t); }

std::string GraphBuilder::constant(const HostTensor& t) {
  const std::string name = fresh("c");
  *graph_.add_initializer() = to_proto(t, name);
  return name;
}

std::string GraphBuilder::input(const HostTensor& t) {
  const std::string name = fresh("x");
  auto* in = graph_.add_input();
  in->set_name(name);
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx_type(t.dtype));
  auto* shape = tt->mutable_shape();
  for (int64_t d : t.shape) shape->add_dim()->set_dim_value(d);
  feeds_.push_back(t);
  return name;
}

std::vector<std::string> GraphBuilder::node(const std::string& op,
                                            const std::vector<std::string>& inputs,
                                            const std::vector<A>& attrs, int outputs,
                                            const std::string& name) {
  auto* n = graph_.add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  std::vector<std::string> outs;
  for (int k = 0; k < outputs; ++k) {
    outs.push_back(fresh("y"));
    n->add_output(outs.back());
  }
  for (const A& a : attrs) *n->add_attribute() = a.p;
  return outs;
}

std::string GraphBuilder::bytes() const {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset_);
  *m.mutable_graph() = graph_;
  m.mutable_graph()->set_name("test");
  for (const auto& o : outputs_) {
    auto* out = m.mutable_graph()->add_output();
    out->set_name(o);
    out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
  return m.SerializeAsString();
}

Result<std::shared_ptr<const Model>> GraphBuilder::compile(const Options& options) const {
  auto g = import_onnx(bytes(), "model 'test'");
  if (!g.ok()) return g.status();
  return Model::compile(*g, options);
}

std::vector<HostTensor> GraphBuilder::run(const Options& options) const {
  // On failure: one empty tensor per output, so that callers can index and compare.
  const std::vector<HostTensor> failed(outputs_.size(), HostTensor::zeros(DType::kFloat32, {0}));
  auto model = compile(options);
  if (!model.ok()) {
    ADD_FAILURE() << model.status().message();
    return failed;
  }
  auto context = (*model)->new_context();
  if (!context.ok()) {
    ADD_FAILURE() << context.status().message();
    return failed;
  }
  std::vector<View> in;
  for (const HostTensor& t : feeds_) in.push_back(View::of(t));
  std::vector<HostTensor> out;
  if (Status s = (*context)->run(in, &out); !s.ok()) {
    ADD_FAILURE() << s.message();
    return failed;
  }
  return out;
}

HostTensor random(const Shape& shape, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  HostTensor t = HostTensor::zeros(DType::kFloat32, shape);
  for (int64_t i = 0; i < t.count(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

HostTensor tensor(const Shape& shape, const Floats& v) { return HostTensor::of<float>(shape, v); }
HostTensor ints(const Shape& shape, const Ints& v) { return HostTensor::of<int64_t>(shape, v); }
HostTensor ints(const Ints& v) { return ints({static_cast<int64_t>(v.size())}, v); }

void expect_near(const HostTensor& got, const HostTensor& want, float atol, float rtol,
                 const std::string& what) {
  ASSERT_EQ(got.shape, want.shape)
      << what << ": shape " << shape_string(got.shape) << " vs " << shape_string(want.shape);
  const auto g = got.floats(), w = want.floats();
  for (size_t i = 0; i < g.size(); ++i) {
    const bool close = std::fabs(g[i] - w[i]) <= atol + rtol * std::fabs(w[i]) ||
                       (std::isnan(g[i]) && std::isnan(w[i])) || g[i] == w[i];
    if (!close) {
      ADD_FAILURE() << what << ": element " << i << " of " << shape_string(got.shape) << " is "
                    << g[i] << ", want " << w[i];
      return;
    }
  }
}

void expect_equal(const HostTensor& got, const HostTensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype, want.dtype) << what;
  ASSERT_EQ(got.shape, want.shape)
      << what << ": shape " << shape_string(got.shape) << " vs " << shape_string(want.shape);
  EXPECT_EQ(got.ints(), want.ints()) << what;
  if (got.dtype == DType::kFloat32) {
    EXPECT_EQ(got.floats(), want.floats()) << what;
  }
}

Shape broadcast(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t x = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    const int64_t y = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    out[i] = x == 1 ? y : x;
  }
  return out;
}

std::vector<int64_t> broadcast_strides_of(const Shape& s, const Shape& out) {
  const auto own = row_strides(s);
  std::vector<int64_t> st(out.size(), 0);
  for (size_t i = 0; i < s.size(); ++i) {
    st[out.size() - s.size() + i] = s[i] == 1 ? 0 : own[i];
  }
  return st;
}

std::vector<int64_t> row_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

void for_each_index(const Shape& shape, const std::function<void(const std::vector<int64_t>&)>& f) {
  const int64_t n = element_count(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t k = 0; k < n; ++k) {
    f(idx);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

// Direct convolution in double. pads: begin..., end...
HostTensor conv_ref(const HostTensor& x, const HostTensor& w, const HostTensor* b,
                    const Ints& strides, const Ints& pads, const Ints& dil, int64_t group) {
  const Shape& xs = x.shape;
  const Shape& ws = w.shape;
  const size_t sp = xs.size() - 2;
  Shape ys{xs[0], ws[0]};
  for (size_t i = 0; i < sp; ++i) {
    const int64_t dk = (ws[2 + i] - 1) * dil[i] + 1;
    ys.push_back((xs[2 + i] + pads[i] + pads[sp + i] - dk) / strides[i] + 1);
  }
  HostTensor y = HostTensor::zeros(DType::kFloat32, ys);
  const auto xst = row_strides(xs), wst = row_strides(ws);
  const int64_t icg = ws[1], ocg = ws[0] / group;
  const Shape kshape(ws.begin() + 2, ws.end());
  int64_t at = 0;
  for_each_index(ys, [&](const std::vector<int64_t>& o) {
    const int64_t n = o[0], oc = o[1], g = oc / ocg;
    double sum = b ? b->data<float>()[oc] : 0.0;
    for (int64_t ic = 0; ic < icg; ++ic) {
      for_each_index(kshape, [&](const std::vector<int64_t>& k) {
        int64_t xo = n * xst[0] + (g * icg + ic) * xst[1];
        for (size_t i = 0; i < sp; ++i) {
          const int64_t p = o[2 + i] * strides[i] - pads[i] + k[i] * dil[i];
          if (p < 0 || p >= xs[2 + i]) return;
          xo += p * xst[2 + i];
        }
        int64_t wo = oc * wst[0] + ic * wst[1];
        for (size_t i = 0; i < sp; ++i) wo += k[i] * wst[2 + i];
        sum += static_cast<double>(x.data<float>()[xo]) * w.data<float>()[wo];
      });
    }
    y.data<float>()[at++] = static_cast<float>(sum);
  });
  return y;
}

// `f` of every element.
HostTensor map(const HostTensor& t, const std::function<double(double)>& f) {
  HostTensor r = t;
  for (int64_t i = 0; i < t.count(); ++i)
    r.data<float>()[i] = static_cast<float>(f(t.data<float>()[i]));
  return r;
}

}  // namespace iris::runtime
