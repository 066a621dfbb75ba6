#include "server/kserve.h"

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/text.h"
#include "server/kserve_codec.h"
#include "server/picture.h"

namespace iris::server {
namespace {

using nlohmann::json;

constexpr const char kVersion[] = "0.1.0";

// The model's shape as served: the ModelServer batches single samples, so the server takes any
// batch whatever the model's own batch dimension.
std::vector<int64_t> served_shape(std::vector<int64_t> shape) {
  if (!shape.empty()) shape[0] = -1;
  return shape;
}

json tensor_metadata(const std::vector<infer::TensorInfo>& tensors) {
  json out = json::array();
  for (const auto& t : tensors) {
    out.push_back({{"name", t.name}, {"datatype", "FP32"}, {"shape", served_shape(t.shape)}});
  }
  return out;
}

const infer::ServedModel* find_model(const infer::ServedModels& models, const std::string& name,
                                     const Reply& reply) {
  const auto it = models.find(name);
  if (it != models.end()) return &it->second;
  reply(Response::error(
      404, "unknown model '" + name + "'; this server has: " +
               (models.empty() ? std::string("no models")
                               : join(models, ", ", [](const auto& kv) { return kv.first; }))));
  return nullptr;
}

// Version routes name the one version iris has, "1".
bool known_version(const Request& req, const Reply& reply) {
  if (req.params.size() < 2 || req.params[1] == "1") return true;
  reply(Response::error(404, "model '" + req.params[0] + "' has no version '" + req.params[1] +
                                 "'; it has version 1 only"));
  return false;
}

// Checks an input's shape against the model's, whose -1 dimensions are free; the batch is free.
Status check_shape(const std::string& model, const infer::TensorInfo& info,
                   const std::vector<int64_t>& shape) {
  const std::vector<int64_t> want = served_shape(info.shape);
  bool ok = shape.size() == want.size() || want.empty();
  for (size_t i = 0; ok && i < want.size(); ++i) ok = want[i] < 0 || want[i] == shape[i];
  if (!ok) {
    return Status::error("input '" + info.name + "' has shape " + infer::shape_string(shape) +
                         "; model '" + model + "' takes " + infer::shape_string(want) +
                         " (? is free)");
  }
  if (shape.empty() || shape[0] < 1) {
    return Status::error("input '" + info.name + "' has shape " + infer::shape_string(shape) +
                         "; its first dimension is the batch and must be at least 1");
  }
  for (int64_t d : shape) {
    if (d < 1) {
      return Status::error("input '" + info.name + "' has shape " + infer::shape_string(shape) +
                           " with an empty dimension");
    }
  }
  return Status();
}

// One infer request in flight: its samples' answers, gathered as they come back.
struct InferJob {
  std::string name;  // the model's
  std::string id;
  std::vector<std::pair<size_t, bool>> outputs;  // model output index, binary
  Reply reply;
  HttpServer* http = nullptr;

  std::mutex mu;
  size_t remaining = 0;
  std::vector<std::vector<infer::Tensor>> results;  // per sample
  std::string rejected;                             // why a sample was not accepted
  std::string failed;                               // why a sample's batch failed

