// Backend over OpenCV dnn (CPU). OpenCV 4.6 nets cannot share weights, so the LoadedModel keeps
// the .onnx bytes and each Context parses its own cv::dnn::Net from them.
#include <algorithm>
#include <filesystem>
#include <opencv2/dnn.hpp>
#include <set>

#include "core/text.h"
#include "infer/backend.h"
#include "infer/onnx_reader.h"

namespace iris::infer {
namespace {

// OpenCV 4.6 imports most ops up to this opset; newer exports are where unsupported ops come from.
constexpr int kOpenCvMaxOpset = 12;

std::string reexport_fix(int64_t opset) {
  return "fix: re-export the model with opset <= " + std::to_string(kOpenCvMaxOpset) +
         (opset > kOpenCvMaxOpset ? " (it has opset " + std::to_string(opset) + ")" : "") +
         " and simplify it (python3 -m onnxsim in.onnx out.onnx), which folds most unsupported "
         "ops away";
}

// The text between the first `open` and the `close` after it, or "" when absent.
std::string between(const std::string& s, const std::string& open, const std::string& close) {
  const size_t a = s.find(open);
  if (a == std::string::npos) return "";
  const size_t b = s.find(close, a + open.size());
  if (b == std::string::npos) return "";
  return s.substr(a + open.size(), b - a - open.size());
}

// OpenCV's innermost reason, without file, error code and function:
// "OpenCV(4.6.0) x.cpp:110: error: (-2:Unspecified error) Can't create ... in function 'f'".
std::string opencv_reason(const cv::Exception& e) {
  std::string s = e.msg;
  const size_t err = s.rfind("error: (");
  if (err != std::string::npos) {
    const size_t close = s.find(") ", err);
    if (close != std::string::npos) s = s.substr(close + 2);
  }
  s = s.substr(0, s.find(" in function"));
  s.erase(std::remove(s.begin(), s.end(), '\n'), s.end());
  return s;
}

// OpenCV names a layer "onnx_node_output_0!<first output>" when the node has no name.
std::string node_label(const std::string& opencv_name, const OnnxSummary& onnx) {
  const size_t bang = opencv_name.find('!');
  const std::string output = bang == std::string::npos ? opencv_name : opencv_name.substr(bang + 1);
  for (const auto& n : onnx.nodes) {
    if (std::find(n.outputs.begin(), n.outputs.end(), output) != n.outputs.end()) {
      return n.name.empty() ? "producing '" + output + "'" : "'" + n.name + "'";
    }
  }
  return "'" + output + "'";
}

Status import_error(const std::string& path, const cv::Exception& e, const OnnxSummary& onnx) {
  // The importer reports "Node [Op@domain]:(layer name) parse error: ...".
  const std::string op = between(e.msg, "Node [", "@");
  const std::string layer = between(e.msg, "]:(", ")");
  std::string what = op.empty() ? "OpenCV dnn 4.6 cannot import it"
                                : "OpenCV dnn 4.6 cannot import node " + node_label(layer, onnx) +
                                      " (op " + op + ")";
  return Status::error(model_label(path) + ": " + what + ": " + opencv_reason(e) + "; " +
                       reexport_fix(onnx.opset));
}

class OpenCvModel;

class OpenCvContext : public Context {
 public:
  OpenCvContext(std::shared_ptr<const OpenCvModel> model, cv::dnn::Net net)
      : model_(std::move(model)), net_(std::move(net)) {}
  Result<std::vector<Tensor>> infer(const Tensor& input) override;

 private:
  std::shared_ptr<const OpenCvModel> model_;
  cv::dnn::Net net_;
};

class OpenCvModel : public LoadedModel, public std::enable_shared_from_this<OpenCvModel> {
 public:
  OpenCvModel(std::string path, std::string onnx_bytes, OnnxSummary onnx, ModelInfo info)
      : path_(std::move(path)),
        bytes_(std::move(onnx_bytes)),
        onnx_(std::move(onnx)),
        info_(std::move(info)) {
    for (const auto& out : info_.outputs) output_names_.push_back(out.name);
  }

  const ModelInfo& info() const override { return info_; }

  Result<std::unique_ptr<Context>> new_context() const override {
    auto net = build_net();
    if (!net.ok()) return net.status();
    return std::unique_ptr<Context>(
        std::make_unique<OpenCvContext>(shared_from_this(), std::move(net.value())));
  }

  Result<cv::dnn::Net> build_net() const {
    try {
      cv::dnn::Net net = cv::dnn::readNetFromONNX(bytes_.data(), bytes_.size());
      net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
      return net;
    } catch (const cv::Exception& e) {
      return import_error(path_, e, onnx_);
    }
  }

