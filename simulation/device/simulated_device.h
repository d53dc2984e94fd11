#pragma once

#include "schemas/fleet.pb.h"
#include "shared/model/model_profile.h"
#include "simulation/device/device_profile.h"
#include "simulation/rng.h"

namespace fleetml::sim {

// A device of one profile, as the simulator runs it: it answers with what a real device of
// that type would measure (a latency, a peak memory, a calibration), produced by the
// profile's hidden truth model, and reports only its nominal specs. Immutable; thread-safe
// as long as each thread brings its own Rng.
class SimulatedDevice {
 public:
  // Runs models in the profile's runtime mode (device.optimized).
  explicit SimulatedDevice(DeviceProfile profile);
  // Runs models in the given mode instead: optimized = frozen + optimize_for_inference,
  // otherwise plain torch::jit::load execution (how DIGA and UFPel measured).
  SimulatedDevice(DeviceProfile profile, bool optimized);

  const DeviceProfile& profile() const { return profile_; }
  bool optimized() const { return optimized_; }

  // The nominal specs the vehicle reports (DIGA Table 1), with the profile name and the
  // runtime mode.
  v1::Device device() const;

  // The true time of one forward() call on `batch` samples, milliseconds, without jitter
  // (the median of latency_ms). For the simulator's own reports ("was the deadline truly
  // met"); never sent to the coordinator. In optimized mode on the architecture the model's
  // optimized graph was recorded on (model::has_optimized_graph), that graph's calls; otherwise
  // the layers under the profile's fold_batch_norm / fuse_activation. Throws fleetml::Error
  // for batch < 1.
  double expected_latency_ms(const model::ModelProfile& model, int batch) const;

  // One measured forward() call: expected_latency_ms x exp(jitter_sigma x N(0,1)).
  double latency_ms(const model::ModelProfile& model, int batch, Rng& rng) const;

  // Peak memory of running the model at `batch`, MB (1e6 bytes), as a benchmark would report.
  double peak_memory_mb(const model::ModelProfile& model, int batch) const;

  // What a benchmark of `repeats` forward() calls at `batch` would report (p50/p95/mean of
  // latency_ms draws, peak_memory_mb, the device's threads and runtime mode; no energy).
  // Throws fleetml::Error for batch < 1 or repeats < 1.
  v1::Measurement measure(const model::ModelProfile& model, int batch, int repeats, Rng& rng) const;
  // What `fleet-vehicle calibrate` would measure on this device: the truth applied to the
  // kernels of shared/model/calibration_kernels.h, each the median of repeated runs (jitter
  // reduced accordingly). source = "simulated:<profile>"; measured_unix_ms is left 0 for the
  // caller to stamp with its clock.
  v1::Calibration calibration(Rng& rng) const;

 private:
  const ModeTruth& mode() const;
  // Seconds one layer takes at `batch`, overheads included.
  double layer_seconds(const model::Layer& layer, int batch) const;
  double memory_slowdown(const model::ModelProfile& model, int batch) const;

  DeviceProfile profile_;
  bool optimized_;
};

}  // namespace fleetml::sim
