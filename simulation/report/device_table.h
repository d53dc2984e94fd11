#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "shared/model/model_profile.h"
#include "simulation/device/simulated_device.h"

namespace fleetml::sim {

// The simulator's ground truth beside DIGA's FLOPs proxy, per model and device: what the
// papers' tables compare. Shows the hidden truth, so it is a researcher's tool, never input
// to the coordinator.
struct DeviceTableCell {
  double truth_ms = 0;  // expected (median) latency of one call at the table's batch
  double proxy_ms = 0;  // batch x FLOPs / nominal GFLOPS (the device's, else its first GPU's)
};

struct DeviceTable {
  int batch = 1;
  std::vector<std::string> devices;  // profile names (with " (plain)" when not optimized)
  std::vector<std::string> models;
  std::vector<std::vector<DeviceTableCell>> cells;  // [model][device]
  std::size_t proxy_underestimates = 0;             // cells with proxy_ms < truth_ms
};

// Throws fleetml::Error for batch < 1 or a device without any nominal GFLOPS.
DeviceTable device_table(const std::vector<model::ModelProfile>& models,
                         const std::vector<SimulatedDevice>& devices, int batch);

// DIGA's FLOPs proxy for one call: batch x FLOPs / nominal GFLOPS, milliseconds.
double flops_proxy_ms(const model::ModelProfile& model, const v1::Device& device, int batch);

nlohmann::json to_json(const DeviceTable& table);
std::string format_text(const DeviceTable& table);

}  // namespace fleetml::sim
