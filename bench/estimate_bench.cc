// Cost of one latency estimate, what the coordinator pays for every catalog model at every
// re-plan (shared/estimation/roofline.h).
//
//   build/bin/fleetml_estimate_bench [--benchmark_repetitions=3]
//
// BM_Roofline/<model>: RooflineEstimator::estimate_with (the model priced beforehand, no
// corrections, no basis text, as the coordinator's planner calls it) of one zoo model (the
// exported zoo's characterizations, $FLEETML_ZOO_DIR or ~/.cache/fleetml/zoo) on the four DIGA
// device profiles' capabilities in turn, each with its own calibration drawn from the device
// model, so no instance is repeated back to back. The counter `layers` is the model's operator
// count.
// BM_RooflineUnpriced/<model>: the same with the model priced for the one call, as
// RooflineEstimator::estimate does (fleetctl estimate, evaluation): the baseline in the same
// run.

#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "shared/estimation/roofline.h"
#include "simulation/device/device_profile.h"
#include "simulation/device/simulated_device.h"
#include "simulation/report/zoo.h"
#include "tests/support/camera_capability.h"

namespace fleetml::estimation {
namespace {

std::vector<v1::Capability> device_capabilities() {
  sim::Rng rng(7);
  std::vector<v1::Capability> out;
  for (const char* name : {"rpi4", "rpi5", "jetson-nano-cpu", "pc-i9"}) {
    const sim::SimulatedDevice device(sim::load_device_profile(
        std::string(FLEETML_SOURCE_DIR) + "/simulation/profiles/" + name + ".json"));
    for (int i = 0; i < 8; ++i) out.push_back(test::camera_capability(device, rng, name, 1));
  }
  return out;
}

void BM_Roofline(benchmark::State& state, const model::ModelProfile& model, bool priced_once) {
  static const std::vector<v1::Capability> capabilities = device_capabilities();
  const RooflineEstimator estimator;
  const RooflineModel priced(model);
  std::size_t i = 0;
  for (auto _ : state) {
    const Query query{model, capabilities[i++ % capabilities.size()]};
    if (priced_once) {
      benchmark::DoNotOptimize(estimator.estimate_with(query, priced, nullptr, false));
    } else {
      benchmark::DoNotOptimize(
          estimator.estimate_with(query, RooflineModel(model), nullptr, false));
    }
  }
  state.counters["layers"] = static_cast<double>(model.layers.size());
}

}  // namespace
}  // namespace fleetml::estimation

int main(int argc, char** argv) {
  using namespace fleetml;
  benchmark::Initialize(&argc, argv);
  static const std::vector<model::ModelProfile> zoo = sim::require_zoo_profiles({});
  for (const bool priced_once : {true, false}) {
    for (const model::ModelProfile& model : zoo) {
      const std::string name = (priced_once ? "BM_Roofline/" : "BM_RooflineUnpriced/") + model.name;
      benchmark::RegisterBenchmark(name.c_str(), [&model, priced_once](benchmark::State& s) {
        estimation::BM_Roofline(s, model, priced_once);
      });
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
