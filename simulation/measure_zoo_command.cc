// fleet-sim measure-zoo: the measurement set (shared/estimation/samples.h) a device profile's
// truth model produces, one CSV per profile, so that `fleetctl eval-estimators` scores the
// estimators on simulated devices the way scripts/measure-zoo.sh lets it score them on this
// machine (docs/estimation.md, "On the simulated profiles").

#include <algorithm>
#include <fstream>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/estimation/samples.h"
#include "shared/estimation/stats.h"
#include "simulation/commands.h"
#include "simulation/device/device_profile.h"
#include "simulation/device/simulated_device.h"
#include "simulation/report/zoo.h"

namespace fleetml::sim {
namespace {

namespace fs = std::filesystem;

std::vector<int> parse_batches(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    int b = 0;
    try {
      b = std::stoi(item);
    } catch (const std::exception&) {
      throw cli::UsageError("--batches: expected comma-separated integers, got " + text);
    }
    if (b < 1 || b > 4096) throw cli::UsageError("--batches: each must be in [1, 4096]");
    out.push_back(b);
  }
  if (out.empty()) throw cli::UsageError("--batches: none given");
  return out;
}

// One benchmark as `fleet-vehicle benchmark` reports it: `repeats` calls of the truth with its
// jitter, after the device calibrated itself in the same mode.
estimation::Sample benchmark(const SimulatedDevice& device, const v1::Calibration& calibration,
                             const model::ModelProfile& model, int batch, int repeats, Rng& rng) {
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) ms.push_back(device.latency_ms(model, batch, rng));
  estimation::Sample s;
  s.model_id = model.name;
  s.input_shape = model.input_shape;
  *s.capability.mutable_device() = device.device();
  *s.capability.mutable_calibration() = calibration;
  s.batch = batch;
  s.p50_ms = estimation::quantile(ms, 0.5);
  s.p95_ms = estimation::quantile(ms, 0.95);
  s.mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  s.min_ms = *std::min_element(ms.begin(), ms.end());
  s.peak_rss_mb = device.peak_memory_mb(model, batch);
  s.repeats = repeats;
  s.source = calibration.source();
  return s;
}

int run(const cli::Args& args) {
  const std::vector<int> batches = parse_batches(args.str("batches"));
  const std::int64_t repeats = args.integer("repeats");
  if (repeats < 1 || repeats > 100000) throw cli::UsageError("--repeats must be in [1, 100000]");
  const std::vector<model::ModelProfile> models = zoo_profiles(args);
  const fs::path out_dir = args.str("out");
  fs::create_directories(out_dir);
  Rng rng(static_cast<std::uint64_t>(args.integer("seed")));

  nlohmann::json written = nlohmann::json::array();
  std::string text;
  for (const DeviceProfile& profile : load_device_profiles(args.str("profiles"))) {
    std::vector<estimation::Sample> samples;
    for (const bool optimized : {true, false}) {
      const SimulatedDevice device(profile, optimized);
      const v1::Calibration calibration = device.calibration(rng);
      for (const model::ModelProfile& m : models) {
        for (int batch : batches) {
          samples.push_back(
              benchmark(device, calibration, m, batch, static_cast<int>(repeats), rng));
        }
      }
    }
    std::ostringstream csv;
    estimation::write_measurements_csv(csv, samples);
    const fs::path path = out_dir / (profile.name + ".csv");
    file::write_atomic(path, csv.str());
    written.push_back(
        {{"profile", profile.name}, {"path", path.string()}, {"rows", samples.size()}});
    text += path.string() + ": " + std::to_string(samples.size()) + " rows\n";
  }
  return print_result(args, {{"files", written}}, text);
}

const CommandRegistration registration({
    "measure-zoo",
    "write the measurement set (CSV) each device profile's truth model produces for the zoo",
    [](cli::Parser& p) {
      add_zoo_profiles_option(p);
      p.option("profiles", "DIR", "device profiles", "simulation/profiles")
          .option("out", "DIR", "where <profile>.csv go", "data/measurements/simulated")
          .option("batches", "LIST", "batch sizes, comma-separated", "1,4")
          .option("repeats", "N", "timed calls per benchmark", "50")
          .option("seed", "N", "random seed (jitter of calibrations and calls)", "1")
          .flag("json", "machine-readable output");
    },
    run,
});

}  // namespace
}  // namespace fleetml::sim
