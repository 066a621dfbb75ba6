// The `events:` section of a pipeline config: the durable event log and the remote sinks that
// deliver every stream's events (docs/events.md, Delivery). Same diagnostics as the rest of the
// config (config.h); each sink type's own options are checked by the sink itself.
#pragma once

#include <optional>

#include "events/delivery.h"
#include "pipeline/yaml_reader.h"

namespace iris::pipeline {

// The spec, or nullopt after reporting every problem.
std::optional<events::DeliverySpec> read_events(Diagnostics& diag, const Item& item);

}  // namespace iris::pipeline