  // Called once per sample, and once by the submitting loop; the last call answers.
  static void done_one(const std::shared_ptr<InferJob>& job) {
    {
      std::lock_guard lock(job->mu);
      if (--job->remaining > 0) return;
    }
    // The last answer may come on a model's thread: write the response elsewhere.
    job->http->post([job] { job->respond(); });
  }
  void respond();
};

void InferJob::respond() {
  if (!rejected.empty()) return reply(Response::error(503, rejected));
  if (!failed.empty()) return reply(Response::error(500, failed));
  const size_t n = results.size();
  std::vector<infer::Tensor> merged;
  for (const auto& [index, binary] : outputs) {
    infer::Tensor t;
    const infer::Tensor& first = results[0][index];
    t.name = first.name;
    t.shape = first.shape;
    t.shape[0] = static_cast<int64_t>(n);
    t.data.reserve(first.data.size() * n);
    for (const auto& sample : results) {
      const infer::Tensor& part = sample[index];
      if (part.shape != first.shape) {
        return reply(Response::error(500, "output '" + first.name + "' of model '" + name +
                                              "' has shape " + infer::shape_string(part.shape) +
                                              " for one sample and " +
                                              infer::shape_string(first.shape) +
                                              " for another; send one sample per request"));
      }
      t.data.insert(t.data.end(), part.data.begin(), part.data.end());
    }
    merged.push_back(std::move(t));
  }
  std::vector<OutputToSend> send;
  for (size_t i = 0; i < merged.size(); ++i) send.push_back({&merged[i], outputs[i].second});
  EncodedResponse encoded = encode_infer_response(name, id, send);
  Response r;
  r.body = std::move(encoded.body);
  if (encoded.header_length) {
    r.content_type = "application/octet-stream";
    r.headers.emplace_back("Inference-Header-Content-Length",
                           std::to_string(*encoded.header_length));
  }
  reply(std::move(r));
}

void infer(HttpServer& http, const infer::ServedModels& models, Request req, Reply reply) {
  if (!known_version(req, reply)) return;
  const infer::ServedModel* served = find_model(models, req.params[0], reply);
  if (!served) return;
  const std::string& name = req.params[0];
  std::optional<uint64_t> header_length;
  if (const std::string_view h = req.header("inference-header-content-length"); !h.empty()) {
    int64_t n = 0;
    if (!parse_int(h, &n) || n < 0) {
      return reply(Response::error(400, "Inference-Header-Content-Length is '" + std::string(h) +
                                            "'; give the JSON header's length in bytes"));
    }
    header_length = static_cast<uint64_t>(n);
  }
  // The body is freed once parsed (clear() would keep its bytes): the tensor is a copy.
  auto request = parse_infer_request(std::exchange(req.body, {}), header_length);
  if (!request.ok()) return reply(Response::error(400, request.status().message()));

  const infer::Model& model = *served->model;
  const infer::ModelInfo& info = model.info();
  const infer::TensorInfo& input_info = info.inputs.at(0);
  for (const InferInput& in : request->inputs) {
    if (in.name != input_info.name) {
      return reply(Response::error(400, "model '" + name + "' has no input '" + in.name +
                                            "'; its input is '" + input_info.name + "'"));
    }
  }
  if (request->inputs.size() != 1) {
    return reply(Response::error(400, "input '" + input_info.name + "' is given " +
                                          std::to_string(request->inputs.size()) +
                                          " times; give it once"));
  }
  infer::Tensor& input = request->inputs[0].tensor;
  if (Status s = check_shape(name, input_info, input.shape); !s) {
    return reply(Response::error(400, s.message()));
  }
  const int64_t batch = input.shape[0];
  const int capacity = model.spec().server.queue_capacity;
  if (batch > capacity) {
    return reply(Response::error(
        400, "a batch of " + std::to_string(batch) + " is more than model '" + name + "' queues (" +
                 std::to_string(capacity) + "); send at most that many samples"));
  }

  auto job = std::make_shared<InferJob>();
  job->name = name;
  job->id = request->id;
  job->reply = std::move(reply);
  job->http = &http;
  if (request->outputs.empty()) {
    for (size_t i = 0; i < info.outputs.size(); ++i) {
      job->outputs.emplace_back(i, request->binary_outputs);
    }
  }
  for (const InferOutputRequest& out : request->outputs) {
    size_t index = 0;
    while (index < info.outputs.size() && info.outputs[index].name != out.name) ++index;
    if (index == info.outputs.size()) {
      return job->reply(Response::error(
          400, "model '" + name + "' has no output '" + out.name + "'; its outputs are " +
                   join(info.outputs, ", ",
                        [](const infer::TensorInfo& t) { return "'" + t.name + "'"; })));
    }
    job->outputs.emplace_back(index, out.binary.value_or(request->binary_outputs));
  }

  // One request per sample: the server batches them with every other caller's.
  job->results.resize(static_cast<size_t>(batch));
  job->remaining = static_cast<size_t>(batch) + 1;  // + this loop
  const size_t stride = input.data.size() / static_cast<size_t>(batch);
  for (int64_t i = 0; i < batch; ++i) {
    infer::Tensor sample;
    sample.name = input_info.name;
    sample.shape = input.shape;
    sample.shape[0] = 1;
    sample.data.assign(input.data.begin() + i * stride, input.data.begin() + (i + 1) * stride);
    Status s = served->server->submit(std::move(sample), true,
                                      [job, i](Result<std::vector<infer::Tensor>> out) {
                                        {
                                          std::lock_guard lock(job->mu);
                                          if (out.ok()) {
                                            job->results[i] = std::move(out).value();
                                          } else if (job->failed.empty()) {
                                            job->failed = out.status().message();
                                          }
                                        }
                                        InferJob::done_one(job);
                                      });
    if (!s) {
      {
        std::lock_guard lock(job->mu);
        job->rejected = s.message() + "; retry later";
        job->remaining -= static_cast<size_t>(batch - i);
      }
      break;
    }
  }
  InferJob::done_one(job);
}

void detect(HttpServer& http, const infer::ServedModels& models, const KserveOptions& options,
            Request req, Reply reply) {
  const infer::ServedModel* served = find_model(models, req.params[0], reply);
  if (!served) return;
  std::shared_ptr<const infer::Model> model = served->model;
  const std::string name = req.params[0];
  if (model->task() != infer::Task::kDetect) {
    return reply(Response::error(400, "model '" + name + "' (decoder " + model->spec().decoder +
                                          ") does not detect objects; /detect needs a "
                                          "detection model, use /infer for this one"));
  }
  bool unsupported = false;
  auto picture = decode_picture(std::exchange(req.body, {}), options.max_pixels, &unsupported);
  if (!picture.ok()) {
    return reply(Response::error(unsupported ? 415 : 400, picture.status().message()));
  }
  auto sample = model->preprocess(*picture);
  if (!sample.ok()) return reply(Response::error(400, sample.status().message()));
  const infer::InputTransform transform = sample->transform;
  const int width = picture->cols;
  const int height = picture->rows;
  Status s = served->server->submit(
      std::move(sample->tensor), true,
      [&http, model, name, transform, width, height,
       reply](Result<std::vector<infer::Tensor>> out) {
        http.post([model, name, transform, width, height, reply, out = std::move(out)] {
          if (!out.ok()) return reply(Response::error(500, out.status().message()));
          auto dets = model->detections(*out, transform);
          if (!dets.ok()) return reply(Response::error(500, dets.status().message()));
          json list = json::array();
          for (const Detection& d : *dets) {
            list.push_back({{"label", d.label},
                            {"score", d.score},
                            {"box", {d.box.x1, d.box.y1, d.box.x2, d.box.y2}}});
          }
          reply(Response::json(
              json{{"model", name}, {"width", width}, {"height", height}, {"detections", list}}
                  .dump()));
        });
      });
  if (!s) reply(Response::error(503, s.message() + "; retry later"));
}

}  // namespace

void add_kserve_routes(HttpServer& http, const infer::ServedModels& models,
                       std::function<bool()> ready, const KserveOptions& options) {
  http.route(
      "GET", "/v2/health/live",
      [](Request, Reply reply) { reply(Response::json(R"({"live":true})")); }, Run::kInline,
      Access::kPublic);
  http.route(
      "GET", "/v2/health/ready",
      [ready](Request, Reply reply) {
        reply(ready() ? Response::json(R"({"ready":true})")
                      : Response::json(R"({"ready":false})", 503));
      },
      Run::kInline, Access::kPublic);
  http.route(
      "GET", "/v2",
      [](Request, Reply reply) {
        reply(Response::json(
            json{{"name", "iris"}, {"version", kVersion}, {"extensions", {"binary_tensor_data"}}}
                .dump()));
      },
      Run::kInline);
  http.route(
      "POST", "/v2/repository/index",
      [&models](Request, Reply reply) {
        json list = json::array();
        for (const auto& [name, served] : models) {
          list.push_back({{"name", name}, {"version", "1"}, {"state", "READY"}});
        }
        reply(Response::json(list.dump()));
      },
      Run::kInline);

  const auto metadata = [&models](Request req, Reply reply) {
    if (!known_version(req, reply)) return;
    const infer::ServedModel* served = find_model(models, req.params[0], reply);
    if (!served) return;
    const infer::ModelInfo& info = served->model->info();
    reply(Response::json(json{{"name", req.params[0]},
                              {"versions", {"1"}},
                              {"platform", "onnx"},
                              {"inputs", tensor_metadata({info.inputs.at(0)})},
                              {"outputs", tensor_metadata(info.outputs)}}
                             .dump()));
  };
  const auto model_ready = [&models, ready](Request req, Reply reply) {
    if (!known_version(req, reply)) return;
    if (!find_model(models, req.params[0], reply)) return;
    reply(ready() ? Response::json(json{{"name", req.params[0]}, {"ready", true}}.dump())
                  : Response::json(json{{"name", req.params[0]}, {"ready", false}}.dump(), 503));
  };
  const auto run_infer = [&http, &models](Request req, Reply reply) {
    infer(http, models, std::move(req), std::move(reply));
  };
  for (const std::string prefix : {"/v2/models/{}", "/v2/models/{}/versions/{}"}) {
    http.route("GET", prefix, metadata, Run::kInline);
    http.route("GET", prefix + "/ready", model_ready, Run::kInline);
    http.route("POST", prefix + "/infer", run_infer);
  }
  http.route("POST", "/v2/models/{}/detect", [&http, &models, options](Request req, Reply reply) {
    detect(http, models, options, std::move(req), std::move(reply));
  });
}

}  // namespace iris::server
