// The DNN parts of a pipeline config: the top-level `models:` section, `type: dnn` detectors and
// a stream's `secondary:` models. Same diagnostics as the rest of the config (config.h).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "detect/detector.h"
#include "infer/model_spec.h"
#include "pipeline/config.h"
#include "pipeline/yaml_reader.h"

namespace iris::pipeline {

using ModelSpecs = std::map<std::string, infer::ModelSpec>;

// The `models:` list, by name. Files must exist; names must be unique.
ModelSpecs read_models(Diagnostics& diag, const Item& item);
// A detector map with `type: dnn`; its model must be in `models` with a detection decoder.
std::optional<detect::DnnSpec> read_dnn_detector(Diagnostics& diag, const MapReader& map,
                                                 const ModelSpecs& models);
// A stream's `secondary:` list; each model must have a classifier or embedding decoder.
std::vector<SecondarySpec> read_secondary(Diagnostics& diag, const Item& item,
                                          const ModelSpecs& models);

}  // namespace iris::pipeline
