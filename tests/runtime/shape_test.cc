// Data-movement ops (Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice,
// Gather, Tile, Pad, ConstantOfShape, Range, Shape, Size) against hand-computed or plain-loop
// results, and constant folding of the shape chains a plain torch.onnx.export leaves in a graph.
#include <numeric>

#include "op_test.h"

namespace iris::runtime {
namespace {

HostTensor iota(const Shape& shape) {
  HostTensor t = HostTensor::zeros(DType::kFloat32, shape);
  for (int64_t i = 0; i < t.count(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

// The element of `t` at `idx` (row-major).
float at(const HostTensor& t, const std::vector<int64_t>& idx) {
  const auto st = row_strides(t.shape);
  int64_t off = 0;
  for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * st[d];
  return t.data<float>()[off];
}

HostTensor reshaped(HostTensor t, const Shape& shape) {
  t.shape = shape;
  return t;
}

TEST(RuntimeShape, ReshapeFlattenSqueezeUnsqueeze) {
  const HostTensor x = iota({2, 3, 4});
  both_modes([&](bool fold) {
    GraphBuilder g(fold);
    const auto d = g.data(x);
    g.output(g.node("Reshape", {d, g.constant(ints({0, -1}))})[0]);
    g.output(g.node("Reshape", {d, g.constant(ints({4, 0, 2}))})[0]);
    g.output(g.node("Flatten", {d}, {A::i("axis", 0)})[0]);
    g.output(g.node("Flatten", {d}, {A::i("axis", -1)})[0]);
    const auto u = g.node("Unsqueeze", {d, g.constant(ints({0, -1}))})[0];
    g.output(u);
    g.output(g.node("Squeeze", {u, g.constant(ints({0}))})[0]);
    g.output(g.node("Squeeze", {u})[0]);
    const auto out = g.run();
    ASSERT_EQ(out.size(), 7u);
    expect_equal(out[0], reshaped(x, {2, 12}), "Reshape 0, -1");
    expect_equal(out[1], reshaped(x, {4, 3, 2}), "Reshape copies dim 1");
    expect_equal(out[2], reshaped(x, {1, 24}), "Flatten axis 0");
    expect_equal(out[3], reshaped(x, {6, 4}), "Flatten axis -1");
    expect_equal(out[4], reshaped(x, {1, 2, 3, 4, 1}), "Unsqueeze");
    expect_equal(out[5], reshaped(x, {2, 3, 4, 1}), "Squeeze axis 0");
    expect_equal(out[6], x, "Squeeze all ones");
  });
  GraphBuilder old(false, 11);  // axes as attributes
  const auto u = old.node("Unsqueeze", {old.input(x)}, {A::is("axes", {1})})[0];
  old.output(old.node("Squeeze", {u}, {A::is("axes", {1})})[0]);
  old.output(u);
  const auto out = old.run();
  expect_equal(out[0], x, "opset 11 Squeeze");
  expect_equal(out[1], reshaped(x, {2, 1, 3, 4}), "opset 11 Unsqueeze");
}

TEST(RuntimeShape, TransposeAnyPermutationThenDenseConsumers) {
  const HostTensor x = random({2, 3, 4, 5}, -1, 1, 201);
  const std::vector<Ints> perms = {{0, 2, 3, 1}, {0, 3, 1, 2}, {3, 2, 1, 0}, {1, 0, 2, 3}, {}};
  for (const Ints& perm : perms) {
    both_modes([&](bool fold) {
      SCOPED_TRACE("perm " + shape_string(perm));
      Ints p = perm;
      if (p.empty()) p = {3, 2, 1, 0};
      Shape ys;
      for (int64_t a : p) ys.push_back(x.shape[a]);
      HostTensor want = HostTensor::zeros(DType::kFloat32, ys);
      int64_t k = 0;
      for_each_index(ys, [&](const std::vector<int64_t>& o) {
        std::vector<int64_t> i(4);
        for (size_t d = 0; d < 4; ++d) i[p[d]] = o[d];
        want.data<float>()[k++] = at(x, i);
      });
      GraphBuilder g(fold);
      std::vector<A> attrs;
      if (!perm.empty()) attrs.push_back(A::is("perm", perm));
      const auto t = g.node("Transpose", {g.data(x)}, attrs)[0];
      g.output(t);
      // A view with permuted strides must still feed dense-layout consumers correctly.
      g.output(g.node("Reshape", {t, g.constant(ints({-1}))})[0]);
      g.output(g.node("Add", {t, t})[0]);
      const auto out = g.run();
      ASSERT_EQ(out.size(), 3u);
      expect_equal(out[0], want, "Transpose");
      expect_equal(out[1], reshaped(want, {want.count()}), "Transpose then Reshape");
      HostTensor twice = want;
      for (int64_t i = 0; i < twice.count(); ++i) twice.data<float>()[i] *= 2;
      expect_near(out[2], twice, 0, 0, "Transpose then Add");
    });
  }
}

TEST(RuntimeShape, ConcatAndSplit) {
  const HostTensor a = random({2, 3, 4}, -1, 1, 211), b = random({2, 5, 4}, -1, 1, 212);
  const HostTensor c = random({2, 1, 4}, -1, 1, 213);
  HostTensor want = HostTensor::zeros(DType::kFloat32, {2, 9, 4});
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t ch = 0; ch < 9; ++ch) {
      for (int64_t w = 0; w < 4; ++w) {
        want.data<float>()[(n * 9 + ch) * 4 + w] = ch < 3   ? at(a, {n, ch, w})
                                                   : ch < 8 ? at(b, {n, ch - 3, w})
                                                            : at(c, {n, 0, w});
      }
    }
  }
  both_modes([&](bool fold) {
    GraphBuilder g(fold);
    const auto cat = g.node("Concat", {g.data(a), g.data(b), g.constant(c)}, {A::i("axis", 1)})[0];
    g.output(cat);
    const auto parts = g.node("Split", {cat, g.constant(ints({3, 5, 1}))}, {A::i("axis", -2)}, 3);
    for (const auto& p : parts) g.output(p);
    const auto halves = g.node("Split", {cat}, {A::i("axis", 2)}, 2);  // equal parts
    g.output(halves[1]);
    const auto out = g.run();
    ASSERT_EQ(out.size(), 5u);
    expect_equal(out[0], want, "Concat");
    expect_equal(out[1], a, "Split 0");
    expect_equal(out[2], b, "Split 1");
    expect_equal(out[3], c, "Split 2");
    HostTensor right = HostTensor::zeros(DType::kFloat32, {2, 9, 2});
    for (int64_t i = 0; i < 18; ++i) {
      right.data<float>()[i * 2] = want.data<float>()[i * 4 + 2];
      right.data<float>()[i * 2 + 1] = want.data<float>()[i * 4 + 3];
    }
    expect_equal(out[4], right, "Split equal halves");
  });
  // Opset 11: sizes as an attribute; opset 18: uneven parts without sizes.
  GraphBuilder old(false, 11);
  const auto p = old.node("Split", {old.input(want)}, {A::i("axis", 1), A::is("split", {3, 6})}, 2);
  old.output(p[0]);
  expect_equal(old.run()[0], a, "opset 11 Split");
  GraphBuilder uneven(false, 18);
  const auto q = uneven.node("Split", {uneven.input(iota({7}))}, {A::i("num_outputs", 3)}, 3);
  for (const auto& o : q) uneven.output(o);
  const auto parts = uneven.run();
  ASSERT_EQ(parts.size(), 3u);
  expect_equal(parts[0], tensor({3}, {0, 1, 2}), "opset 18 first");
  expect_equal(parts[2], tensor({1}, {6}), "opset 18 last");
}

TEST(RuntimeShape, SliceStepsNegativesAndClamping) {
  const HostTensor x = iota({4, 6, 5});
  struct Case {
    Ints starts, ends, axes, steps;
  };
  const std::vector<Case> cases = {
      {{1, 2}, {3, 5}, {0, 1}, {}},           // plain window
      {{0}, {INT64_MAX}, {2}, {2}},           // every other, open end
      {{-1}, {INT64_MIN}, {1}, {-1}},         // reversed
      {{-3, 1}, {-1, 100}, {-1, 0}, {1, 2}},  // negative axes and indices, clamped
      {{0, 0, 0}, {4, 6, 5}, {}, {}},         // whole, axes omitted
      {{1, 16}, {4, 32}, {0, 1}, {}},         // past the end: empty
  };
  for (const Case& c : cases) {
    both_modes([&](bool fold) {
      SCOPED_TRACE("starts " + shape_string(c.starts) + " ends " + shape_string(c.ends));
      // Reference per axis: the indices taken.
      std::vector<std::vector<int64_t>> take(3);
      for (size_t d = 0; d < 3; ++d) {
        for (int64_t i = 0; i < x.shape[d]; ++i) take[d].push_back(i);
      }
      for (size_t k = 0; k < c.starts.size(); ++k) {
        const int64_t axis = c.axes.empty() ? k : (c.axes[k] + 3) % 3;
        const int64_t dim = x.shape[axis], step = c.steps.empty() ? 1 : c.steps[k];
        int64_t s = c.starts[k] < 0 ? c.starts[k] + dim : c.starts[k];
        int64_t e = c.ends[k] < 0 && c.ends[k] != INT64_MIN ? c.ends[k] + dim : c.ends[k];
        take[axis].clear();
        if (step > 0) {
          for (int64_t i = std::clamp<int64_t>(s, 0, dim); i < std::clamp<int64_t>(e, 0, dim);
               i += step) {
            take[axis].push_back(i);
          }
        } else {
          for (int64_t i = std::clamp<int64_t>(s, 0, dim - 1); i > std::max<int64_t>(e, -1);
               i += step) {
            take[axis].push_back(i);
          }
        }
      }
      const Shape ys{static_cast<int64_t>(take[0].size()), static_cast<int64_t>(take[1].size()),
                     static_cast<int64_t>(take[2].size())};
      HostTensor want = HostTensor::zeros(DType::kFloat32, ys);
      int64_t k = 0;
      for_each_index(ys, [&](const std::vector<int64_t>& o) {
        want.data<float>()[k++] = at(x, {take[0][o[0]], take[1][o[1]], take[2][o[2]]});
      });
      GraphBuilder g(fold);
      std::vector<std::string> in = {g.data(x), g.constant(ints(c.starts)),
                                     g.constant(ints(c.ends))};
      if (!c.axes.empty() || !c.steps.empty()) {
        Ints axes = c.axes;
        if (axes.empty()) axes = {0, 1, 2};
        in.push_back(g.constant(ints(axes)));
      }
      if (!c.steps.empty()) in.push_back(g.constant(ints(c.steps)));
      g.output(g.node("Slice", in)[0]);
      expect_equal(g.run()[0], want, "Slice");
    });
  }
  GraphBuilder old(false, 9);  // opset < 10: attributes
  old.output(old.node("Slice", {old.input(x)},
                      {A::is("starts", {1}), A::is("ends", {3}), A::is("axes", {1})})[0]);
  const auto out = old.run()[0];
  EXPECT_EQ(out.shape, (Shape{4, 2, 5}));
  EXPECT_EQ(out.data<float>()[0], 5.0f);
}

TEST(RuntimeShape, GatherTilePad) {
  const HostTensor x = iota({3, 4});
  both_modes([&](bool fold) {
    GraphBuilder g(fold);
    g.output(g.node("Gather", {g.data(x), g.constant(ints({2, -3}))})[0]);
    g.output(g.node("Gather", {g.data(x), g.constant(ints({2}, {3, 0}))}, {A::i("axis", 1)})[0]);
    g.output(g.node("Gather", {g.data(x), g.constant(ints({}, {1}))})[0]);  // scalar index
    g.output(g.node("Tile", {g.data(x), g.constant(ints({2, 1}))})[0]);
    g.output(g.node("Pad",
                    {g.data(x), g.constant(ints({1, 0, 0, 2})), g.constant(tensor({}, {-1}))})[0]);
    g.output(
        g.node("Pad", {g.data(x), g.constant(ints({0, 2, 0, 1}))}, {A::s("mode", "reflect")})[0]);
    g.output(g.node("Pad", {g.data(x), g.constant(ints({1, 0, 1, 0}))}, {A::s("mode", "edge")})[0]);
    g.output(g.node("Pad", {g.data(x), g.constant(ints({-1, 0, 0, 0}))})[0]);  // crop
    const auto out = g.run();
    ASSERT_EQ(out.size(), 8u);
    expect_equal(out[0], tensor({2, 4}, {8, 9, 10, 11, 0, 1, 2, 3}), "Gather rows");
    expect_equal(out[1], tensor({3, 2}, {3, 0, 7, 4, 11, 8}), "Gather columns");
    expect_equal(out[2], tensor({4}, {4, 5, 6, 7}), "Gather scalar index");
    HostTensor tiled = HostTensor::zeros(DType::kFloat32, {6, 4});
    for (int64_t i = 0; i < 24; ++i) tiled.data<float>()[i] = static_cast<float>(i % 12);
    expect_equal(out[3], tiled, "Tile");
    expect_equal(out[4], tensor({4, 6}, {-1, -1, -1, -1, -1, -1, 0, 1, 2,  3,  -1, -1,
                                         4,  5,  6,  7,  -1, -1, 8, 9, 10, 11, -1, -1}),
                 "Pad constant");
    expect_equal(
        out[5], tensor({3, 7}, {2, 1, 0, 1, 2, 3, 2, 6, 5, 4, 5, 6, 7, 6, 10, 9, 8, 9, 10, 11, 10}),
        "Pad reflect");
    expect_equal(out[6],
                 tensor({5, 4}, {0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 9, 10, 11}),
                 "Pad edge");
    expect_equal(out[7], tensor({2, 4}, {4, 5, 6, 7, 8, 9, 10, 11}), "Pad crops");
  });
}

TEST(RuntimeShape, GeneratorsAndQueries) {
  const HostTensor x = random({2, 3, 5}, -1, 1, 221);
  both_modes([&](bool fold) {
    GraphBuilder g(fold, 17);
    g.output(g.node("Shape", {g.data(x)})[0]);
    g.output(g.node("Shape", {g.data(x)}, {A::i("start", 1), A::i("end", -1)})[0]);
    g.output(g.node("Size", {g.data(x)})[0]);
    g.output(
        g.node("ConstantOfShape", {g.constant(ints({2, 2}))}, {A::t("value", ints({1}, {7}))})[0]);
    g.output(g.node("ConstantOfShape", {g.constant(ints({3}))})[0]);
    g.output(g.node("Range", {g.constant(ints({}, {1})), g.constant(ints({}, {10})),
                              g.constant(ints({}, {3}))})[0]);
    g.output(g.node("Range", {g.constant(tensor({}, {1})), g.constant(tensor({}, {-1})),
                              g.constant(tensor({}, {-0.5f}))})[0]);
    const auto out = g.run();
    ASSERT_EQ(out.size(), 7u);
    expect_equal(out[0], ints({2, 3, 5}), "Shape");
    expect_equal(out[1], ints({3}), "Shape start end");
    expect_equal(out[2], ints({}, {30}), "Size");
    expect_equal(out[3], ints({2, 2}, {7, 7, 7, 7}), "ConstantOfShape int64");
    expect_equal(out[4], tensor({3}, {0, 0, 0}), "ConstantOfShape default");
    expect_equal(out[5], ints({1, 4, 7}), "Range int");
    expect_equal(out[6], tensor({4}, {1, 0.5f, 0, -0.5f}), "Range float");
  });
}

// What `torch.onnx.export(..., do_constant_folding=False)` writes for x.view(x.size(0), -1) and
// for YOLOv8's anchor grid: Shape -> Gather -> Unsqueeze -> Concat -> Reshape, Range, Expand...
// With static input shapes all of it folds; only the work on the image remains.
TEST(RuntimeFolding, ShapeChainsVanish) {
  const HostTensor x = random({2, 3, 4, 5}, -1, 1, 231);
  GraphBuilder g(false, 13);
  const auto in = g.input(x);
  const auto shape = g.node("Shape", {in})[0];
  const auto n = g.node("Gather", {shape, g.constant(ints({}, {0}))}, {A::i("axis", 0)})[0];
  const auto n1 = g.node("Unsqueeze", {n, g.constant(ints({0}))})[0];
  const auto target = g.node("Concat", {n1, g.constant(ints({-1}))}, {A::i("axis", 0)})[0];
  const auto flat = g.node("Reshape", {in, target})[0];
  // A grid from the width: arange(W) cast to float, expanded to [H, W], added to the image.
  const auto w = g.node("Gather", {shape, g.constant(ints({}, {3}))})[0];
  const auto h = g.node("Gather", {shape, g.constant(ints({}, {2}))})[0];
  const auto range = g.node("Range", {g.constant(ints({}, {0})), w, g.constant(ints({}, {1}))})[0];
  const auto grid_shape = g.node("Concat",
                                 {g.node("Unsqueeze", {h, g.constant(ints({0}))})[0],
                                  g.node("Unsqueeze", {w, g.constant(ints({0}))})[0]},
                                 {A::i("axis", 0)})[0];
  const auto grid = g.node("Expand", {g.node("Cast", {range}, {A::i("to", 1)})[0], grid_shape})[0];
  const auto sum = g.node("Add", {in, grid})[0];
  g.output(flat);
  g.output(sum);
  auto model = g.compile();
  ASSERT_TRUE(model.ok()) << model.status().message();
  std::vector<std::string> ops;
  for (const Layer& l : (*model)->layers()) ops.push_back(l.op);
  EXPECT_EQ(ops, (std::vector<std::string>{"Add"}));  // the Reshape is a view
  const auto out = g.run();
  ASSERT_EQ(out.size(), 2u);
  expect_equal(out[0], reshaped(x, {2, 60}), "x.view(n, -1)");
  HostTensor want = x;
  for (int64_t i = 0; i < x.count(); ++i) want.data<float>()[i] += static_cast<float>(i % 5);
  expect_near(out[1], want, 0, 0, "x + grid");
}

}  // namespace
}  // namespace iris::runtime
