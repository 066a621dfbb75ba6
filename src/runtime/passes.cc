#include "runtime/passes.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "runtime/ops.h"

namespace iris::runtime {
namespace {

// Value id -> the nodes reading it (by index), and whether a graph output is it.
struct Uses {
  std::vector<std::vector<int>> readers;
  std::vector<bool> is_output;
};

Uses uses_of(const Graph& g) {
  Uses u{std::vector<std::vector<int>>(g.values.size()), std::vector<bool>(g.values.size())};
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (int id : g.nodes[i].inputs) {
      if (id >= 0) u.readers[id].push_back(static_cast<int>(i));
    }
  }
  for (int id : g.outputs) u.is_output[id] = true;
  return u;
}

// The one node reading value `id`, when exactly one does and it is not a graph output.
int sole_reader(const Uses& u, int id) {
  if (u.is_output[id] || u.readers[id].size() != 1) return -1;
  return u.readers[id][0];
}

bool is_constant(const Graph& g, int id) { return id >= 0 && g.values[id].constant != nullptr; }

void kill(Node& n) { n.op.clear(); }

}  // namespace

Status infer_shapes(Graph& g, const std::map<std::string, Shape>& input_shapes) {
  for (const auto& [name, shape] : input_shapes) {
    const bool known = std::any_of(g.inputs.begin(), g.inputs.end(),
                                   [&](int id) { return g.values[id].name == name; });
    if (!known) {
      return Status::error(g.label + " has no input '" + name + "' to give a shape to");
    }
  }
  for (int id : g.inputs) {
    Value& v = g.values[id];
    const auto given = input_shapes.find(v.name);
    if (given != input_shapes.end()) {
      const Shape& s = given->second;
      bool fits = v.shape.empty() || s.size() == v.shape.size();
      for (size_t i = 0; fits && i < v.shape.size(); ++i) {
        fits = v.shape[i] < 0 || v.shape[i] == s[i];
      }
      if (!fits) {
        return Status::error(g.label + ": input '" + v.name + "' " + shape_string(v.shape) +
                             " cannot take shape " + shape_string(s));
      }
      v.shape = s;
    }
    for (int64_t d : v.shape) {
      if (d < 1) {
        return Status::error(g.label + ": input '" + v.name + "' " + shape_string(v.shape) +
                             " leaves a dimension free; fix: give its size (the batch, or the "
                             "image's width and height)");
      }
    }
  }
  for (Node& n : g.nodes) {
    const OpDef* def = find_op(n.op);
    Operands a = operands_at_load(g, n);
    auto types = def->infer(a);
    if (!types.ok()) return types.status();
    if (types->size() != n.outputs.size()) {
      return a.error("has " + std::to_string(n.outputs.size()) + " outputs, expected " +
                     std::to_string(types->size()));
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      Value& v = g.values[n.outputs[k]];
      v.dtype = (*types)[k].dtype;
      v.shape = (*types)[k].shape;
    }
    // Fold when every input is known; Shape and Size need only the (static) input shape.
    bool foldable = def->plain != nullptr;
    if (n.op != "Shape" && n.op != "Size") {
      for (size_t i = 0; i < a.size(); ++i) foldable = foldable && (!a.has(i) || a.known(i));
    }
    if (!foldable) continue;
    std::vector<HostTensor> results;
    std::vector<View> outs;
    results.reserve(n.outputs.size());
    for (const TypedShape& t : *types) results.push_back(HostTensor::zeros(t.dtype, t.shape));
    for (HostTensor& t : results) outs.push_back(View::of(t));
    if (n.op == "Shape" || n.op == "Size") a.in[0].data = nullptr;  // reads the shape only
    if (Status s = def->plain(a, outs); !s.ok()) return s;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      g.values[n.outputs[k]].constant = std::make_shared<const HostTensor>(std::move(results[k]));
    }
  }
  return {};
}

