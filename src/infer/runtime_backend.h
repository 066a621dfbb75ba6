// How `backend: iris` picks the precision a model file runs in; shared by the backend
// (runtime_backend.cc) and `iris profile`, which compiles on the runtime directly, so that both
// read a calibrated file the same way and refuse the same things with the same words.
#pragma once

#include <string>

#include "core/status.h"
#include "runtime/graph.h"
#include "runtime/model.h"

namespace iris::infer {

// Sets options->precision from `precision` ("fp32", "bf16", "int8"; "": the file's own, that is
// its calibration's precision when `g` carries one (quantize.h), else fp32), and when that is the
// calibration's precision, options->ranges, fp32_nodes and equalize from it. Errors name the model
// (`path`) and the fix: an unknown precision, malformed calibration metadata, and int8 asked of a
// file not calibrated for it.
Status choose_precision(const std::string& path, const runtime::Graph& g,
                        const std::string& precision, runtime::Options* options);

}  // namespace iris::infer
