#include "tools/fleetctl/commands.h"

int main(int argc, char** argv) {
  using namespace fleetml;
  std::vector<cli::Command> commands;
  for (auto group :
       {fleetctl::characterize_commands, fleetctl::keys_commands, fleetctl::models_commands,
        fleetctl::estimate_commands, fleetctl::watch_commands}) {
    auto more = group();
    commands.insert(commands.end(), more.begin(), more.end());
  }
  return cli::run_program("fleetctl", "operate a fleetml fleet: catalog, keys, estimates, watch",
                          commands, argc, argv);
}
