// fleet-vehicle run --id VID --trust DIR --data-dir DIR [--app SPEC]... [--config FILE]
// [--profile FILE.json] [--keep-versions N] [--speed X --time-origin-ms T] [broker options]:
// the vehicle agent
// (vehicle_client/agent/agent.h) until SIGTERM or SIGINT.
#include <chrono>
#include <csignal>
#include <optional>

#include "shared/common/log.h"
#include "shared/common/scheduler.h"
#include "shared/crypto/key_dir.h"
#include "shared/delivery/download.h"
#include "shared/transport/broker_options.h"
#include "vehicle_client/agent/agent.h"
#include "vehicle_client/commands.h"
#include "vehicle_client/device_platform.h"

namespace fleetml::vehicle {
namespace {

AgentConfig agent_config(const cli::Args& args) {
  AgentConfig config;
  config.vehicle_id = args.str("id");
  config.data_dir = args.str("data-dir");
  try {
    if (auto file = args.maybe("config")) load_config_file(*file, config);
    for (const std::string& spec : args.list("app")) {
      config.applications.push_back(parse_app_spec(spec));
    }
    if (auto network = args.maybe("network")) config.network_type = *network;
  } catch (const cli::UsageError&) {
    throw;
  } catch (const Error& e) {
    throw cli::UsageError(e.what());
  }
  const std::int64_t keep = args.integer("keep-versions");
  const std::int64_t window = args.integer("window");
  if (keep < 1 || keep > 100) throw cli::UsageError("--keep-versions: expected 1 to 100");
  if (window < 1 || window > delivery::kMaxWindowBlocks) {
    throw cli::UsageError("--window: expected 1 to " + std::to_string(delivery::kMaxWindowBlocks));
  }
  config.keep_versions = static_cast<std::size_t>(keep);
  config.download.window_blocks = static_cast<std::uint32_t>(window);
  try {
    check_config(config);
  } catch (const Error& e) {
    throw cli::UsageError(e.what());
  }
  return config;
}

int run_agent(const cli::Args& args) {
  // Block the stop signals before any thread starts (Paho's, the scheduler's), so they all
  // inherit the mask and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  AgentConfig config = agent_config(args);
  const std::string client_id = "vehicle-" + config.vehicle_id;
  transport::ClientOptions mqtt = transport::client_options(args, client_id);
  const messages::Topics topics = transport::topics(args);
  crypto::TrustedKeys keys = crypto::load_trusted_keys(args.str("trust"));
  std::optional<std::filesystem::path> profile;
  if (auto p = args.maybe("profile")) profile = *p;
  DevicePlatform platform(runtime_config(args), profile);

  // Simulated time (a vehicle beside fleet-sim and a fleet-coordinator with --speed): the
  // agent's stamps, expiries and timers follow the shared simulated clock.
  const auto clock = cli::clock_from_args(args);
  Scheduler scheduler(*clock);
  Agent agent(std::move(config), platform, std::move(keys), std::move(mqtt), topics, scheduler);
  agent.start();
  scheduler.start();
  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("vehicle", "stopping", {{"signal", sig}});
  scheduler.stop();
  agent.stop();
  return 0;
}

[[maybe_unused]] const bool kRegistered = register_command(
    {"run", "run the vehicle agent: report, receive, verify, install and measure models",
     [](cli::Parser& p) {
       p.required("id", "VID", "vehicle id, [A-Za-z0-9_-]{1,64}")
           .required("trust", "DIR", "directory with the pinned release.pub and coordinator.pub")
           .required("data-dir", "DIR", "model store, partial downloads and vehicle state")
           .repeated("app", "SPEC",
                     "application ID:DEADLINE_MS:RATE_HZ:BATCH[:MIN_ACCURACY"
                     "[:DOWNLOAD_BUDGET_S[:TASK[:INPUT_SHAPE]]]]")
           .option("config", "FILE",
                   "JSON config: applications, network_type, "
                   "nominal_downlink_kbps")
           .option("profile", "FILE.json",
                   "device profile standing in for hardware not present (simulation/profiles)")
           .option("network", "TYPE", "primary network reported in the capability, e.g. 4G")
           .option("keep-versions", "N", "inactive installed model versions kept", "2")
           .option("window", "W", "fetch requests (blocks) in flight per download",
                   std::to_string(delivery::DownloadOptions{}.window_blocks));
       cli::add_time_options(p);
       declare_runtime_options(p);
       transport::add_broker_options(p);
     },
     run_agent});

}  // namespace
}  // namespace fleetml::vehicle
