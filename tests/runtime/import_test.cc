// The importer and compiler on bad and unusual input: errors name the file, the node, the op and
// the fix; older opsets' forms, Constant nodes, narrow and wide element types, unsorted nodes.
#include <fstream>

#include "op_test.h"
#include "support/support.h"

namespace iris::runtime {
namespace {

using testing::contains;

Status compile_error(const GraphBuilder& g) {
  auto m = g.compile();
  return m.ok() ? Status() : m.status();
}

// Hand-built protos, for what GraphBuilder cannot make (domains, free dimensions, narrow types,
// nodes out of order). A float input with `dims` (-1: a free dimension).
void add_input(onnx::GraphProto* graph, const std::string& name, const Ints& dims) {
  auto* in = graph->add_input();
  in->set_name(name);
  auto* type = in->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) {
    if (d < 0) {
      type->mutable_shape()->add_dim()->set_dim_param("N");
    } else {
      type->mutable_shape()->add_dim()->set_dim_value(d);
    }
  }
}

onnx::NodeProto* add_node(onnx::GraphProto* graph, const std::string& op,
                          const std::vector<std::string>& inputs, const std::string& output) {
  auto* n = graph->add_node();
  n->set_op_type(op);
  for (const auto& in : inputs) n->add_input(in);
  n->add_output(output);
  return n;
}

TEST(RuntimeImport, UnsupportedOpNamesTheOpTheNodeAndTheFix) {
  GraphBuilder g;
  const auto x = g.input(random({1, 3, 4, 4}));
  g.output(g.node("GridSample", {x, g.constant(random({1, 4, 4, 2}))}, {}, 1, "warp")[0]);
  g.output(g.node("Einsum", {x}, {A::s("equation", "ij->ji")})[0]);  // unnamed
  const Status s = compile_error(g);
  ASSERT_FALSE(s.ok());
  const std::string& msg = s.message();
  EXPECT_TRUE(contains(msg,
                       "model 'test': the iris runtime does not support op Einsum (node "
                       "producing 'y"))
      << msg;
  EXPECT_TRUE(contains(msg, "op GridSample (node 'warp')")) << msg;
  EXPECT_TRUE(contains(msg, "fix: re-export the model without those ops")) << msg;
  EXPECT_TRUE(contains(msg, "supported: Abs, Add, And, ArgMax")) << msg;
}

TEST(RuntimeImport, OpsOfOtherDomainsAreNamedWithTheirDomain) {
  onnx::ModelProto m;
  m.add_opset_import()->set_version(13);
  auto* graph = m.mutable_graph();
  add_input(graph, "x", {});
  auto* n = add_node(graph, "FusedConv", {"x"}, "y");
  n->set_domain("com.microsoft");
  n->set_name("fused");
  graph->add_output()->set_name("y");
  auto g = import_onnx(m.SerializeAsString(), "model 'm.onnx'");
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(contains(g.status().message(), "op com.microsoft.FusedConv (node 'fused')"))
      << g.status().message();
}

TEST(RuntimeImport, MissingGarbageAndEmptyFiles) {
  auto missing = import_onnx_file("/nonexistent/yolo.onnx");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.status().message(),
                       "model '/nonexistent/yolo.onnx' does not exist or is not a file; fix: "));
  const testing::TempDir dir;
  for (const std::string& content : {std::string("name: yolov8n\nlayers: 168\n"), std::string(),
                                     std::string("\x08\x07\x12\x04junk", 9)}) {
    const std::string path = dir.file("bad.onnx");
    std::ofstream(path, std::ios::binary) << content;
    auto g = import_onnx_file(path);
    ASSERT_FALSE(g.ok());
    EXPECT_TRUE(contains(g.status().message(), "model '" + path + "' is not an ONNX model"))
        << g.status().message();
    EXPECT_TRUE(contains(g.status().message(), "fix: point the model's path at an .onnx file"));
  }
}

TEST(RuntimeImport, ExternalDataIsRefusedWithTheFix) {
  onnx::ModelProto m;
  m.add_opset_import()->set_version(13);
  auto* graph = m.mutable_graph();
  auto* w = graph->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  graph->add_output()->set_name("w");
  auto g = import_onnx(m.SerializeAsString(), "model 'big.onnx'");
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(contains(g.status().message(),
                       "model 'big.onnx': initializer 'w' keeps its data in an external file; "
                       "fix: re-export or re-save"))
      << g.status().message();
}

TEST(RuntimeImport, FreeDimensionsNeedAShape) {
  onnx::ModelProto m;
  m.add_opset_import()->set_version(13);
  auto* graph = m.mutable_graph();
  add_input(graph, "images", {-1, 3});
  add_node(graph, "Relu", {"images"}, "y");
  graph->add_output()->set_name("y");
  auto g = import_onnx(m.SerializeAsString(), "model 'dyn.onnx'");
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto free = Model::compile(*g, {});
  ASSERT_FALSE(free.ok());
  EXPECT_TRUE(contains(free.status().message(),
                       "model 'dyn.onnx': input 'images' [?, 3] leaves a dimension free; fix: "))
      << free.status().message();
  Options o;
  o.input_shapes["images"] = {5, 3};
  auto fixed = Model::compile(*g, o);
  ASSERT_TRUE(fixed.ok()) << fixed.status().message();
  EXPECT_EQ((*fixed)->inputs()[0].shape, (Shape{5, 3}));
  o.input_shapes["images"] = {5, 4};
  auto wrong = Model::compile(*g, o);
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(contains(wrong.status().message(), "input 'images' [?, 3] cannot take shape [5, 4]"));
  o.input_shapes = {{"image", {1, 3}}};
  auto unknown = Model::compile(*g, o);
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(contains(unknown.status().message(), "has no input 'image'"));
}

