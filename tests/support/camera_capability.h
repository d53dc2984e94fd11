#pragma once

#include <cstdint>
#include <string>

#include "schemas/fleet.pb.h"
#include "simulation/device/simulated_device.h"
#include "simulation/rng.h"

namespace fleetml::test {

// The camera application the coordinator tests and benchmarks plan for: "cam" classifies
// 1x3x224x224 images at batch 1.
struct CameraApp {
  double deadline_ms = 100;
  double rate_hz = 5;
  double download_budget_s = 600;
};

// What `fleet-vehicle --profile` reports for `device` as `vehicle`: the profile's specs and
// link, a calibration drawn with `rng` (the device model's measurement noise) and `app`.
v1::Capability camera_capability(const sim::SimulatedDevice& device, sim::Rng& rng,
                                 const std::string& vehicle, std::uint64_t seq,
                                 const CameraApp& app = {});

}  // namespace fleetml::test
