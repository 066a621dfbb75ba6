// Elementwise ops against plain-loop references: activations, math, arithmetic with numpy
// broadcasting (either side, both sides), comparisons, logic, Where, Cast, Expand.
#include <algorithm>
#include <cmath>

#include "op_test.h"

namespace iris::runtime {
namespace {

struct Unary {
  const char* op;
  std::vector<A> attrs;
  float lo, hi;  // input range
  std::function<double(double)> ref;
};

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

TEST(RuntimeElementwise, UnaryMatchesReference) {
  const std::vector<Unary> cases = {
      {"Relu", {}, -2, 2, [](double x) { return std::max(x, 0.0); }},
      {"LeakyRelu", {A::f("alpha", 0.1f)}, -2, 2, [](double x) { return x > 0 ? x : 0.1 * x; }},
      {"Sigmoid", {}, -6, 6, sigmoid},
      {"HardSigmoid",
       {A::f("alpha", 0.3f), A::f("beta", 0.4f)},
       -4,
       4,
       [](double x) { return std::clamp(0.3 * x + 0.4, 0.0, 1.0); }},
      {"HardSwish", {}, -5, 5, [](double x) { return x * std::clamp(x + 3, 0.0, 6.0) / 6; }},
      {"Tanh", {}, -3, 3, [](double x) { return std::tanh(x); }},
      {"Softplus", {}, -5, 5, [](double x) { return std::log1p(std::exp(x)); }},
      {"Elu",
       {A::f("alpha", 0.7f)},
       -3,
       3,
       [](double x) { return x > 0 ? x : 0.7 * (std::exp(x) - 1); }},
      {"Exp", {}, -3, 3, [](double x) { return std::exp(x); }},
      {"Log", {}, 0.1f, 5, [](double x) { return std::log(x); }},
      {"Sqrt", {}, 0, 9, [](double x) { return std::sqrt(x); }},
      {"Abs", {}, -2, 2, [](double x) { return std::fabs(x); }},
      {"Neg", {}, -2, 2, [](double x) { return -x; }},
      {"Floor", {}, -3, 3, [](double x) { return std::floor(x); }},
      {"Ceil", {}, -3, 3, [](double x) { return std::ceil(x); }},
      {"Reciprocal", {}, 0.5f, 3, [](double x) { return 1 / x; }},
      {"Erf", {}, -2, 2, [](double x) { return std::erf(x); }},
      {"Identity", {}, -2, 2, [](double x) { return x; }},
  };
  const std::vector<Shape> shapes = {{7}, {2, 3, 5, 7}, {1, 17, 9, 13}, {3, 1, 33}};
  for (const Unary& c : cases) {
    for (const Shape& shape : shapes) {
      both_modes([&](bool fold) {
        SCOPED_TRACE(std::string(c.op) + " " + shape_string(shape));
        const HostTensor x = random(shape, c.lo, c.hi, 7);
        GraphBuilder b(fold);
        b.output(b.node(c.op, {b.data(x)}, c.attrs)[0]);
        const auto out = b.run();
        ASSERT_EQ(out.size(), 1u);
        HostTensor want = x;
        for (int64_t i = 0; i < x.count(); ++i) {
          want.data<float>()[i] = static_cast<float>(c.ref(x.data<float>()[i]));
        }
        expect_near(out[0], want, 1e-5f, 2e-5f, c.op);
      });
    }
  }
}

TEST(RuntimeElementwise, ClipWithBoundsAsInputsAndAttributes) {
  const HostTensor x = random({2, 8, 5, 5}, -3, 3, 3);
  HostTensor want = x;
  for (int64_t i = 0; i < x.count(); ++i) {
    want.data<float>()[i] = std::clamp(x.data<float>()[i], -0.5f, 1.5f);
  }
  both_modes([&](bool fold) {
    GraphBuilder b(fold);  // opset 11+: bounds are inputs
    b.output(b.node(
        "Clip", {b.data(x), b.constant(tensor({}, {-0.5f})), b.constant(tensor({}, {1.5f}))})[0]);
    expect_near(b.run()[0], want, 0, 0, "Clip-13");
    GraphBuilder old(fold, 9);  // opset < 11: bounds are attributes
    old.output(old.node("Clip", {old.data(x)}, {A::f("min", -0.5f), A::f("max", 1.5f)})[0]);
    expect_near(old.run()[0], want, 0, 0, "Clip-9");
  });
  // Only a lower bound: ReLU6's cousin without the top.
  GraphBuilder b;
  b.output(b.node("Clip", {b.data(x), b.constant(tensor({}, {0.25f}))})[0]);
  HostTensor low = x;
  for (int64_t i = 0; i < x.count(); ++i)
    low.data<float>()[i] = std::max(x.data<float>()[i], 0.25f);
  expect_near(b.run()[0], low, 0, 0, "Clip min only");
}

// out[i] = f(a[broadcast i], b[broadcast i]) in double.
HostTensor binary_ref(const HostTensor& a, const HostTensor& b,
                      const std::function<double(double, double)>& f) {
  const Shape out = broadcast(a.shape, b.shape);
  const auto sa = broadcast_strides_of(a.shape, out), sb = broadcast_strides_of(b.shape, out);
  HostTensor r = HostTensor::zeros(DType::kFloat32, out);
  int64_t k = 0;
  const auto va = a.floats(), vb = b.floats();
  for_each_index(out, [&](const std::vector<int64_t>& idx) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
      ia += idx[d] * sa[d];
      ib += idx[d] * sb[d];
    }
    r.data<float>()[k++] = static_cast<float>(f(va[ia], vb[ib]));
  });
  return r;
}

