// fleet-sim run: a simulated fleet against a real broker and coordinator, and its report.

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>
#include <stdlib.h>
#include <unistd.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/delivery/download.h"
#include "shared/transport/broker_options.h"
#include "simulation/commands.h"
#include "simulation/fleet/fleet.h"
#include "simulation/fleet/fleet_report.h"
#include "simulation/report/zoo.h"
#include "vehicle_client/agent/agent_config.h"

namespace fleetml::sim {
namespace {

namespace fs = std::filesystem;

// One camera-like application: 200 ms at 5 Hz separates the profiles (most models fit a PC,
// few fit a Raspberry Pi 4).
constexpr const char* kDefaultApp = "front-camera:200:5:1";

// The agents' state lives in memory (/dev/shm) when the machine has it: each vehicle writes
// and fsyncs its seq reservation, assignment, manifest and model store, and on a disk that
// was what one scheduler thread for a thousand vehicles spent its time on (creating inodes,
// fsync; measured with perf, docs/simulation.md). A simulated vehicle needs no durability
// beyond the run.
fs::path make_temp_dir() {
  std::error_code ec;
  const fs::path base = fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                            ? fs::path("/dev/shm")
                            : fs::temp_directory_path();
  std::string pattern = (base / "fleet-sim-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw Error("cannot create a temporary directory");
  return pattern;
}

FleetOptions fleet_options(const cli::Args& args) {
  FleetOptions o;
  o.vehicles = static_cast<std::size_t>(args.num_in("vehicles", 1, 100000));
  o.speed = args.num_in("speed", 1e-3, 1e4);
  o.duration_s = args.num_in("duration", 1, 1e7);
  const std::int64_t seed = args.integer("seed");
  if (seed < 0) throw cli::UsageError("--seed must be >= 0");
  o.seed = static_cast<std::uint64_t>(seed);
  o.time_origin_ms = args.has("time-origin-ms")
                         ? args.integer("time-origin-ms")
                         : std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  o.until_settled = args.flag("until-settled");
  o.trust_dir = args.str("trust");
  o.window_blocks =
      static_cast<std::uint32_t>(args.num_in("window", 1, delivery::kMaxWindowBlocks));
  o.ramp_s = args.num_in("ramp", 0, 1e7);
  if (o.ramp_s >= o.duration_s) throw cli::UsageError("--ramp must be shorter than --duration");
  try {
    o.mix = parse_mix(args.str("mix"));
    for (const std::string& spec : args.list("app")) {
      o.applications.push_back(vehicle::parse_app_spec(spec));
    }
  } catch (const cli::UsageError&) {
    throw;
  } catch (const Error& e) {
    throw cli::UsageError(e.what());
  }
  if (o.applications.empty()) o.applications.push_back(vehicle::parse_app_spec(kDefaultApp));
  o.mqtt = transport::client_options(args, "fleet-sim");
  o.topics = transport::topics(args);
  return o;
}

int run(const cli::Args& args) {
  FleetOptions options = fleet_options(args);
  const fs::path report_dir = args.str("report");
  fs::create_directories(report_dir);
  // Agent state (vehicle.json, state.json, seqs) is tiny but per vehicle; a fresh directory
  // per run, removed afterwards, since a run is a fresh fleet.
  const fs::path data_dir = make_temp_dir();
  options.data_dir = data_dir;
  std::cout << "time origin: " << options.time_origin_ms
            << " ms (start fleet-coordinator with --speed " << options.speed << " --time-origin-ms "
            << options.time_origin_ms << ")" << std::endl;

  std::map<std::string, SimulatedDevice> devices;
  for (DeviceProfile& p : load_device_profiles(args.str("profiles"))) {
    std::string name = p.name;
    devices.emplace(std::move(name), SimulatedDevice(std::move(p)));
  }
  for (const MixEntry& e : options.mix) {
    if (!devices.contains(e.profile)) {
      throw cli::UsageError("--mix: no profile '" + e.profile + "' in " + args.str("profiles"));
    }
  }
  ModelStructures models;
  const fs::path zoo = args.has("zoo") ? fs::path(args.str("zoo")) : default_zoo_dir();
  for (model::ModelProfile& m : load_zoo_profiles(zoo)) {
    std::string name = m.name;
    models.emplace(std::move(name), std::move(m));
  }

  FleetResult result;
  try {
    result = run_fleet(options, devices, load_scenarios(args.str("traces")), models);
  } catch (...) {
    fs::remove_all(data_dir);
    throw;
  }
  fs::remove_all(data_dir);

  const std::vector<AppVerdict> verdicts = judge(result, options.applications, devices, models);
  file::write_atomic(report_dir / "report.json", report_json(result, verdicts).dump(2) + "\n");
  const std::string table = summary_table(verdicts);
  file::write_atomic(report_dir / "summary.txt", table);
  std::cout << table;
  for (const fs::path& image : write_plots(verdicts, report_dir)) {
    std::cout << "plot: " << image.string() << "\n";
  }
  std::cout << "report: " << (report_dir / "report.json").string() << " (simulated "
            << result.simulated_s << " s in " << result.real_s << " s real, "
            << (result.settled ? "every vehicle settled" : "not every vehicle settled")
            << ", peak RSS " << result.peak_rss_mb << " MB, start " << result.start_real_s
            << " s real with scheduler lag max " << result.start_lag.max_ms
            << " ms, publish queue wait mean " << result.publish_queue.wait_mean_ms << " max "
            << result.publish_queue.wait_max_ms << " ms real)\n"
            << describe(keep_up(result, verdicts)) << "\n";
  return 0;
}

const CommandRegistration registration({
    "run",
    "run N simulated vehicles against a real broker and coordinator; write a report",
    [](cli::Parser& p) {
      p.required("trust", "DIR", "pinned release.pub and coordinator.pub for every vehicle")
          .required("report", "DIR", "where report.json, summary.txt and plots go")
          .option("vehicles", "N", "number of simulated vehicles", "20")
          .option("mix", "P:W,...", "device profiles and their weights",
                  "rpi4:40,rpi5:30,jetson-nano-cpu:20,pc-i9:10")
          .option("traces", "DIR", "trace folder with one sub-folder per scenario", "data/traces")
          .option("profiles", "DIR", "device profiles", "simulation/profiles")
          .option("zoo", "DIR", "zoo dir with <id>.profile.json (default $FLEETML_ZOO_DIR)")
          .repeated("app", "SPEC",
                    "application of every vehicle, ID:DEADLINE_MS:RATE_HZ:BATCH[:MIN_ACCURACY"
                    "[:DOWNLOAD_BUDGET_S[:TASK[:INPUT_SHAPE]]]] (default " +
                        std::string(kDefaultApp) + ")")
          .option("speed", "X", "simulated time runs X times faster than real time", "1")
          .option("duration", "S", "simulated seconds to run", "600")
          .option("time-origin-ms", "T",
                  "Unix ms where simulated and real time coincide (as fleet-coordinator's); "
                  "default now, printed")
          .option("seed", "K", "seed of profiles' scenarios, trace offsets and jitter", "1")
          .option("window", "W", "fetch requests (blocks) in flight per download", "4")
          .option("ramp", "S",
                  "vehicles power on at seeded uniform times over the first S simulated "
                  "seconds (0: all at once)",
                  "0")
          .flag("until-settled",
                "stop early once every vehicle is installed, failed or explicitly infeasible");
      transport::add_broker_options(p);
    },
    run,
});

}  // namespace
}  // namespace fleetml::sim
