#pragma once

#include <vector>

#include "shared/common/cli.h"

namespace fleetml::sim {

// fleet-sim's commands register themselves: each lives in its own *_command.cc, compiled into
// the fleet-sim executable, holding
//
//   const CommandRegistration registration({"name", "summary", declare, run});
//
// so adding a command is that file plus its line in simulation/CMakeLists.txt.
class CommandRegistration {
 public:
  explicit CommandRegistration(cli::Command command);
};

// Every registered command, sorted by name.
std::vector<cli::Command> registered_commands();

}  // namespace fleetml::sim
