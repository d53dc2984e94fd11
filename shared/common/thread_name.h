#pragma once

#include <string_view>

namespace fleetml {

// Names the calling thread as `top -H`, `perf` and /proc/<pid>/task/<tid>/comm show it, so an
// operator (or a benchmark) can tell the coordinator's ingest thread from its planning thread.
// Linux keeps 15 characters; longer names are truncated.
void name_current_thread(std::string_view name);

}  // namespace fleetml
