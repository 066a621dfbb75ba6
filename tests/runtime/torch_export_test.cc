// A plain torch.onnx.export of YOLOv8n's architecture (bench/models/yolov8n.py: C2f with chunk,
// SPPF, DFL head; do_constant_folding=False, so the Shape/Gather/Slice chains stay in the file)
// imports without edits, its shape chains fold away, and the output matches PyTorch's.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>

#include "runtime/model.h"
#include "support/support.h"

namespace iris::runtime {
namespace {

std::vector<float> read_floats(const std::string& path, size_t n) {
  std::vector<float> v(n);
  std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(v.data()), n * 4);
  return v;
}

TEST(RuntimeTorchExport, YoloV8nImportsFoldsAndMatchesPyTorch) {
  const testing::TempDir dir;
  constexpr int kSize = 160;
  const std::string cmd = "/usr/bin/python3 " IRIS_SOURCE_DIR "/tests/runtime/export_yolov8n.py " +
                          dir.path() + " " + std::to_string(kSize);
  const int rc = std::system(cmd.c_str());
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 3) {
    GTEST_SKIP() << "needs Debian's python3-torch (bench/runtime_vs_ort.sh installs it)";
  }
  ASSERT_EQ(rc, 0) << cmd;

  auto graph = import_onnx_file(dir.file("yolov8n.onnx"));
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  const std::vector<std::string> ops = graph->op_types();
  for (const char* op : {"Shape", "Gather", "Slice", "Concat", "Reshape", "Split"}) {
    EXPECT_TRUE(std::find(ops.begin(), ops.end(), op) != ops.end()) << op << " not in the export";
  }
  Options options;
  options.threads = 1;
  auto model = Model::compile(*graph, options);
  ASSERT_TRUE(model.ok()) << model.status().message();
  std::set<std::string> ran;
  size_t convs = 0;
  for (const Layer& l : (*model)->layers()) {
    ran.insert(l.op);
    convs += l.op.rfind("Conv", 0) == 0;
  }
  // The shape chains folded; every Conv took its BatchNormalization and SiLU.
  for (const char* gone : {"Shape", "Gather", "Unsqueeze", "BatchNormalization"}) {
    EXPECT_EQ(ran.count(gone), 0u) << gone << " survived folding and fusion";
  }
  EXPECT_EQ(convs, 64u);
  EXPECT_TRUE(ran.count("Conv+Swish"));

  const Shape in_shape{1, 3, kSize, kSize};
  HostTensor x = HostTensor::zeros(DType::kFloat32, in_shape);
  const auto xs = read_floats(dir.file("input.bin"), x.count());
  std::copy(xs.begin(), xs.end(), x.data<float>());
  auto ctx = (*model)->new_context();
  ASSERT_TRUE(ctx.ok());
  std::vector<HostTensor> out;
  ASSERT_TRUE((*ctx)->run({View::of(x)}, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  const int64_t anchors =
      (kSize / 8) * (kSize / 8) + (kSize / 16) * (kSize / 16) + (kSize / 32) * (kSize / 32);
  ASSERT_EQ(out[0].shape, (Shape{1, 84, anchors}));
  const auto want = read_floats(dir.file("output.bin"), out[0].count());
  float scale = 0, worst = 0;
  for (int64_t i = 0; i < out[0].count(); ++i) {
    scale = std::max(scale, std::fabs(want[i]));
    worst = std::max(worst, std::fabs(out[0].data<float>()[i] - want[i]));
  }
  EXPECT_GT(scale, 1.0f);
  EXPECT_LE(worst, 2e-5f * scale) << "largest difference " << worst << " of " << scale;
}

}  // namespace
}  // namespace iris::runtime
