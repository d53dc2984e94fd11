#include "simulation/commands.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "simulation/report/zoo.h"

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

int print_result(const cli::Args& args, const nlohmann::json& json, const std::string& text) {
  if (args.flag("json")) {
    std::printf("%s\n", json.dump(2).c_str());
  } else {
    std::printf("%s", text.c_str());
  }
  return 0;
}

void add_zoo_profiles_option(cli::Parser& parser) {
  parser.option("models", "DIR",
                "directory of <id>.profile.json characterizations (default: $FLEETML_ZOO_DIR or "
                "~/.cache/fleetml/zoo)");
}

std::vector<model::ModelProfile> zoo_profiles(const cli::Args& args) {
  return require_zoo_profiles(args.has("models") ? args.str("models") : "");
}

}  // namespace fleetml::sim