TEST(RuntimeElementwise, BinaryBroadcastsEitherSide) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}},  // same
      {{2, 3, 4, 5}, {1, 3, 1, 1}},  // per channel
      {{1, 3, 1, 1}, {2, 3, 4, 5}},  // per channel on the left
      {{2, 3, 4, 5}, {5}},           // lower rank
      {{2, 3, 4, 5}, {}},            // scalar
      {{4, 1}, {1, 6}},              // both sides broadcast
      {{2, 1, 7}, {3, 1}},           // both, different ranks
      {{1, 16, 8, 8}, {1, 16, 8, 8}},
  };
  const std::vector<std::pair<const char*, std::function<double(double, double)>>> ops = {
      {"Add", [](double x, double y) { return x + y; }},
      {"Sub", [](double x, double y) { return x - y; }},
      {"Mul", [](double x, double y) { return x * y; }},
      {"Div", [](double x, double y) { return x / y; }},
      {"Max", [](double x, double y) { return std::max(x, y); }},
      {"Min", [](double x, double y) { return std::min(x, y); }},
      {"Pow", [](double x, double y) { return std::pow(x, y); }},
  };
  for (const auto& [op, ref] : ops) {
    for (const auto& [sa, sb] : shapes) {
      both_modes([&](bool fold) {
        SCOPED_TRACE(std::string(op) + " " + shape_string(sa) + " " + shape_string(sb));
        const bool pow = std::string(op) == "Pow";
        // Divisors away from zero; Pow bases positive.
        const HostTensor a = random(sa, pow ? 0.5f : -2, 2, 11);
        const HostTensor b = random(sb, 0.5f, 2, 12);
        GraphBuilder g(fold);
        g.output(g.node(op, {g.data(a), g.data(b)})[0]);
        expect_near(g.run()[0], binary_ref(a, b, ref), 1e-5f, 1e-5f, op);
      });
    }
  }
}

TEST(RuntimeElementwise, ScalarOperandsBecomeLinearEltwise) {
  const HostTensor x = random({1, 5, 6, 7}, -2, 2, 4);
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow"}) {
    const float c = std::string(op) == "Pow" ? 2.0f : 0.75f;
    GraphBuilder b;
    b.output(b.node(op, {b.input(x), b.constant(tensor({}, {c}))})[0]);
    const HostTensor want = binary_ref(x, tensor({}, {c}), [&](double p, double q) {
      const std::string o = op;
      if (o == "Add") return p + q;
      if (o == "Sub") return p - q;
      if (o == "Mul") return p * q;
      if (o == "Div") return p / q;
      return std::pow(p, q);
    });
    expect_near(b.run()[0], want, 1e-5f, 1e-5f, op);
  }
}

TEST(RuntimeElementwise, VariadicSumMeanMaxMin) {
  const HostTensor a = random({2, 3, 4}, -1, 1, 1), b = random({3, 1}, -1, 1, 2),
                   c = random({4}, -1, 1, 3);
  const auto three = [&](const std::function<double(double, double)>& f, bool mean) {
    HostTensor r = binary_ref(binary_ref(a, b, f), c, f);
    if (mean) {
      for (int64_t i = 0; i < r.count(); ++i) r.data<float>()[i] /= 3;
    }
    return r;
  };
  both_modes([&](bool fold) {
    for (const char* op : {"Sum", "Mean", "Max", "Min"}) {
      GraphBuilder g(fold);
      g.output(g.node(op, {g.data(a), g.data(b), g.data(c)})[0]);
      const std::string o = op;
      const auto f = o == "Max" ? std::function<double(double, double)>(
                                      [](double x, double y) { return std::max(x, y); })
                     : o == "Min" ? [](double x, double y) { return std::min(x, y); }
                                  : [](double x, double y) { return x + y; };
      expect_near(g.run()[0], three(f, o == "Mean"), 1e-5f, 1e-5f, op);
    }
  });
}

