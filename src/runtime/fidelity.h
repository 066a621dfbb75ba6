// Fidelity of a reduced-precision model to its FP32 self, layer by layer: both run on the same
// inputs with every Conv's input and output (after fused activations) returned as extra outputs,
// and each value's relative error and cosine similarity accumulate over the samples. `iris
// quantize` reports it and picks the layers that fall back to FP32 from it (choose_fallback).
//
// Threads: a FidelityMeter owns two Contexts, so one thread at a time calls add().
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/model.h"
#include "runtime/quantize.h"

namespace iris::runtime {

// One value compared: ||b - a|| / ||a|| and a.b / (||a|| ||b||) over every sample's elements
// (a: FP32, b: the candidate). A value that is zero in both is a perfect match.
struct ValueFidelity {
  std::string value;
  double rel_error = 0;
  double cosine = 1;
};

struct LayerFidelity {
  ConvSite site;
  std::string precision;  // what the Conv ran in: "fp32", "bf16", "int8"
  ValueFidelity input, output;
  // What this layer adds: its output's relative error less its input's.
  double added_error() const { return output.rel_error - input.rel_error; }
};

struct Fidelity {
  std::vector<LayerFidelity> layers;   // in execution order
  std::vector<ValueFidelity> outputs;  // the model's outputs
  int samples = 0;
  double min_output_cosine() const;
};

class FidelityMeter {
 public:
  // `reference` and `candidate` as for Model::compile, with the same input shapes; extra outputs
  // are set here. The meter keeps a copy of `g`.
  static Result<FidelityMeter> create(const Graph& g, Options reference, Options candidate);
  // Compiles another candidate (same input shapes) and starts the sums again; the reference
  // stays as it was compiled.
  Status set_candidate(Options candidate);

  Status add(const std::vector<View>& inputs);
  Fidelity result() const;

 private:
  struct Sums {
    double aa = 0, bb = 0, ab = 0, dd = 0;
  };

  std::vector<ConvSite> sites_;
  std::vector<std::string> values_;      // the extra outputs, in order
  std::vector<std::string> precisions_;  // per site
  // Per value: the candidate's equalization scales (Options::equalize), empty for none.
  std::vector<std::vector<float>> equalized_;
  size_t model_outputs_ = 0;
  std::vector<std::string> output_names_;
  Graph graph_;
  std::unique_ptr<Context> reference_, candidate_;  // each keeps its Model alive
  std::vector<Sums> sums_;                          // model outputs, then values_
  std::vector<HostTensor> a_, b_;
  int samples_ = 0;
};

// Per-layer fallback: starting from `candidate.fp32_nodes`, tries moving to FP32 the layer that
// adds the most error, keeping the move only when the model outputs' cosine similarity to FP32
// over `samples` improves, until it reaches `min_cosine` or `max_layers` layers have been tried.
// `fp32_nodes` gets the layers kept FP32; returns the fidelity with them. `progress` (may be
// null) hears each try.
struct FallbackStep {
  std::string node;   // tried in FP32 (empty for the first measurement)
  double min_cosine;  // of the model outputs with it
  bool kept;          // whether it stays FP32
};
Result<Fidelity> choose_fallback(const Graph& g, const Options& reference, Options candidate,
                                 const std::vector<std::vector<View>>& samples, double min_cosine,
                                 int max_layers, std::set<std::string>* fp32_nodes,
                                 void (*progress)(const FallbackStep&) = nullptr);

}  // namespace iris::runtime
