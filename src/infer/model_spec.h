// ModelSpec: everything iris needs to feed a model, read its answer and serve it, as written in a
// pipeline config (docs/config.md, "models"). Plain data; checked by the config reader.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

namespace iris::infer {

enum class Layout { kNCHW, kNHWC };
enum class Resize { kLetterbox, kStretch };  // keep aspect and pad, or scale each axis

// Batching across streams and HTTP clients, for the model's ModelServer.
struct ServerOptions {
  int max_batch = 8;        // largest batch formed; a model with a fixed batch of 1 gets 1
  int max_delay_us = 2000;  // how long the oldest request of a partial batch may wait
  int queue_capacity = 64;  // requests waiting; a caller that may drop is rejected beyond it
  int instances = 1;        // worker threads running the model, each with its own Context
};

struct ModelSpec {
  std::string name;  // how streams and the HTTP API refer to it
  std::string path;  // .onnx file
  std::string backend = "opencv";
  // What `backend: iris` runs the model's convolutions in: "fp32", "bf16" or "int8" (which needs a
  // file calibrated by `iris quantize`); "": the file's calibrated precision, else fp32.
  std::string precision;

  // Input. 0 takes the size from the model's input shape.
  int input_width = 0;
  int input_height = 0;
  Layout layout = Layout::kNCHW;
  bool rgb = true;                      // channel order the model expects (frames are BGR)
  double scale = 1.0 / 255.0;           // value = (pixel * scale - mean[c]) / std[c]
  std::array<double, 3> mean{0, 0, 0};  // in the model's channel order
  std::array<double, 3> std{1, 1, 1};
  Resize resize = Resize::kLetterbox;
  double pad_value = 114;  // letterbox border, in pixel units (0-255)

  // Output.
  std::string decoder;  // yolov5, yolov8, yolox, ssd, blazeface, end2end, classifier, embedding
  std::vector<std::string> class_names;  // index -> name; empty: "0", "1", ...
  float score_threshold = 0.25f;
  std::map<std::string, float> class_thresholds;  // per class name, overrides score_threshold
  float nms_iou = 0.45f;
  int max_detections = 300;
  int top_k = 1;  // classifier: answers kept per crop

  ServerOptions server;  // how its ModelServer batches requests across streams
};

}  // namespace iris::infer