namespace {

// Identity and Dropout: readers read the input instead.
void bypass_identities(Graph& g) {
  const Uses u = uses_of(g);
  std::vector<int> replace(g.values.size());
  for (size_t i = 0; i < replace.size(); ++i) replace[i] = static_cast<int>(i);
  for (Node& n : g.nodes) {
    if ((n.op != "Identity" && n.op != "Dropout") || u.is_output[n.outputs[0]]) continue;
    replace[n.outputs[0]] = replace[n.inputs[0]];
  }
  for (Node& n : g.nodes) {
    for (int& id : n.inputs) {
      if (id >= 0) id = replace[id];
    }
  }
}

// Conv followed by BatchNormalization with constant statistics: scale the weights.
bool fold_batch_norm(Graph& g, const Uses& u, int ci) {
  Node& conv = g.nodes[ci];
  if (conv.op != "Conv" || !conv.post_ops.empty() || !is_constant(g, conv.inputs[1]) ||
      (conv.input(2) >= 0 && !is_constant(g, conv.inputs[2]))) {
    return false;
  }
  const int bi = sole_reader(u, conv.outputs[0]);
  if (bi < 0) return false;
  Node& bn = g.nodes[bi];
  if (bn.op != "BatchNormalization" || bn.inputs[0] != conv.outputs[0] || bn.outputs.size() != 1) {
    return false;
  }
  for (int i = 1; i < 5; ++i) {
    if (!is_constant(g, bn.input(i))) return false;
  }
  const HostTensor& w = *g.values[conv.inputs[1]].constant;
  const int64_t oc = w.shape[0], per = w.count() / oc;
  const auto scale = g.values[bn.inputs[1]].constant->floats();
  const auto beta = g.values[bn.inputs[2]].constant->floats();
  const auto mean = g.values[bn.inputs[3]].constant->floats();
  const auto var = g.values[bn.inputs[4]].constant->floats();
  const float eps = bn.attr_float("epsilon", 1e-5f);
  HostTensor nw = w;
  HostTensor nb = HostTensor::zeros(DType::kFloat32, {oc});
  const std::vector<float> bias = conv.input(2) >= 0 ? g.values[conv.inputs[2]].constant->floats()
                                                     : std::vector<float>(oc, 0.0f);
  for (int64_t o = 0; o < oc; ++o) {
    const float k = scale[o] / std::sqrt(var[o] + eps);
    for (int64_t j = 0; j < per; ++j) nw.data<float>()[o * per + j] *= k;
    nb.data<float>()[o] = (bias[o] - mean[o]) * k + beta[o];
  }
  conv.inputs.resize(3);
  conv.inputs[1] = g.add_constant(std::move(nw), "weights");
  conv.inputs[2] = g.add_constant(std::move(nb), "bias");
  conv.outputs[0] = bn.outputs[0];
  kill(bn);
  return true;
}

// Pad (constant zeros on spatial axes only) before a Conv: the Conv pads instead.
bool fold_pad(Graph& g, const Uses& u, int pi) {
  Node& pad = g.nodes[pi];
  if (pad.op != "Pad" || pad.attr_string("mode", "constant") != "constant" ||
      !is_constant(g, pad.input(1)) || pad.input(3) >= 0) {
    return false;
  }
  if (pad.input(2) >= 0) {
    if (!is_constant(g, pad.inputs[2])) return false;
    const auto fill = g.values[pad.inputs[2]].constant->floats();
    if (!fill.empty() && fill[0] != 0) return false;
  }
  const int ci = sole_reader(u, pad.outputs[0]);
  if (ci < 0) return false;
  Node& conv = g.nodes[ci];
  if (conv.op != "Conv" || conv.inputs[0] != pad.outputs[0] ||
      conv.attr_string("auto_pad", "NOTSET") != "NOTSET") {
    return false;
  }
  const auto pads = g.values[pad.inputs[1]].constant->ints();
  const size_t rank = g.values[pad.inputs[0]].shape.size(), spatial = rank - 2;
  if (rank < 3 || pads.size() != 2 * rank || pads[0] || pads[1] || pads[rank] || pads[rank + 1]) {
    return false;
  }
  auto conv_pads = conv.attr_ints("pads", std::vector<int64_t>(2 * spatial, 0));
  for (size_t i = 0; i < spatial; ++i) {
    if (pads[2 + i] < 0 || pads[rank + 2 + i] < 0) return false;
    conv_pads[i] += pads[2 + i];
    conv_pads[spatial + i] += pads[rank + 2 + i];
  }
  conv.attrs["pads"] = conv_pads;
  conv.inputs[0] = pad.inputs[0];
  kill(pad);
  return true;
}

// x * sigmoid(x) -> Swish(x); x * HardSigmoid(x; 1/6, 1/2) -> HardSwish(x).
bool fold_gated(Graph& g, const Uses& u, int si) {
  Node& gate = g.nodes[si];
  const bool sigmoid = gate.op == "Sigmoid";
  const bool hard = gate.op == "HardSigmoid" &&
                    std::fabs(gate.attr_float("alpha", 0.2f) - 1.0f / 6) < 1e-6f &&
                    std::fabs(gate.attr_float("beta", 0.5f) - 0.5f) < 1e-6f;
  if (!sigmoid && !hard) return false;
  const int x = gate.inputs[0], s = gate.outputs[0];
  for (int mi : u.readers[s]) {
    Node& mul = g.nodes[mi];
    if (mul.op != "Mul" || mul.inputs.size() != 2) continue;
    if (!((mul.inputs[0] == x && mul.inputs[1] == s) ||
          (mul.inputs[0] == s && mul.inputs[1] == x))) {
      continue;
    }
    mul.op = sigmoid ? "Swish" : "HardSwish";
    mul.inputs = {x};
    mul.attrs.clear();
    return true;
  }
  return false;
}

// An activation (or a residual Add) reading a Conv's output becomes a post-op of the Conv.
bool fold_post_op(Graph& g, const Uses& u, int ci) {
  Node& conv = g.nodes[ci];
  if (conv.op != "Conv" && conv.op != "ConvTranspose") return false;
  const int ri = sole_reader(u, conv.outputs[0]);
  if (ri < 0) return false;
  Node& next = g.nodes[ri];
  const int y = conv.outputs[0];
  if (next.inputs.empty() || next.outputs.empty()) return false;
  const auto act = next.inputs[0] == y ? activation_of(operands_at_load(g, next)) : std::nullopt;
  if (act) {
    conv.post_ops.push_back({.kind = PostOp::kActivation, .activation = *act});
    conv.outputs[0] = next.outputs[0];
    kill(next);
    return true;
  }
  // Add(y, other) with `other` a runtime float tensor of y's shape, computed before the Conv:
  // the Conv adds its result onto `other` (oneDNN's sum post-op).
  const bool has_sum = std::any_of(conv.post_ops.begin(), conv.post_ops.end(),
                                   [](const PostOp& p) { return p.kind == PostOp::kSum; });
  if (conv.op != "Conv" || next.op != "Add" || next.inputs.size() != 2 || has_sum) return false;
  const int other = next.inputs[0] == y ? next.inputs[1] : next.inputs[0];
  if (other == y || is_constant(g, other) || g.values[other].shape != g.values[y].shape ||
      g.values[other].dtype != DType::kFloat32) {
    return false;
  }
  const bool input = std::find(g.inputs.begin(), g.inputs.end(), other) != g.inputs.end();
  if (!input) {
    int producer = -1;
    for (int i = 0; i < ci && producer < 0; ++i) {
      const auto& outs = g.nodes[i].outputs;
      if (std::find(outs.begin(), outs.end(), other) != outs.end()) producer = i;
    }
    if (producer < 0) return false;
  }
  conv.inputs.resize(std::max<size_t>(conv.inputs.size(), 3), -1);
  conv.inputs.push_back(other);
  conv.post_ops.push_back(
      {.kind = PostOp::kSum, .summand = static_cast<int>(conv.inputs.size()) - 1});
  conv.outputs[0] = next.outputs[0];
  kill(next);
  return true;
}

void drop_killed(Graph& g) {
  std::erase_if(g.nodes, [](const Node& n) { return n.op.empty(); });
}

}  // namespace

