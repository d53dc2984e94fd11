#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "shared/common/clock.h"
#include "shared/model/model_profile.h"
#include "simulation/device/simulated_device.h"
#include "simulation/rng.h"
#include "simulation/trace/trace_link.h"
#include "vehicle_client/agent/platform.h"

namespace fleetml::sim {

// Structures of the models a simulated device can "run", by catalog id (the zoo's
// characterizations): what the truth model needs to time a model it never loads.
using ModelStructures = std::map<std::string, model::ModelProfile, std::less<>>;

// The Platform of one simulated vehicle (vehicle_client/agent/platform.h): a SimulatedDevice
// stands in for the hardware and a TraceLink for the network.
//
// - device and calibration: the profile's nominal specs and truth-model calibration;
// - smoke test: passes unless the truth says the model does not fit the device's RAM at
//   batch 1 (or its structure is unknown);
// - benchmark: 20 forward() latencies drawn from the truth model, p50/p95;
// - downloads: hashed and dropped (no disk), installs keep metadata only; each is recorded
//   with what the trace link alone would have taken (downloads());
// - pacing: chunks are serialized on the trace link; a chunk handed over by the broker at
//   link time t arrives at finish_time_s(max(t, end of the previous chunk), bytes) (the
//   agent hashes it at once and treats it as arrived then: Platform::chunk_arrival);
// - link samples: the trace's whole seconds, the first call including `history_s` seconds
//   before link time 0 (what a vehicle that was already driving would have measured).
//
// Link time 0 is `link_zero` on the agent's clock. Used on the agent's scheduler thread only.
class SimPlatform final : public vehicle::Platform {
 public:
  SimPlatform(const SimulatedDevice& device, TraceLink link, const ModelStructures& models,
              const Clock& clock, Clock::TimePoint link_zero, std::uint64_t seed,
              double history_s = 60);

  v1::Device describe_device() override;
  v1::Calibration calibrate() override;
  delivery::SmokeResult smoke_test(const std::filesystem::path& model_file,
                                   const v1::ManifestBody& manifest) override;
  v1::Measurement benchmark(const std::filesystem::path& model_file,
                            const v1::ManifestBody& manifest, const v1::Application& app) override;
  std::unique_ptr<vehicle::ArtifactSink> open_sink(const std::filesystem::path& dir) override;
  bool stores_artifacts() const override { return false; }
  Clock::TimePoint chunk_arrival(Clock::TimePoint received, std::size_t bytes) override;
  std::optional<std::vector<v1::LinkSample>> link_samples(Clock::TimePoint from,
                                                          Clock::TimePoint to) override;

  // One download as this vehicle's link saw it, in link seconds: from when the agent opened
  // its sink (the Download's start) to its last verified byte, and the time the trace link
  // alone takes for its bytes from that start (TraceLink::finish_time_s): the download time
  // the simulation would show if the broker, the coordinator and the fetch round trips cost
  // no simulated time.
  struct LinkDownload {
    std::string model_id;
    std::uint64_t version = 0;
    std::uint64_t bytes = 0;
    double start_s = 0;
    double end_s = -1;  // -1 until complete
    double replay_s = 0;
  };
  // Every download opened so far, in order.
  const std::vector<LinkDownload>& downloads() const { return downloads_; }

  const TraceLink& link() const { return link_; }
  double link_time_s(Clock::TimePoint t) const;
  Clock::TimePoint clock_time(double link_s) const;

 private:
  class Sink;

  // Throws fleetml::Error for a model without a known structure.
  const model::ModelProfile& structure(const std::string& model_id) const;

  const SimulatedDevice& device_;
  TraceLink link_;
  const ModelStructures& models_;
  const Clock& clock_;
  Clock::TimePoint link_zero_;
  Rng rng_;
  double busy_until_s_;   // link time the last chunk in flight finishes
  double next_sample_s_;  // first whole link second not yet reported
  std::vector<LinkDownload> downloads_;
};

}  // namespace fleetml::sim
