// fleet-sim device-table: the simulator's hidden truth beside DIGA's FLOPs proxy.

#include <nlohmann/json.hpp>

#include "simulation/commands.h"
#include "simulation/device/device_profile.h"
#include "simulation/report/device_table.h"
#include "simulation/report/zoo.h"

namespace fleetml::sim {
namespace {

int run(const cli::Args& args) {
  const std::int64_t batch = args.integer("batch");
  if (batch < 1 || batch > 4096) throw cli::UsageError("--batch must be in [1, 4096]");
  const std::string& mode = args.str("mode");
  if (mode != "profile" && mode != "plain" && mode != "optimized") {
    throw cli::UsageError("--mode must be profile, plain or optimized");
  }
  const std::vector<model::ModelProfile> models = zoo_profiles(args);
  std::vector<SimulatedDevice> devices;
  for (DeviceProfile& p : load_device_profiles(args.str("profiles"))) {
    if (mode == "profile") {
      devices.emplace_back(std::move(p));
    } else {
      devices.emplace_back(std::move(p), mode == "optimized");
    }
  }
  const DeviceTable table = device_table(models, devices, static_cast<int>(batch));
  return print_result(args, to_json(table), format_text(table));
}

const CommandRegistration registration({
    "device-table",
    "simulated true latency of each zoo model on each device profile beside the FLOPs proxy",
    [](cli::Parser& p) {
      add_zoo_profiles_option(p);
      p.option("profiles", "DIR", "device profiles", "simulation/profiles")
          .option("batch", "B", "samples per call", "1")
          .option("mode", "MODE",
                  "runtime mode: profile (each profile's), plain (as DIGA/UFPel measured) or "
                  "optimized",
                  "profile")
          .flag("json", "machine-readable output");
    },
    run,
});

}  // namespace
}  // namespace fleetml::sim
