// Graph passes, run by the compiler in this order on its own copy of the graph:
// 1. infer_shapes: static shapes for every value from the input shapes, folding every node whose
//    inputs are all known (so Shape/Gather/Concat/Reshape chains become constants).
// 2. fuse: Conv+BatchNormalization into the weights, zero Pad into Conv padding, SiLU and
//    HardSwish patterns into one op, activations and residual Adds into Conv post-ops.
// 3. prune: drops folded and unused nodes.
#pragma once

#include <map>
#include <string>

#include "core/status.h"
#include "runtime/graph.h"

namespace iris::runtime {

// `input_shapes` (by input name) replaces the declared shapes; every dimension must end up known.
Status infer_shapes(Graph& g, const std::map<std::string, Shape>& input_shapes);
void fuse(Graph& g);
void prune(Graph& g);
// All three in order: the graph Model::compile lowers, and what calibration inspects.
Status prepare(Graph& g, const std::map<std::string, Shape>& input_shapes);

}  // namespace iris::runtime
