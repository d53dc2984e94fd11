#include "simulation/device/simulated_device.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/model/test_layers.h"
#include "tests/support/test_env.h"

namespace fleetml::sim {
namespace {

namespace op = model::op;
const std::filesystem::path kProfiles = test::source_dir() / "simulation" / "profiles";

using model::testing::conv;
using model::testing::finish;
using model::testing::linear;
using model::testing::memory;

// A small ResNet-like stack: dense 3x3 convs with BN and ReLU at shrinking resolution.
model::ModelProfile dense_model() {
  std::vector<model::Layer> layers = {conv(3, 64, 7, 112), memory(op::kBatchNorm, 64, 112),
                                      memory(op::kActivation, 64, 112)};
  std::int64_t channels = 64, size = 56;
  for (int stage = 0; stage < 4; ++stage) {
    for (int block = 0; block < 2; ++block) {
      layers.push_back(conv(channels, channels, 3, size));
      layers.push_back(memory(op::kBatchNorm, channels, size));
      layers.push_back(memory(op::kActivation, channels, size));
    }
    layers.push_back(memory(op::kElementwise, channels, size));
    channels *= 2;
    size /= 2;
  }
  layers.push_back(linear(512, 1000));
  return finish("dense", std::move(layers));
}

// A MobileNet-like stack: pointwise expansion, depthwise 3x3, pointwise projection.
model::ModelProfile mobile_model() {
  std::vector<model::Layer> layers = {conv(3, 32, 3, 112)};
  std::int64_t channels = 32, size = 112;
  for (int block = 0; block < 6; ++block) {
    const std::int64_t wide = channels * 6;
    layers.push_back(conv(channels, wide, 1, size));
    layers.push_back(memory(op::kBatchNorm, wide, size));
    layers.push_back(memory(op::kActivation, wide, size));
    layers.push_back(conv(wide, wide, 3, size, wide));
    layers.push_back(memory(op::kBatchNorm, wide, size));
    layers.push_back(memory(op::kActivation, wide, size));
    layers.push_back(conv(wide, channels, 1, size));
    if (block % 2 == 1) size /= 2;
  }
  layers.push_back(linear(channels, 1000));
  return finish("mobile", std::move(layers));
}

SimulatedDevice device(const std::string& name, bool optimized) {
  return SimulatedDevice(load_device_profile(kProfiles / (name + ".json")), optimized);
}

const char* const kNames[] = {"jetson-nano-cpu", "jetson-nano-gpu", "pc-i9", "rpi4", "rpi5"};

TEST(DeviceProfiles, CarryDigaTable1NominalSpecs) {
  const std::vector<DeviceProfile> profiles = load_device_profiles(kProfiles);
  ASSERT_EQ(profiles.size(), 5u);
  for (std::size_t i = 0; i < profiles.size(); ++i) EXPECT_EQ(profiles[i].name, kNames[i]);
  const v1::Device pc = SimulatedDevice(profiles[2]).device();
  EXPECT_EQ(pc.cores(), 20u);
  EXPECT_DOUBLE_EQ(pc.clock_ghz(), 3.7);
  EXPECT_DOUBLE_EQ(pc.ram_gb(), 32);
  EXPECT_DOUBLE_EQ(pc.nominal_gflops(), 1664);
  EXPECT_EQ(pc.profile(), "pc-i9");
  EXPECT_DOUBLE_EQ(profiles[3].device.nominal_gflops(), 4.4);
  EXPECT_DOUBLE_EQ(profiles[3].device.clock_ghz(), 1.8);
  EXPECT_DOUBLE_EQ(profiles[4].device.nominal_gflops(), 10);
  EXPECT_DOUBLE_EQ(profiles[4].device.clock_ghz(), 2.4);
  const v1::Device& jetson = profiles[1].device;
  EXPECT_DOUBLE_EQ(jetson.clock_ghz(), 1.43);
  EXPECT_DOUBLE_EQ(jetson.ram_gb(), 4);
  ASSERT_EQ(jetson.gpus_size(), 1);
  EXPECT_EQ(jetson.gpus(0).cores(), 128u);
  EXPECT_DOUBLE_EQ(jetson.gpus(0).clock_ghz(), 0.921);
  EXPECT_DOUBLE_EQ(jetson.gpus(0).nominal_gflops(), 235.8);
  for (const DeviceProfile& p : profiles) {
    EXPECT_FALSE(p.network_type.empty()) << p.name;
    EXPECT_GT(p.nominal_downlink_kbps, 0) << p.name;
  }
}

TEST(DeviceProfiles, RejectMissingOrOutOfRangeTruth) {
  const std::string good = file::read(kProfiles / "rpi4.json");
  EXPECT_NO_THROW(parse_device_profile(good, "rpi4.json"));
  std::string missing = good;
  missing.replace(missing.find("\"dram_gbps\""), 11, "\"dram_gbpz\"");
  try {
    parse_device_profile(missing, "x.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "x.json: truth.dram_gbps: missing or not a number");
  }
  std::string negative = good;
  negative.replace(negative.find("\"jitter_sigma\": "), 16, "\"jitter_sigma\": -");
  EXPECT_THROW(parse_device_profile(negative, "x.json"), Error);
  EXPECT_THROW(parse_device_profile("[1]", "x.json"), Error);
  EXPECT_THROW(load_device_profiles(kProfiles / "missing"), Error);
}

TEST(SimulatedDevice, MeasurementsScatterAroundTheTruthReproducibly) {
  const SimulatedDevice rpi4 = device("rpi4", true);
  const model::ModelProfile m = dense_model();
  const double truth = rpi4.expected_latency_ms(m, 1);
  Rng a(1), b(1);
  std::vector<double> runs;
  for (int i = 0; i < 2001; ++i) {
    runs.push_back(rpi4.latency_ms(m, 1, a));
    EXPECT_EQ(runs.back(), rpi4.latency_ms(m, 1, b));
  }
  std::nth_element(runs.begin(), runs.begin() + 1000, runs.end());
  EXPECT_NEAR(runs[1000], truth, 0.01 * truth);  // lognormal: the median is the truth
  EXPECT_GT(*std::max_element(runs.begin(), runs.end()), 1.05 * truth);
  EXPECT_THROW(rpi4.expected_latency_ms(m, 0), Error);
}

TEST(SimulatedDevice, OptimizedModeIsFasterAndFoldsBatchNorm) {
  for (const char* name : kNames) {
    for (const model::ModelProfile& m : {dense_model(), mobile_model()}) {
      EXPECT_LT(device(name, true).expected_latency_ms(m, 1),
                device(name, false).expected_latency_ms(m, 1))
          << name << " " << m.name;
    }
  }
  // conv + BN + ReLU costs what the conv alone costs once BN is folded and ReLU fused.
  const model::ModelProfile alone = finish("alone", {conv(64, 64, 3, 56)});
  const model::ModelProfile block = finish(
      "block",
      {conv(64, 64, 3, 56), memory(op::kBatchNorm, 64, 56), memory(op::kActivation, 64, 56)});
  const SimulatedDevice optimized = device("rpi5", true), plain = device("rpi5", false);
  EXPECT_DOUBLE_EQ(optimized.expected_latency_ms(block, 1),
                   optimized.expected_latency_ms(alone, 1));
  EXPECT_GT(plain.expected_latency_ms(block, 1), plain.expected_latency_ms(alone, 1));
}

TEST(SimulatedDevice, PerImageTimeFallsWithBatchUntilMemoryLimitsIt) {
  // UFPel: larger batches lower the time per image, except that the Jetson Nano slows down
  // from batch 16 to 32.
  const SimulatedDevice gpu = device("jetson-nano-gpu", false);
  const model::ModelProfile m = dense_model();
  auto per_image = [&](const SimulatedDevice& d, int b) { return d.expected_latency_ms(m, b) / b; };
  EXPECT_LT(per_image(gpu, 4), per_image(gpu, 1));
  EXPECT_LT(per_image(gpu, 16), per_image(gpu, 8));
  EXPECT_GT(per_image(gpu, 32), per_image(gpu, 16));
  for (const char* name : {"pc-i9", "rpi4", "rpi5", "jetson-nano-cpu"}) {
    const SimulatedDevice cpu = device(name, true);
    EXPECT_LT(per_image(cpu, 8), per_image(cpu, 1)) << name;
    EXPECT_LE(per_image(cpu, 32), per_image(cpu, 16)) << name;
  }
  // Peak memory: runtime + weights + activations growing linearly with the batch.
  const double m1 = gpu.peak_memory_mb(m, 1), m2 = gpu.peak_memory_mb(m, 2);
  EXPECT_GT(m1, 0);
  EXPECT_NEAR(gpu.peak_memory_mb(m, 11) - m1, 10 * (m2 - m1), 1e-6);
}

TEST(SimulatedDevice, CalibrationIsTheTruthOnTheCalibrationKernels) {
  for (const char* name : kNames) {
    const SimulatedDevice d = device(name, true);
    Rng rng(3);
    const v1::Calibration c = d.calibration(rng);
    EXPECT_EQ(c.source(), std::string("simulated:") + name);
    EXPECT_TRUE(c.optimized());
    EXPECT_EQ(c.threads(), d.device().threads());
    EXPECT_EQ(c.measured_unix_ms(), 0);
    EXPECT_GT(c.gemm_gflops(), c.depthwise_conv_gflops()) << name;
    EXPECT_GT(c.conv_gflops(), c.linear_gflops()) << name;  // matrix-vector is bandwidth-bound
    EXPECT_GT(c.memory_bandwidth_gbps(), 0);
    EXPECT_GT(c.op_overhead_us(), 0);
    // A convolution call costs at least its dispatch.
    EXPECT_GT(c.conv_call_us(), c.op_overhead_us()) << name;
    EXPECT_GT(c.linear_stream_gflops(), 0) << name;
    EXPECT_GT(c.duration_s(), 2);
    // No kernel beats the compute unit's peak.
    const double peak = d.profile().truth.peak_gflops;
    for (double g : {c.gemm_gflops(), c.conv_gflops(), c.pointwise_conv_gflops(),
                     c.depthwise_conv_gflops(), c.linear_gflops()}) {
      EXPECT_LT(g, peak) << name;
    }
    // The overhead kernel measures the per-op overhead of this mode, within its jitter.
    EXPECT_NEAR(c.op_overhead_us(), d.profile().truth.optimized.op_overhead_us,
                0.1 * c.op_overhead_us());
  }
}

// A per-layer roofline fed with the calibration (what the coordinator could build) is close
// but not exact: the truth has effects it does not see (thin layers, cache, overlap, call
// overhead).
TEST(SimulatedDevice, CalibrationRooflineIsCloseButNotExact) {
  for (const char* name : kNames) {
    const SimulatedDevice d = device(name, false);
    Rng rng(4);
    const v1::Calibration c = d.calibration(rng);
    for (const model::ModelProfile& m : {dense_model(), mobile_model()}) {
      double estimate_ms = 0;
      for (const model::Layer& l : m.layers) {
        double gflops = c.conv_gflops();
        if (l.op == op::kDepthwiseConv) gflops = c.depthwise_conv_gflops();
        if (l.op == op::kLinear) gflops = c.linear_gflops();
        if (l.kernel_h == 1) gflops = c.pointwise_conv_gflops();
        const double compute_ms = 2.0 * static_cast<double>(l.macs) / (gflops * 1e6);
        const double memory_ms =
            static_cast<double>(l.bytes_moved) / (c.memory_bandwidth_gbps() * 1e6);
        estimate_ms += std::max(compute_ms, memory_ms) + c.op_overhead_us() / 1e3;
      }
      const double truth = d.expected_latency_ms(m, 1);
      EXPECT_GT(std::abs(estimate_ms / truth - 1), 0.02) << name << " " << m.name;
      if (std::string(name) != "jetson-nano-gpu") {  // its per-call cost is invisible here
        EXPECT_LT(estimate_ms / truth, 2.0) << name << " " << m.name;
        EXPECT_GT(estimate_ms / truth, 0.4) << name << " " << m.name;
      }
    }
  }
}

}  // namespace
}  // namespace fleetml::sim