  const std::string& path() const { return path_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  int64_t opset() const { return onnx_.opset; }

 private:
  const std::string path_;
  const std::string bytes_;
  const OnnxSummary onnx_;
  const ModelInfo info_;
  std::vector<std::string> output_names_;
};

// OpenCV drops or keeps a model's batch dimension as the graph says; the Backend contract puts
// the batch first in every output.
Result<std::vector<int64_t>> batch_first(const cv::Mat& m, const TensorInfo& declared,
                                         int64_t batch, const std::string& path) {
  std::vector<int64_t> shape(m.size.p, m.size.p + m.dims);
  if (m.empty()) {
    return Status::error(model_label(path) + ": output '" + declared.name + "' came back empty");
  }
  const auto& d = declared.shape;
  const bool has_batch = d.empty() ? shape[0] == batch : d.size() >= 2 && (d[0] == -1 || d[0] == 1);
  if (has_batch && shape[0] == batch) return shape;
  if (!has_batch && batch == 1) {
    const bool all_known = std::all_of(d.begin(), d.end(), [](int64_t v) { return v > 0; });
    if (!d.empty() && all_known && Tensor::count(d) == static_cast<int64_t>(m.total())) shape = d;
    shape.insert(shape.begin(), 1);
    return shape;
  }
  return Status::error(model_label(path) + ": output '" + declared.name + "' has shape " +
                       shape_string(shape) + " for a batch of " + std::to_string(batch) +
                       "; iris needs the batch as its first dimension; fix: re-export the "
                       "model with a dynamic batch axis, or use max_batch: 1");
}

Result<std::vector<Tensor>> OpenCvContext::infer(const Tensor& input) {
  const ModelInfo& info = model_->info();
  if (Status s = check_input(model_label(model_->path()), info.inputs[0], info.max_batch, input);
      !s) {
    return s;
  }
  std::vector<int> sizes(input.shape.begin(), input.shape.end());
  // OpenCV only reads the blob during forward(); the const_cast never leads to a write.
  const cv::Mat blob(static_cast<int>(sizes.size()), sizes.data(), CV_32F,
                     const_cast<float*>(input.data.data()));
  std::vector<cv::Mat> outs;
  try {
    net_.setInput(blob, info.inputs[0].name);
    net_.forward(outs, model_->output_names());
  } catch (const cv::Exception& e) {
    return Status::error(model_label(model_->path()) + ": OpenCV dnn failed to run it on input " +
                         shape_string(input.shape) + ": " + opencv_reason(e) + "; " +
                         reexport_fix(model_->opset()));
  }
  std::vector<Tensor> result(outs.size());
  for (size_t i = 0; i < outs.size(); ++i) {
    cv::Mat m = outs[i];
    if (m.type() != CV_32F) m.convertTo(m, CV_32F);
    if (!m.isContinuous()) m = m.clone();
    auto shape = batch_first(m, info.outputs[i], input.shape[0], model_->path());
    if (!shape.ok()) return shape.status();
    result[i].name = info.outputs[i].name;
    result[i].shape = std::move(shape.value());
    result[i].data.assign(m.ptr<float>(), m.ptr<float>() + m.total());
  }
  return result;
}

class OpenCvBackend : public Backend {
 public:
  Result<std::shared_ptr<const LoadedModel>> load(const ModelSpec& spec) override {
    const std::string& path = spec.path;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return Status::error(model_label(path) +
                           " does not exist or is not a file; fix: check the "
                           "model's path (models shipped with iris come from "
                           "scripts/fetch_models.sh)");
    }
    auto bytes = read_file(path);
    if (!bytes.ok()) {
      return Status::error(model_label(path) + " could not be opened; fix: make it readable");
    }

    auto onnx = read_onnx(*bytes);
    if (!onnx.ok()) {
      return Status::error(model_label(path) + " is not an ONNX model (" + onnx.status().message() +
                           "); fix: point the model's path at an .onnx file");
    }
    auto info = model_info(path, *onnx);
    if (!info.ok()) return info.status();
    auto model =
        std::make_shared<OpenCvModel>(path, std::move(*bytes), std::move(*onnx), std::move(*info));
    // Importing once here reports unsupported ops at load, not in the first worker.
    if (auto net = model->build_net(); !net.ok()) return net.status();
    return std::shared_ptr<const LoadedModel>(std::move(model));
  }

 private:
  static Result<ModelInfo> model_info(const std::string& path, const OnnxSummary& onnx) {
    ModelInfo info;
    info.inputs = onnx.inputs;
    info.outputs = onnx.outputs;
    info.opset = onnx.opset;
    std::set<std::string> ops;
    for (const auto& n : onnx.nodes) ops.insert(n.op_type);
    info.op_types.assign(ops.begin(), ops.end());
    if (Status s = check_image_input(model_label(path), &info); !s) return s;
    return info;
  }
};

}  // namespace

std::unique_ptr<Backend> make_opencv_backend() { return std::make_unique<OpenCvBackend>(); }

}  // namespace iris::infer
