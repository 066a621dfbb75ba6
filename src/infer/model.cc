#include "infer/model.h"

#include <algorithm>
#include <numeric>

namespace iris::infer {
namespace {

std::string model_label(const ModelSpec& spec) {
  return "model '" + spec.name + "' (" + spec.path + ")";
}

const char* layout_name(Layout l) { return l == Layout::kNCHW ? "nchw" : "nhwc"; }

// Fills spec->input_width and input_height from the model's image input where the spec leaves
// them 0, and checks that the input is an image in the layout the spec says.
Status resolve_input(const TensorInfo& input, ModelSpec* spec) {
  const auto& s = input.shape;
  const std::string what = "input '" + input.name + "' " + shape_string(s);
  if (s.size() != 4) {
    return Status::error(what +
                         " is not an image; iris feeds [1, 3, H, W] (layout: nchw) or "
                         "[1, H, W, 3] (layout: nhwc); fix: use a model with one image input");
  }
  const bool nchw = spec->layout == Layout::kNCHW;
  const int64_t channels = s[nchw ? 1 : 3];
  if (channels != 3 && channels != -1) {
    const int64_t other = s[nchw ? 3 : 1];
    return Status::error(what + " does not have 3 channels where layout " +
                         layout_name(spec->layout) + " puts them; fix: " +
                         (other == 3 ? std::string("set layout: ") +
                                           layout_name(nchw ? Layout::kNHWC : Layout::kNCHW)
                                     : std::string("use a model that takes 3-channel images")));
  }
  struct Axis {
    int64_t model;
    int* spec;
    const char* name;
  };
  for (const Axis& a : {Axis{s[nchw ? 3 : 2], &spec->input_width, "width"},
                        Axis{s[nchw ? 2 : 1], &spec->input_height, "height"}}) {
    if (*a.spec == 0 && a.model < 0) {
      return Status::error(what + " leaves its " + a.name +
                           " free; fix: set input_size: [width, height] to the size the model "
                           "was trained at");
    }
    if (*a.spec == 0) {
      *a.spec = static_cast<int>(a.model);
    } else if (a.model > 0 && a.model != *a.spec) {
      return Status::error(what + " has a fixed " + a.name + " of " + std::to_string(a.model) +
                           " but the config's input_size asks for " + std::to_string(*a.spec) +
                           "; fix: remove input_size or re-export the model at that size");
    }
  }
  return {};
}

}  // namespace

Model::Model(ModelSpec spec, std::shared_ptr<const LoadedModel> loaded,
             std::unique_ptr<Decoder> decoder, Postprocess postprocess,
             std::vector<std::vector<int64_t>> output_shapes)
    : spec_(std::move(spec)),
      loaded_(std::move(loaded)),
      decoder_(std::move(decoder)),
      task_(decoder_->task()),
      postprocess_(std::move(postprocess)),
      output_shapes_(std::move(output_shapes)) {}

Result<std::shared_ptr<Model>> load_model(const ModelSpec& in) {
  ModelSpec spec = in;
  const std::string label = model_label(spec);
  auto backend = make_backend(spec.backend);
  if (!backend.ok()) return backend.status().with_context(label);
  auto loaded = (*backend)->load(spec);
  if (!loaded.ok()) return loaded.status();
  const ModelInfo& info = (*loaded)->info();
  if (Status s = resolve_input(info.inputs[0], &spec); !s.ok()) return s.with_context(label);

  const DecoderParams params{spec.input_width, spec.input_height,
                             static_cast<int>(spec.class_names.size())};
  auto decoder = make_decoder(spec.decoder, params);
  if (!decoder.ok()) return decoder.status().with_context(label);

  // One inference on a blank picture proves the model runs and gives every output a concrete
  // shape (free dimensions included) to check the decoder against.
  auto context = (*loaded)->new_context();
  if (!context.ok()) return context.status();
  Tensor blank;
  blank.name = info.inputs[0].name;
  blank.shape = spec.layout == Layout::kNCHW
                    ? std::vector<int64_t>{1, 3, spec.input_height, spec.input_width}
                    : std::vector<int64_t>{1, spec.input_height, spec.input_width, 3};
  blank.data.assign(blank.element_count(), 0.0f);
  auto outputs = (*context)->infer(blank);
  if (!outputs.ok()) return outputs.status();
  ModelInfo checked = info;
  std::vector<std::vector<int64_t>> per_sample;
  for (size_t i = 0; i < outputs->size(); ++i) {
    const auto& shape = (*outputs)[i].shape;
    checked.outputs[i].shape = shape;
    per_sample.emplace_back(shape.begin() + 1, shape.end());
  }
  if (Status s = (*decoder)->check(checked); !s.ok()) return s.with_context(label);

  auto post = Postprocess::create(spec, (*decoder)->num_classes());
  if (!post.ok()) return post.status().with_context(label);
  return std::shared_ptr<Model>(new Model(std::move(spec), std::move(loaded.value()),
                                          std::move(decoder.value()), std::move(post.value()),
                                          std::move(per_sample)));
}

Result<Sample> Model::preprocess(const cv::Mat& bgr) const {
  return preprocess(bgr, cv::Rect(0, 0, bgr.cols, bgr.rows));
}

Result<Sample> Model::preprocess(const cv::Mat& bgr, const cv::Rect& roi) const {
  auto sample = infer::preprocess(bgr, roi, spec_);
  if (sample.ok()) sample->tensor.name = info().inputs[0].name;
  return sample;
}

Result<SampleOutputs> Model::sample_outputs(const std::vector<Tensor>& outputs, int64_t sample,
                                            Task task) const {
  static const char* const kTasks[] = {"a detector", "a classifier", "an embedding model"};
  if (task != task_) {
    return Status::error(model_label(spec_) + " is " + kTasks[static_cast<int>(task_)] +
                         " (decoder " + spec_.decoder + "), not " + kTasks[static_cast<int>(task)]);
  }
  if (outputs.size() != output_shapes_.size()) {
    return Status::error(model_label(spec_) + ": got " + std::to_string(outputs.size()) +
                         " outputs, the model has " + std::to_string(output_shapes_.size()));
  }
  SampleOutputs views(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& t = outputs[i];
    const bool fits = !t.shape.empty() && sample >= 0 && sample < t.shape[0] &&
                      std::equal(t.shape.begin() + 1, t.shape.end(), output_shapes_[i].begin(),
                                 output_shapes_[i].end()) &&
                      static_cast<int64_t>(t.data.size()) == t.element_count();
    if (!fits) {
      std::vector<int64_t> expected = output_shapes_[i];
      expected.insert(expected.begin(), -1);
      return Status::error(model_label(spec_) + ": output '" + t.name + "' " +
                           shape_string(t.shape) + " has no sample " + std::to_string(sample) +
                           " of the shape checked at load " + shape_string(expected));
    }
    views[i].shape = output_shapes_[i];
    views[i].data = t.data.data() + sample * views[i].count();
  }
  return views;
}

Result<std::vector<Detection>> Model::detections(const std::vector<Tensor>& outputs,
                                                 const InputTransform& transform,
                                                 int64_t sample) const {
  auto views = sample_outputs(outputs, sample, Task::kDetect);
  if (!views.ok()) return views.status();
  const auto& decoder = static_cast<const DetectionDecoder&>(*decoder_);
  std::vector<Candidate> candidates;
  decoder.decode(*views, postprocess_.min_score(), &candidates);
  return postprocess_.run(std::move(candidates), transform, decoder.needs_nms());
}

Result<std::vector<Classification>> Model::classifications(const std::vector<Tensor>& outputs,
                                                           int64_t sample) const {
  auto views = sample_outputs(outputs, sample, Task::kClassify);
  if (!views.ok()) return views.status();
  const std::vector<float> p = static_cast<const VectorDecoder&>(*decoder_).decode(*views);
  std::vector<int> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t k = std::min(order.size(), static_cast<size_t>(std::max(spec_.top_k, 1)));
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return p[a] > p[b]; });
  std::vector<Classification> out;
  for (size_t i = 0; i < k; ++i) {
    out.push_back({spec_.name, postprocess_.label(order[i]), p[order[i]]});
  }
  return out;
}