void fuse(Graph& g) {
  bypass_identities(g);
  using Rule = bool (*)(Graph&, const Uses&, int);
  for (Rule rule : {fold_pad, fold_gated, fold_batch_norm, fold_post_op}) {
    for (bool changed = true; changed;) {
      changed = false;
      const Uses u = uses_of(g);
      for (size_t i = 0; i < g.nodes.size() && !changed; ++i) {
        if (!g.nodes[i].op.empty()) changed = rule(g, u, static_cast<int>(i));
      }
      drop_killed(g);
    }
    prune(g);  // a rewrite can leave a node unread (the Sigmoid of a Swish)
  }
}

void prune(Graph& g) {
  std::vector<bool> needed(g.values.size(), false);
  for (int id : g.outputs) needed[id] = true;
  std::vector<bool> keep(g.nodes.size(), false);
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const Node& n = g.nodes[i];
    bool used = false, computed = false;
    for (int id : n.outputs) {
      used = used || needed[id];
      computed = computed || !g.values[id].constant;
    }
    if (!used || !computed) continue;
    keep[i] = true;
    for (int id : n.inputs) {
      if (id >= 0) needed[id] = true;
    }
  }
  size_t k = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!keep[i]) continue;
    if (k != i) g.nodes[k] = std::move(g.nodes[i]);
    ++k;
  }
  g.nodes.resize(k);
}

Status prepare(Graph& g, const std::map<std::string, Shape>& input_shapes) {
  if (Status s = infer_shapes(g, input_shapes); !s.ok()) return s;
  fuse(g);
  prune(g);
  return {};
}

}  // namespace iris::runtime
