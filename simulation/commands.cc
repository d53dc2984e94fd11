#include "simulation/commands.h"

#include <algorithm>

namespace fleetml::sim {
namespace {

// A function-local static, so registrations from other translation units' static
// initializers never see it unconstructed.
std::vector<cli::Command>& registry() {
  static std::vector<cli::Command> commands;
  return commands;
}

}  // namespace

CommandRegistration::CommandRegistration(cli::Command command) {
  registry().push_back(std::move(command));
}

std::vector<cli::Command> registered_commands() {
  std::vector<cli::Command> commands = registry();
  std::sort(commands.begin(), commands.end(),
            [](const cli::Command& a, const cli::Command& b) { return a.name < b.name; });
  return commands;
}

}  // namespace fleetml::sim