Result<std::vector<float>> Model::embedding(const std::vector<Tensor>& outputs,
                                            int64_t sample) const {
  auto views = sample_outputs(outputs, sample, Task::kEmbed);
  if (!views.ok()) return views.status();
  return static_cast<const VectorDecoder&>(*decoder_).decode(*views);
}

Result<std::vector<Detection>> Model::detect(Context& context, const cv::Mat& bgr) const {
  return detect(context, bgr, cv::Rect(0, 0, bgr.cols, bgr.rows));
}

Result<std::vector<Detection>> Model::detect(Context& context, const cv::Mat& bgr,
                                             const cv::Rect& roi) const {
  auto sample = preprocess(bgr, roi);
  if (!sample.ok()) return sample.status();
  auto outputs = context.infer(sample->tensor);
  if (!outputs.ok()) return outputs.status();
  return detections(*outputs, sample->transform);
}

Result<std::vector<Classification>> Model::classify(Context& context, const cv::Mat& bgr,
                                                    const cv::Rect& crop) const {
  auto sample = preprocess(bgr, crop);
  if (!sample.ok()) return sample.status();
  auto outputs = context.infer(sample->tensor);
  if (!outputs.ok()) return outputs.status();
  return classifications(*outputs);
}

Result<std::vector<float>> Model::embed(Context& context, const cv::Mat& bgr,
                                        const cv::Rect& crop) const {
  auto sample = preprocess(bgr, crop);
  if (!sample.ok()) return sample.status();
  auto outputs = context.infer(sample->tensor);
  if (!outputs.ok()) return outputs.status();
  return embedding(*outputs);
}

}  // namespace iris::infer
