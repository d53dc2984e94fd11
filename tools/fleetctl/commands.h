#pragma once

#include <vector>

#include "shared/common/cli.h"

namespace fleetml::fleetctl {

// Each group of fleetctl commands lives in its own file and contributes its commands here;
// main.cc concatenates them.
std::vector<cli::Command> characterize_commands();
// keys init (keys_command.cc; needs fleetml_crypto).
std::vector<cli::Command> keys_commands();
// models add|list (models_command.cc; talks to the running coordinator).
std::vector<cli::Command> models_commands();
// estimate, eval-estimators (estimate_command.cc; needs fleetml_estimation and its llm plugin).
std::vector<cli::Command> estimate_commands();
// watch, explain VID (watch_command.cc).
std::vector<cli::Command> watch_commands();

}  // namespace fleetml::fleetctl
