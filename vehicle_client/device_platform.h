#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "shared/runtime/runtime.h"
#include "vehicle_client/agent/platform.h"

namespace fleetml::vehicle {

// The Platform of `fleet-vehicle run`: this machine, running models with LibTorch in
// `config`.
//   describe_device  runtime::detect_device plus the runtime mode
//   calibrate        runtime::calibrate (LibTorch micro-benchmarks, seconds)
//   smoke_test       `fleet-vehicle smoke` in a child process (this executable,
//                    /proc/self/exe), so a model that crashes or aborts LibTorch cannot take
//                    the agent down; killed after `smoke_timeout`
//   benchmark        runtime::benchmark at the application's batch (energy where exposed)
//   open_sink        a FileSink (resumable across restarts)
//
// With a device profile (simulation/profiles/*.json, `--profile`) it stands in for hardware
// that is not present: the device, its calibration and every measurement come from the
// profile's nominal specs and truth model (as a simulated vehicle would report them), while
// downloads, verification, install and the smoke test stay real.
class DevicePlatform final : public Platform {
 public:
  // Throws fleetml::Error when `profile_path` is given and cannot be loaded.
  DevicePlatform(runtime::RuntimeConfig config,
                 std::optional<std::filesystem::path> profile_path = std::nullopt);
  ~DevicePlatform() override;

  v1::Device describe_device() override;
  v1::Calibration calibrate() override;
  delivery::SmokeResult smoke_test(const std::filesystem::path& model_file,
                                   const v1::ManifestBody& manifest) override;
  v1::Measurement benchmark(const std::filesystem::path& model_file,
                            const v1::ManifestBody& manifest, const v1::Application& app) override;
  std::unique_ptr<ArtifactSink> open_sink(const std::filesystem::path& dir) override;

 private:
  struct Profile;
  runtime::RuntimeConfig config_;
  std::unique_ptr<Profile> profile_;
};

}  // namespace fleetml::vehicle
