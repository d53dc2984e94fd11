#pragma once

#include <vector>

#include "shared/common/cli.h"
#include "shared/runtime/runtime.h"

namespace fleetml::vehicle {

// Each fleet-vehicle command lives in its own *_command.cc and registers itself while the
// program starts, so adding a command is one file plus its line in CMakeLists.txt:
//   [[maybe_unused]] const bool kRegistered = register_command({"run", ...});
bool register_command(cli::Command command);
// Every registered command, sorted by name.
std::vector<cli::Command> registered_commands();

// --threads N and --no-optimize, shared by every command that runs models.
void declare_runtime_options(cli::Parser& parser);
// The RuntimeConfig those options select; throws cli::UsageError for threads < 1.
runtime::RuntimeConfig runtime_config(const cli::Args& args);

}  // namespace fleetml::vehicle
