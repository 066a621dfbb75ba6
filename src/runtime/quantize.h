// Calibration for reduced-precision convolutions: which values an INT8 Conv reads (conv_sites),
// their ranges measured by running the FP32 model over sample inputs (Calibrator, one pass, one
// magnitude Histogram per value), and the result stored in the .onnx file itself, as JSON under
// the metadata key "iris.quantization", so a quantized model is one file that any tool reading
// ONNX still loads (write_quantized_model, quantization_of).
//
// Threads: a Calibrator owns a Context, so one thread at a time calls add().
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runtime/graph.h"
#include "runtime/model.h"

namespace iris::runtime {

// How a range's threshold is chosen from a value's histogram.
enum class Calibration {
  kMinMax,      // the largest magnitude seen: nothing saturates, outliers cost resolution
  kPercentile,  // the magnitude below which `percentile`% of the samples fall
  kEntropy,     // the threshold whose quantized distribution loses the least information (KL)
  kMse,         // the threshold with the least squared error, rounding and clipping together
};
// Their names, in the enum's order.
inline constexpr std::string_view kCalibrationNames[] = {"minmax", "percentile", "entropy", "mse"};
const char* calibration_name(Calibration c);
std::optional<Calibration> parse_calibration(std::string_view name);

constexpr float kDefaultPercentile = 99.99f;
constexpr char kQuantizationKey[] = "iris.quantization";

// The magnitudes |x| of one value over a stream of tensors, in kBins equal bins over
// [0, range()). range() is a power of two above the largest magnitude seen; a larger one doubles
// it, merging bin pairs, which is exact: the bins equal those of one histogram built over the
// final range, so one pass over the calibration data suffices. Non-finite values are skipped.
class Histogram {
 public:
  static constexpr int kBins = 2048;

  void add(const float* x, size_t n);
  float threshold(Calibration method, float percentile = kDefaultPercentile) const;

  int64_t count() const { return count_; }
  float min() const { return count_ ? min_ : 0; }  // of x, not |x|
  float max_abs() const { return max_abs_; }
  float range() const { return range_; }
  const std::array<int64_t, kBins>& bins() const { return bins_; }

 private:
  float entropy_threshold() const;
  float mse_threshold() const;

  std::array<int64_t, kBins> bins_{};
  float range_ = 0;  // 0 until a non-zero magnitude arrives; zeros count in bin 0 meanwhile
  float min_ = 0;
  float max_abs_ = 0;
  int64_t count_ = 0;
  int64_t zeros_ = 0;  // exact zeros, also counted in bin 0
};

// What `iris quantize` found, stored in the model file.
struct Quantization {
  Precision precision = Precision::kInt8;
  Calibration method = Calibration::kMse;
  float percentile = kDefaultPercentile;
  int samples = 0;                      // Calibrator::add() calls the ranges come from
  std::map<std::string, Range> ranges;  // Options::ranges
  std::set<std::string> fp32_nodes;     // Options::fp32_nodes
  std::map<std::string, std::vector<float>> equalize;  // Options::equalize
};

// The model's stored quantization; nullopt when it has none. Malformed metadata is an error
// naming the model and the fix.
Result<std::optional<Quantization>> quantization_of(const Graph& g);
// Copies the ONNX file `source_onnx` to `dest` (which may be the same path) with `q` stored in
// its metadata, replacing any earlier one; `dest` is replaced atomically.
Status write_quantized_model(const std::string& source_onnx, const std::string& dest,
                             const Quantization& q);

// A convolution of the compiled (fused) graph that can run in reduced precision.
struct ConvSite {
  std::string node;    // as Layer::name and Options::fp32_nodes name it
  std::string input;   // the data value it reads: what INT8 quantizes (Options::ranges)
  std::string output;  // what it writes, after fused activations: for per-layer comparisons
};

// Every Conv and ConvTranspose with constant weights, in execution order, of `g` folded and
// fused for `input_shapes` as Model::compile does it.
Result<std::vector<ConvSite>> conv_sites(const Graph& g,
                                         const std::map<std::string, Shape>& input_shapes);
// The same of a graph already folded and fused.
std::vector<ConvSite> conv_sites(const Graph& fused);

// Runs the model in FP32 over sample inputs and measures the range of every conv input.
class Calibrator {
 public:
  // `options` as for Model::compile (threads, input shapes); the precision is FP32 and the
  // conv inputs are added to extra_outputs.
  static Result<Calibrator> create(const Graph& g, Options options);

  // One run: `inputs` as for Context::run.
  Status add(const std::vector<View>& inputs);
  // By value name, for every conv input seen in at least one add().
  std::map<std::string, Range> ranges(Calibration method,
                                      float percentile = kDefaultPercentile) const;
  // Options::equalize for every value it may scale, from the channel ranges seen: calibrate
  // again with it set to get the ranges of the equalized model.
  std::map<std::string, std::vector<float>> equalization() const;
  int samples() const { return samples_; }

 private:
  // Where a conv input's values come from in one run: a model input, or an extra output.
  struct Source {
    std::string name;
    bool is_input = false;
    size_t index = 0;
  };

  std::unique_ptr<Context> context_;
  std::vector<Source> sources_;
  std::map<std::string, Histogram> histograms_;
  // Equalizable values: their readers' largest weight per input channel, and the largest
  // magnitude seen per channel.
  std::map<std::string, std::vector<float>> weight_max_, channel_max_;
  std::vector<HostTensor> outputs_;  // reused between runs
  int samples_ = 0;
};

}  // namespace iris::runtime
