#include "vehicle_client/commands.h"

#include <algorithm>

namespace fleetml::vehicle {
namespace {

std::vector<cli::Command>& registry() {
  static std::vector<cli::Command> commands;
  return commands;
}

}  // namespace

bool register_command(cli::Command command) {
  registry().push_back(std::move(command));
  return true;
}

std::vector<cli::Command> registered_commands() {
  std::vector<cli::Command> commands = registry();
  std::sort(commands.begin(), commands.end(),
            [](const cli::Command& a, const cli::Command& b) { return a.name < b.name; });
  return commands;
}

void declare_runtime_options(cli::Parser& parser) {
  parser.option("threads", "N", "intra-op threads (part of the device configuration)", "1")
      .flag("no-optimize", "plain torch::jit::load execution instead of frozen + optimized");
}

runtime::RuntimeConfig runtime_config(const cli::Args& args) {
  const std::int64_t threads = args.integer("threads");
  if (threads < 1 || threads > 1024) {
    throw cli::UsageError("--threads: expected 1 to 1024, got " + std::to_string(threads));
  }
  return {static_cast<int>(threads), !args.flag("no-optimize")};
}

}  // namespace fleetml::vehicle
