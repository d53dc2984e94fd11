// fleetctl keys init DIR: creates the release and coordinator key pairs.

#include <cstdio>

#include <nlohmann/json.hpp>

#include "shared/crypto/key_dir.h"
#include "tools/fleetctl/commands.h"

namespace fleetml::fleetctl {

std::vector<cli::Command> keys_commands() {
  cli::Command init;
  init.name = "keys init";
  init.summary = "create the release and coordinator Ed25519 key pairs in DIR";
  init.declare = [](cli::Parser& p) {
    p.positional("DIR",
                 "directory for release.key/.pub and coordinator.key/.pub (created 0700 if "
                 "missing; existing keys are never overwritten). Copy only the .pub files to "
                 "vehicles (--trust DIR).");
    p.flag("json", "print the key ids as JSON");
  };
  init.run = [](const cli::Args& args) {
    const std::string& dir = args.positionals().at(0);
    const crypto::SigningKeys keys = crypto::init_keys(dir);
    if (args.flag("json")) {
      const nlohmann::json out = {{"dir", dir},
                                  {"release_key_id", keys.release.key_id()},
                                  {"coordinator_key_id", keys.coordinator.key_id()}};
      std::printf("%s\n", out.dump().c_str());
    } else {
      std::printf("release key     %s  (signs manifests)\n", keys.release.key_id().c_str());
      std::printf("coordinator key %s  (signs assignments)\n", keys.coordinator.key_id().c_str());
      std::printf("vehicles pin %s/release.pub and %s/coordinator.pub\n", dir.c_str(), dir.c_str());
    }
    return 0;
  };
  return {init};
}

}  // namespace fleetml::fleetctl