TEST(RuntimeImport, ShapesComputedFromTheImageAreALoadError) {
  GraphBuilder g;
  const auto x = g.input(random({2, 3}, 1, 3));
  // Reshape to a shape that depends on the pixel values: cannot be static.
  const auto shape = g.node("Cast", {x}, {A::i("to", onnx::TensorProto::INT64)})[0];
  const auto flat = g.node("Reshape", {x, g.node("ReduceMax", {shape}, {A::i("keepdims", 1)})[0]},
                           {}, 1, "dynamic_reshape")[0];
  g.output(flat);
  const Status s = compile_error(g);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(),
                       "model 'test': node 'dynamic_reshape' (Reshape): its input shape must be "
                       "known when the model loads"))
      << s.message();
  EXPECT_TRUE(contains(s.message(), "fix: export the model with that value fixed"));
}

TEST(RuntimeImport, ShapeErrorsNameTheNode) {
  GraphBuilder g;
  g.output(g.node("Add", {g.input(random({2, 3})), g.input(random({4, 3}))}, {}, 1, "bad_add")[0]);
  const Status s = compile_error(g);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(),
                       "model 'test': node 'bad_add' (Add): cannot broadcast [2, 3] and [4, 3]"))
      << s.message();
  GraphBuilder c;
  c.output(c.node("Conv", {c.input(random({1, 3, 8, 8})), c.constant(random({4, 2, 3, 3}))}, {}, 1,
                  "conv1")[0]);
  const Status cs = compile_error(c);
  ASSERT_FALSE(cs.ok());
  EXPECT_TRUE(contains(cs.message(),
                       "node 'conv1' (Conv): has input [1, 3, 8, 8] with 3 "
                       "channels, which does not fit weights [4, 2, 3, 3]"))
      << cs.message();
}

TEST(RuntimeImport, RunChecksTheInputs) {
  GraphBuilder g;
  g.output(g.node("Relu", {g.input(random({1, 4}))})[0]);
  auto m = g.compile();
  ASSERT_TRUE(m.ok());
  auto ctx = (*m)->new_context();
  ASSERT_TRUE(ctx.ok());
  HostTensor wrong = random({1, 5});
  std::vector<HostTensor> out;
  const Status s = (*ctx)->run({View::of(wrong)}, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "input 'x0' is float32 [1, 4], got float32 [1, 5]"))
      << s.message();
  EXPECT_FALSE((*ctx)->run({}, &out).ok());
}

TEST(RuntimeImport, ConstantsTypesAndNodeOrder) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* graph = m.mutable_graph();
  add_input(graph, "x", {3});
  // float16 and double initializers, int32 stored in int32_data, a Constant node: all widen.
  auto* h = graph->add_initializer();
  h->set_name("half");
  h->set_data_type(onnx::TensorProto::FLOAT16);
  h->add_dims(3);
  for (int v : {0x3c00, 0xc000, 0x3800}) h->add_int32_data(v);  // 1, -2, 0.5
  auto* d = graph->add_initializer();
  d->set_name("double");
  d->set_data_type(onnx::TensorProto::DOUBLE);
  d->add_dims(3);
  for (double v : {0.25, 0.5, 0.75}) d->add_double_data(v);
  auto* i32 = graph->add_initializer();
  i32->set_name("shape");
  i32->set_data_type(onnx::TensorProto::INT32);
  i32->add_dims(2);
  i32->add_int32_data(3);
  i32->add_int32_data(1);
  // Nodes out of order: the consumer first.
  add_node(graph, "Add", {"prod", "k"}, "sum");
  add_node(graph, "Mul", {"x", "half"}, "prod");
  *add_node(graph, "Constant", {}, "k")->add_attribute() = A::f("value_float", 10).p;
  add_node(graph, "Add", {"sum", "double"}, "out0");
  add_node(graph, "Reshape", {"out0", "shape"}, "out");
  graph->add_output()->set_name("out");
  auto g = import_onnx(m.SerializeAsString(), "model 'types.onnx'");
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto model = Model::compile(*g, {});
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto ctx = (*model)->new_context();
  ASSERT_TRUE(ctx.ok());
  const HostTensor x = tensor({3}, {1, 2, 3});
  std::vector<HostTensor> out;
  ASSERT_TRUE((*ctx)->run({View::of(x)}, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  expect_near(out[0], tensor({3, 1}, {11.25f, 6.5f, 12.25f}), 0, 0, "widened types");
}

}  // namespace
}  // namespace iris::runtime
