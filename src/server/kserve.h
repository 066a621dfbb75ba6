// KServe v2 / Triton HTTP routes over the pipeline's models: health, server and model metadata
// and readiness, infer (JSON and binary tensors), and iris's /detect (a JPEG or PNG in, decoded
// detections out). Requests go to the same ModelServer as the cameras' frames, one sample at a
// time, so they are batched with them; an HTTP request may be dropped like a live camera's frame
// when the model's queue is full (503: retry later).
#pragma once

#include <functional>

#include "infer/model_server.h"
#include "server/http.h"

namespace iris::server {

struct KserveOptions {
  int64_t max_pixels = 40'000'000;  // largest picture /detect decodes
};

// `models` and `http` must outlive the routes' use (the Server stops `http` before the models
// go); `ready` says whether the server takes inference requests now.
void add_kserve_routes(HttpServer& http, const infer::ServedModels& models,
                       std::function<bool()> ready, const KserveOptions& options = {});

}  // namespace iris::server
