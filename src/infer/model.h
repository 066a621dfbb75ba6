// Model: a network loaded from its ModelSpec with everything needed to use it on pictures: the
// backend's LoadedModel, the input size resolved from the model, preprocessing, the decoder
// checked against the model's outputs, and post-processing.
//
// Ownership and threads: a Model is immutable after load_model() and shared by every stream that
// uses it; all its methods are const and thread-safe. Inference itself runs on a Context (one per
// thread: loaded()->new_context()) or through the ModelServer; the methods that take a Context
// borrow it for the call.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "core/detection.h"
#include "core/status.h"
#include "infer/backend.h"
#include "infer/decoder.h"
#include "infer/model_spec.h"
#include "infer/postprocess.h"
#include "infer/preprocess.h"

namespace iris::infer {

class Model {
 public:
  // spec.input_width and spec.input_height are resolved (never 0).
  const ModelSpec& spec() const { return spec_; }
  const ModelInfo& info() const { return loaded_->info(); }
  const std::shared_ptr<const LoadedModel>& loaded() const { return loaded_; }
  Task task() const { return task_; }

  // One input sample of the whole picture, or of a region of it (a tile, a crop).
  Result<Sample> preprocess(const cv::Mat& bgr) const;
  Result<Sample> preprocess(const cv::Mat& bgr, const cv::Rect& roi) const;

  // Decode sample `sample` of `outputs` (as Context::infer() or the ModelServer returned them).
  // Errors when the outputs do not have the shapes checked at load, or the task is another.
  Result<std::vector<Detection>> detections(const std::vector<Tensor>& outputs,
                                            const InputTransform& transform,
                                            int64_t sample = 0) const;
  // The top_k classes, best first, named after class_names and this model.
  Result<std::vector<Classification>> classifications(const std::vector<Tensor>& outputs,
                                                      int64_t sample = 0) const;
  Result<std::vector<float>> embedding(const std::vector<Tensor>& outputs,
                                       int64_t sample = 0) const;

  // Synchronous convenience for tests: preprocess, infer, decode.
  Result<std::vector<Detection>> detect(Context& context, const cv::Mat& bgr) const;
  Result<std::vector<Detection>> detect(Context& context, const cv::Mat& bgr,
                                        const cv::Rect& roi) const;
  Result<std::vector<Classification>> classify(Context& context, const cv::Mat& bgr,
                                               const cv::Rect& crop) const;
  Result<std::vector<float>> embed(Context& context, const cv::Mat& bgr,
                                   const cv::Rect& crop) const;

 private:
  friend Result<std::shared_ptr<Model>> load_model(const ModelSpec& spec);
  Model(ModelSpec spec, std::shared_ptr<const LoadedModel> loaded, std::unique_ptr<Decoder> decoder,
        Postprocess postprocess, std::vector<std::vector<int64_t>> output_shapes);

  Result<SampleOutputs> sample_outputs(const std::vector<Tensor>& outputs, int64_t sample,
                                       Task task) const;

  const ModelSpec spec_;
  const std::shared_ptr<const LoadedModel> loaded_;
  const std::unique_ptr<Decoder> decoder_;
  const Task task_;
  const Postprocess postprocess_;
  const std::vector<std::vector<int64_t>> output_shapes_;  // per sample, as checked at load
};

// Loads the model file through spec.backend, resolves the input size (from the model when the spec
// says 0), checks the decoder against the outputs and runs one inference to prove the model works.
// Errors name the model and its file, the input/output/layer at fault and the fix.
Result<std::shared_ptr<Model>> load_model(const ModelSpec& spec);

}  // namespace iris::infer
