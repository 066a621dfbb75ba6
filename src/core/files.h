// Durable file writes: what the event log, the server's state and `iris quantize` need so that a
// crash leaves a file whole, old or new.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace iris {

// Makes created, renamed and deleted entries of `dir` durable.
Status sync_dir(const std::string& dir);

// Replaces the file at `path` with `text` through a synced temporary file renamed over it, so a
// crash leaves the old file or the new one, whole, never a torn one. Errors give the step and
// the system's reason; the caller names what the file is for.
Status replace_file(const std::string& path, std::string_view text);

}  // namespace iris