TEST(RuntimeElementwise, IntegerArithmeticAndMod) {
  const HostTensor a = ints({2, 3}, {7, -7, 9, 0, 5, -12});
  const HostTensor b = ints({3}, {2, 3, -4});
  both_modes([&](bool fold) {
    const auto run = [&](const char* op, std::vector<A> attrs = {}) {
      GraphBuilder g(fold);
      g.output(g.node(op, {g.data(a), g.data(b)}, attrs)[0]);
      return g.run()[0];
    };
    expect_equal(run("Add"), ints({2, 3}, {9, -4, 5, 2, 8, -16}), "Add");
    expect_equal(run("Mul"), ints({2, 3}, {14, -21, -36, 0, 15, 48}), "Mul");
    expect_equal(run("Div"), ints({2, 3}, {3, -2, -2, 0, 1, 3}), "Div truncates");
    expect_equal(run("Mod"), ints({2, 3}, {1, 2, -3, 0, 2, 0}), "Mod follows the divisor");
    expect_equal(run("Mod", {A::i("fmod", 1)}), ints({2, 3}, {1, -1, 1, 0, 2, 0}),
                 "fmod follows the dividend");
  });
}

TEST(RuntimeElementwise, ComparisonsLogicAndWhere) {
  const HostTensor a = tensor({2, 3}, {1, 2, 3, 4, 5, 6});
  const HostTensor b = tensor({3}, {2, 2, 7});
  const auto bools = [](const Shape& s, const std::vector<bool>& v) {
    return HostTensor::of<bool>(s, v);
  };
  both_modes([&](bool fold) {
    const auto cmp = [&](const char* op) {
      GraphBuilder g(fold);
      g.output(g.node(op, {g.data(a), g.data(b)})[0]);
      return g.run()[0];
    };
    expect_equal(cmp("Less"), bools({2, 3}, {1, 0, 1, 0, 0, 1}), "Less");
    expect_equal(cmp("Greater"), bools({2, 3}, {0, 0, 0, 1, 1, 0}), "Greater");
    expect_equal(cmp("Equal"), bools({2, 3}, {0, 1, 0, 0, 0, 0}), "Equal");
    expect_equal(cmp("LessOrEqual"), bools({2, 3}, {1, 1, 1, 0, 0, 1}), "LessOrEqual");
    expect_equal(cmp("GreaterOrEqual"), bools({2, 3}, {0, 1, 0, 1, 1, 0}), "GreaterOrEqual");

    GraphBuilder g(fold);
    const auto lt = g.node("Less", {g.data(a), g.data(b)})[0];
    const auto gt = g.node("Greater", {g.data(a), g.data(b)})[0];
    g.output(g.node("Or", {lt, gt})[0]);
    g.output(g.node("And", {lt, g.node("Not", {gt})[0]})[0]);
    g.output(g.node("Xor", {lt, lt})[0]);
    // Where with a broadcast condition and branches.
    g.output(g.node("Where", {lt, g.data(a), g.data(tensor({}, {-1}))})[0]);
    const auto out = g.run();
    ASSERT_EQ(out.size(), 4u);
    expect_equal(out[0], bools({2, 3}, {1, 0, 1, 1, 1, 1}), "Or");
    expect_equal(out[1], bools({2, 3}, {1, 0, 1, 0, 0, 1}), "And Not");
    expect_equal(out[2], bools({2, 3}, {0, 0, 0, 0, 0, 0}), "Xor");
    expect_equal(out[3], tensor({2, 3}, {1, -1, 3, -1, -1, 6}), "Where");
  });
}

TEST(RuntimeElementwise, CastBetweenTypes) {
  const HostTensor x = tensor({5}, {-2.7f, -0.5f, 0.0f, 1.9f, 300.25f});
  both_modes([&](bool fold) {
    GraphBuilder g(fold);
    const auto i64 = g.node("Cast", {g.data(x)}, {A::i("to", onnx::TensorProto::INT64)})[0];
    g.output(i64);
    g.output(g.node("Cast", {g.data(x)}, {A::i("to", onnx::TensorProto::BOOL)})[0]);
    g.output(g.node("Cast", {g.data(x)}, {A::i("to", onnx::TensorProto::UINT8)})[0]);
    g.output(g.node("Cast", {i64}, {A::i("to", onnx::TensorProto::FLOAT)})[0]);
    const auto out = g.run();
    ASSERT_EQ(out.size(), 4u);
    expect_equal(out[0], ints({5}, {-2, 0, 0, 1, 300}), "to int64 truncates");
    expect_equal(out[1], HostTensor::of<bool>({5}, {1, 1, 0, 1, 1}), "to bool");
    expect_equal(out[2], ints({5}, {254, 0, 0, 1, 44}), "to uint8 wraps");
    expect_equal(out[3], tensor({5}, {-2, 0, 0, 1, 300}), "back to float");
  });
}

TEST(RuntimeElementwise, ExpandBroadcastsToAShape) {
  const HostTensor x = random({3, 1}, -1, 1, 5);
  both_modes([&](bool fold) {
    GraphBuilder g(fold);
    g.output(g.node("Expand", {g.data(x), g.constant(ints({2, 1, 4}))})[0]);
    const HostTensor want = binary_ref(x, HostTensor::zeros(DType::kFloat32, {2, 1, 4}),
                                       [](double p, double) { return p; });
    expect_near(g.run()[0], want, 0, 0, "Expand");
  });
}

}  // namespace
}  // namespace iris::runtime
