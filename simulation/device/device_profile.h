#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "schemas/fleet.pb.h"

namespace fleetml::sim {

// Efficiency (share of peak_gflops actually reached on a large, well-shaped layer) of each
// compute-bound operator kind, for one runtime mode.
struct OpEfficiency {
  double conv = 0;            // dense k x k convolution, k > 1
  double pointwise_conv = 0;  // dense 1 x 1 convolution
  double grouped_conv = 0;    // 1 < groups < in_channels
  double depthwise_conv = 0;  // groups == in_channels
  double linear = 0;          // fully connected
  double matmul = 0;          // matmul/bmm without weights (and the calibration GEMM)
};

// How one runtime mode (plain torch::jit::load, or frozen + optimize_for_inference) runs.
struct ModeTruth {
  OpEfficiency efficiency;
  double op_overhead_us = 0;     // dispatch cost of every operator call
  double call_overhead_ms = 0;   // fixed cost of every forward() call (amortized over a batch)
  bool fold_batch_norm = false;  // a batch_norm right after a conv costs nothing
  bool fuse_activation = false;  // an activation right after a conv (or folded BN) costs nothing
};

// The simulator's hidden "truth" of a device: how fast each operator really runs there.
// Never sent to the coordinator; it only produces what a real device would measure
// (simulation/profiles/README.md explains every number).
struct TruthModel {
  double peak_gflops = 0;  // theoretical float32 peak of the compute unit models run on
  ModeTruth plain;
  ModeTruth optimized;
  // Efficiency falls for thin layers: x K/(K + reduction_half) with K the reduction depth
  // (in_channels/groups x kh x kw, or in_features), x N/(N + channel_half) with N the output
  // channels, x P/(P + parallel_half) with P the output elements of the whole batch.
  double reduction_half = 0;
  double channel_half = 0;
  double parallel_half = 0;
  // Memory: the part of a layer's working set (one sample's activations + weights) that fits
  // in cache streams at cache_gbps, the rest at dram_gbps; compute efficiency also drops by up
  // to cache_penalty as the working set outgrows the cache.
  double cache_mb = 0;
  double cache_gbps = 0;
  double dram_gbps = 0;
  double cache_penalty = 0;
  // A layer takes (compute^p + memory^p)^(1/p) + overhead: p -> infinity is a roofline max,
  // p = 1 no overlap at all.
  double overlap_exponent = 0;
  // Measurements scatter as exp(sigma x N(0,1)) around the model's time.
  double jitter_sigma = 0;
  // Memory footprint: runtime_mb + weights x weight_copies + activation_live_factor x the
  // largest layer's activations x batch. Past usable_memory_mb every call slows down by
  // 1 + thrash_factor x (footprint / usable - 1) (swapping, allocator thrash).
  double runtime_mb = 0;
  double weight_copies = 0;
  double activation_live_factor = 0;
  double usable_memory_mb = 0;
  double thrash_factor = 0;
};

// One simulated device type (simulation/profiles/<name>.json).
struct DeviceProfile {
  std::string name;                  // e.g. "rpi4"
  std::string description;           // one line
  v1::Device device;                 // nominal specs as the vehicle reports them (DIGA Table 1)
  std::string network_type;          // primary network, e.g. "4G"
  double nominal_downlink_kbps = 0;  // Link.nominal_downlink_kbps the vehicle reports
  TruthModel truth;
};

// Parses a profile document; `source` names it in errors. Every truth key is required and
// checked for range. Throws fleetml::Error "<source>: <reason>".
DeviceProfile parse_device_profile(std::string_view json, const std::string& source);
DeviceProfile load_device_profile(const std::filesystem::path& path);
// Every *.json of `dir` (README.md and other files are ignored), sorted by name. Throws
// fleetml::Error when there is none or one is malformed.
std::vector<DeviceProfile> load_device_profiles(const std::filesystem::path& dir);

}  // namespace fleetml::sim
