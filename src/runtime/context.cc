// Context: one worker's arena, oneDNN stream and memory objects, bound once to the Model's plan;
// run() copies the inputs in, executes the steps and copies the outputs out.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "runtime/plan.h"

namespace iris::runtime {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

void* aligned(size_t bytes) {
  constexpr size_t kAlign = 64;
  return std::aligned_alloc(kAlign,
                            std::max<size_t>((bytes + kAlign - 1) / kAlign * kAlign, kAlign));
}

}  // namespace

struct Context::State {
  std::unique_ptr<uint8_t, FreeDeleter> arena;
  std::unique_ptr<uint8_t, FreeDeleter> scratch;
  dnnl::stream stream;
  std::vector<void*> ptr;                                   // per slot
  std::vector<std::unordered_map<int, dnnl::memory>> args;  // per step
  std::vector<std::unique_ptr<Operands>> operands;          // per plain step
  std::vector<std::vector<View>> outs;                      // per plain step
};

Context::Context(std::shared_ptr<const Model> model, std::unique_ptr<State> state)
    : model_(std::move(model)), state_(std::move(state)) {}
Context::~Context() = default;

Result<std::unique_ptr<Context>> Model::new_context() const {
  const Plan& p = *plan_;
  auto st = std::make_unique<Context::State>();
  st->arena.reset(static_cast<uint8_t*>(aligned(p.arena_bytes)));
  st->scratch.reset(static_cast<uint8_t*>(aligned(p.scratch_bytes)));
  if (!st->arena || !st->scratch) {
    return Status::error("the iris runtime could not allocate " +
                         std::to_string((p.arena_bytes + p.scratch_bytes) >> 20) +
                         " MiB of working memory; fix: free memory or lower the batch size");
  }
  st->stream = dnnl::stream(cpu_engine());
  st->ptr.resize(p.slots.size());
  for (size_t i = 0; i < p.slots.size(); ++i) {
    const Slot& s = p.slots[i];
    st->ptr[i] =
        s.buffer < 0 ? const_cast<void*>(s.constant) : st->arena.get() + p.buffers[s.buffer].offset;
  }
  std::vector<std::optional<dnnl::memory>> mem(p.slots.size());
  const auto memory_of = [&](int s) -> const dnnl::memory& {
    if (!mem[s]) mem[s] = dnnl::memory(p.slots[s].md, cpu_engine(), st->ptr[s]);
    return *mem[s];
  };
  st->args.resize(p.steps.size());
  st->operands.resize(p.steps.size());
  st->outs.resize(p.steps.size());
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const Step& step = p.steps[i];
    if (step.kind == Step::kPlain) {
      const Node& n = p.graph.nodes[step.node];
      auto a = std::make_unique<Operands>(Operands{.node = n, .where = p.graph.describe(n)});
      for (int s : step.in) {
        a->present.push_back(s >= 0);
        a->in.push_back(s < 0 ? View{} : View{p.slots[s].dtype, p.slots[s].shape, st->ptr[s]});
      }
      for (int s : step.out)
        st->outs[i].push_back({p.slots[s].dtype, p.slots[s].shape, st->ptr[s]});
      st->operands[i] = std::move(a);
      continue;
    }
    auto& args = st->args[i];
    for (const auto& [arg, s] : step.args) args.emplace(arg, memory_of(s));
    for (const auto& [arg, m] : step.fixed) args.emplace(arg, m);
    if (!step.scratch.is_zero()) {
      args.emplace(DNNL_ARG_SCRATCHPAD,
                   dnnl::memory(step.scratch, cpu_engine(), st->scratch.get()));
    }
  }
  return std::make_unique<Context>(shared_from_this(), std::move(st));
}

Status Context::run(const std::vector<View>& inputs, std::vector<HostTensor>* outputs) {
  const Model::Plan& p = model_->plan();
  State& st = *state_;
  if (inputs.size() != p.inputs.size()) {
    return Status::error(p.graph.label + " takes " + std::to_string(p.inputs.size()) +
                         " inputs, got " + std::to_string(inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec& spec = p.inputs[i];
    if (inputs[i].dtype != spec.dtype || inputs[i].shape != spec.shape) {
      return Status::error(p.graph.label + ": input '" + spec.name + "' is " +
                           dtype_name(spec.dtype) + " " + shape_string(spec.shape) + ", got " +
                           dtype_name(inputs[i].dtype) + " " + shape_string(inputs[i].shape));
    }
    const int s = p.input_slots[i];
    std::memcpy(st.ptr[s], inputs[i].data, p.slots[s].bytes());
  }
  if (profiling_) layer_ms_.assign(p.steps.size(), 0.0);
  Status status;
  try {
    const ThreadScope threads(p.threads);
    for (size_t i = 0; i < p.steps.size() && status.ok(); ++i) {
      const Step& step = p.steps[i];
      const auto t0 = std::chrono::steady_clock::now();
      if (step.kind == Step::kPlain) {
        status = step.def->plain(*st.operands[i], st.outs[i]);
      } else {
        step.primitive.execute(st.stream, st.args[i]);
      }
      if (profiling_) {
        st.stream.wait();
        layer_ms_[i] =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
      }
    }
    st.stream.wait();
  } catch (const dnnl::error& e) {
    status = Status::error(p.graph.label + ": oneDNN failed at inference (" + e.what() + ")");
  }
  if (!status.ok()) return status;
  outputs->resize(p.outputs.size());
  for (size_t i = 0; i < p.outputs.size(); ++i) {
    const int s = p.output_slots[i];
    HostTensor& t = (*outputs)[i];
    if (t.dtype != p.outputs[i].dtype || t.shape != p.outputs[i].shape ||
        t.bytes.size() != p.slots[s].bytes()) {
      t = HostTensor::zeros(p.outputs[i].dtype, p.outputs[i].shape);
    }
    if (!t.bytes.empty()) std::memcpy(t.bytes.data(), st.ptr[s], t.bytes.size());
  }
  return {};
}

}  // namespace iris::runtime
