#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "shared/common/cli.h"
#include "shared/model/model_profile.h"

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

// Prints a command's result on stdout: `json` (indented) with --json, else `text`. Returns 0.
int print_result(const cli::Args& args, const nlohmann::json& json, const std::string& text);

// --models DIR: the zoo's <id>.profile.json characterizations; zoo_profiles() loads them
// (simulation/report/zoo.h, require_zoo_profiles: $FLEETML_ZOO_DIR or ~/.cache/fleetml/zoo
// when the option is absent).
void add_zoo_profiles_option(cli::Parser& parser);
std::vector<model::ModelProfile> zoo_profiles(const cli::Args& args);

}  // namespace fleetml::sim
