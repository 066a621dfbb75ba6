// The compiled plan a Model holds (internal to src/runtime): slots (tensors at inference, each
// with a oneDNN memory layout and a place in the arena or in the Model's constants), steps
// (oneDNN primitives and plain kernels) and the arena's buffers.
#pragma once

#include <omp.h>

#include <dnnl.hpp>
#include <memory>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "runtime/ops.h"

namespace iris::runtime {

// The CPU engine every Model and Context uses (oneDNN engines are thread-safe).
const dnnl::engine& cpu_engine();

// Sets this thread's OpenMP thread count to `n` (0: leaves it) for the scope's lifetime.
class ThreadScope {
 public:
  explicit ThreadScope(int n) : n_(n), saved_(omp_get_max_threads()) {
    if (n_ > 0) omp_set_num_threads(n_);
  }
  ~ThreadScope() {
    if (n_ > 0) omp_set_num_threads(saved_);
  }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int n_, saved_;
};

// A tensor at inference.
struct Slot {
  DType dtype = DType::kFloat32;
  Shape shape;
  dnnl::memory::desc md;  // float tensors: the physical layout and data type (f32, bf16, s8,
                          // u8); others: empty (dense row-major)
  float scale = 1;        // s8/u8: the real value of one step
  int buffer = -1;        // arena buffer; -1 for a constant
  const void* constant = nullptr;  // with buffer -1: constant data the Model owns

  size_t bytes() const;
};

struct Step {
  enum Kind { kPrimitive, kPlain } kind = kPrimitive;
  // kPrimitive
  dnnl::primitive primitive;
  std::vector<std::pair<int, int>> args;            // DNNL_ARG_* -> slot
  std::vector<std::pair<int, dnnl::memory>> fixed;  // weights and bias the Model owns
  // kPlain: the node's OpDef over dense row-major slots (-1: optional input left out)
  const OpDef* def = nullptr;
  int node = -1;  // index into Plan::graph.nodes
  std::vector<int> in, out;
  // May write its output slot over this input slot's buffer (eltwise, binary src0, copies).
  int inplace_in = -1, inplace_out = -1;
  bool elidable = false;       // a copy between identical layouts: dropped when made in-place
  dnnl::memory::desc scratch;  // the primitive's scratchpad, in the Context's scratch buffer
  Layer layer;
};

struct Buffer {
  size_t bytes = 0;
  size_t offset = 0;  // in the arena
};

struct Model::Plan {
  Graph graph;  // folded and fused; plain steps refer to its nodes
  std::vector<Slot> slots;
  std::vector<Step> steps;
  std::vector<Buffer> buffers;
  std::vector<Layer> layers;
  std::vector<TensorSpec> inputs, outputs;
  std::vector<int> input_slots, output_slots;
  std::vector<std::shared_ptr<const HostTensor>> constants;  // kept alive for Slot::constant
  std::vector<dnnl::memory> weights;                         // reordered weights
  size_t arena_bytes = 0;
  size_t scratch_bytes = 0;
  size_t weight_bytes = 0;
  int threads = 0;
};

}  // namespace iris::runtime
