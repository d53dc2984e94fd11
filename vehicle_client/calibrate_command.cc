// fleet-vehicle calibrate [--threads N] [--no-optimize] [--json]: what this device is and how
// fast LibTorch runs here, as the v1::Capability the vehicle would publish (vehicle_id empty).
#include <cstdio>
#include <iostream>

#include "shared/messages/json.h"
#include "shared/runtime/device_info.h"
#include "vehicle_client/commands.h"

namespace fleetml::vehicle {
namespace {

void print_table(const v1::Capability& cap) {
  const v1::Device& d = cap.device();
  const v1::Calibration& c = cap.calibration();
  std::printf("device\n");
  std::printf("  cpu            %s (%s)\n", d.cpu_model().c_str(), d.arch().c_str());
  std::printf("  cores          %u at %.2f GHz\n", d.cores(), d.clock_ghz());
  std::printf("  ram            %.1f GB\n", d.ram_gb());
  for (const v1::Gpu& g : d.gpus()) {
    std::printf("  gpu            %s (%.1f GB, %u cores, %.3f GHz)\n", g.name().c_str(),
                g.memory_gb(), g.cores(), g.clock_ghz());
  }
  std::printf("  os             %s\n", d.os().c_str());
  std::printf("  runtime        %s, %u thread(s), %s\n", d.runtime().c_str(), d.threads(),
              d.optimized() ? "optimized" : "not optimized");
  std::printf("calibration (%.1f s)\n", c.duration_s());
  std::printf("  gemm           %8.2f GFLOPS\n", c.gemm_gflops());
  std::printf("  conv 3x3       %8.2f GFLOPS\n", c.conv_gflops());
  std::printf("  conv 1x1       %8.2f GFLOPS\n", c.pointwise_conv_gflops());
  std::printf("  depthwise 3x3  %8.2f GFLOPS\n", c.depthwise_conv_gflops());
  std::printf("  linear         %8.2f GFLOPS\n", c.linear_gflops());
  std::printf("  linear 128 MiB %8.2f GFLOPS\n", c.linear_stream_gflops());
  std::printf("  memory         %8.2f GB/s\n", c.memory_bandwidth_gbps());
  std::printf("  op overhead    %8.2f us\n", c.op_overhead_us());
  std::printf("  max pool 3x3   %8.2f G window elements/s\n", c.pool_gops());
  std::printf("  conv call      %8.2f us\n", c.conv_call_us());
}

int run_calibrate(const cli::Args& args) {
  const runtime::RuntimeConfig config = runtime_config(args);
  v1::Capability cap;
  v1::Device& device = *cap.mutable_device();
  device = runtime::detect_device();
  device.set_runtime(runtime::runtime_name());
  device.set_threads(static_cast<std::uint32_t>(config.threads));
  device.set_optimized(config.optimized);
  std::fprintf(stderr, "calibrate: running LibTorch micro-benchmarks (%d thread(s), %s)...\n",
               config.threads, config.optimized ? "optimized" : "not optimized");
  *cap.mutable_calibration() = runtime::calibrate(config);
  cap.set_sent_unix_ms(cap.calibration().measured_unix_ms());
  if (args.flag("json")) {
    std::cout << messages::to_json(cap, /*pretty=*/true) << "\n";
  } else {
    print_table(cap);
  }
  return 0;
}

[[maybe_unused]] const bool kRegistered = register_command(
    {"calibrate", "measure this device (LibTorch micro-benchmarks) and print its capability",
     [](cli::Parser& p) {
       declare_runtime_options(p);
       p.flag("json", "print the v1::Capability in protobuf's JSON mapping");
     },
     run_calibrate});

}  // namespace
}  // namespace fleetml::vehicle
