#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/fleet.pb.h"
#include "shared/common/scheduler.h"
#include "shared/messages/topics.h"
#include "shared/transport/mqtt_client.h"
#include "simulation/device/device_profile.h"
#include "simulation/fleet/sim_platform.h"
#include "simulation/trace/trace.h"
#include "simulation/trace/trace_link.h"

namespace fleetml::sim {

// One entry of --mix: a device profile and its relative weight.
struct MixEntry {
  std::string profile;
  double weight = 0;
};

// Parses "rpi4:40,rpi5:30,...": profile names with positive weights (any scale; they are
// normalized). Throws fleetml::Error naming the fault.
std::vector<MixEntry> parse_mix(std::string_view spec);

// The profile of each of `n` vehicles: counts by largest remainder (ties to the earlier
// entry), so the mix is met as exactly as integers allow, in the order of `mix`.
std::vector<std::string> apportion(const std::vector<MixEntry>& mix, std::size_t n);

// One vehicle of a fleet, everything random about it drawn before anything connects.
struct VehiclePlan {
  std::string id;  // "sim-<i>-<profile>", i from 1
  std::string profile;
  std::string scenario;
  TraceLink link;                   // its trace and the offset where its link time 0 falls
  std::uint64_t platform_seed = 0;  // SimPlatform's stream: calibration and latency jitter
  double join_s = 0;                // simulated seconds after the start that it powers on
};

// The `n` vehicles of `mix` (apportioned in mix order), drawn from one Rng seeded with `seed`:
// per vehicle, a scenario of its profile's network type ("4G" -> "4g-*"; every scenario when
// none matches), a random point of it (TraceLink::at_random_point) and a platform seed; then,
// when `ramp_s` > 0, per vehicle a join time uniform in [0, ramp_s) (drawn after everything
// else, so the ramp changes no other draw). Pure: the same arguments give the same fleet.
// `devices` must hold every profile of `mix` and `scenarios` must not be empty.
std::vector<VehiclePlan> plan_fleet(const std::vector<MixEntry>& mix, std::size_t n,
                                    std::uint64_t seed,
                                    const std::map<std::string, SimulatedDevice>& devices,
                                    const std::vector<Scenario>& scenarios, double ramp_s = 0);

struct FleetOptions {
  std::size_t vehicles = 0;
  std::vector<MixEntry> mix;
  std::vector<v1::Application> applications;
  double speed = 1;
  double duration_s = 0;  // simulated seconds
  std::uint64_t seed = 1;
  std::int64_t time_origin_ms = 0;  // real Unix ms where simulated and real time coincide
  // Stop before duration_s once every vehicle has settled: each application assigned and
  // installed (or its install failed), or explicitly infeasible.
  bool until_settled = false;
  std::filesystem::path trust_dir;  // pinned release.pub and coordinator.pub
  std::filesystem::path data_dir;   // per-vehicle agent state (<data_dir>/<vehicle id>)
  transport::ClientOptions mqtt;    // broker and credentials; client ids are per vehicle
  messages::Topics topics;
  std::uint32_t window_blocks = 4;  // FetchRequests in flight per download
  // Vehicles power on (first Status and Capability, then ticking) at seeded uniform times
  // over the first ramp_s simulated seconds; 0: all at the start. Every session connects at
  // the start either way (vehicle::Agent::start_all).
  double ramp_s = 0;
};

// What one simulated vehicle was, and what the MQTT traffic says happened to it.
struct VehicleOutcome {
  std::string id;
  std::string profile;
  std::string scenario;
  std::string trace;
  double link_offset_s = 0;
  double join_s = 0;                                 // when it powered on (FleetOptions::ramp_s)
  std::optional<v1::AssignmentBody> assignment;      // the latest (signature not checked here)
  std::map<std::string, v1::Report> installed;       // by application: the latest INSTALLED
  std::map<std::string, v1::Report> failed;          // by application: the latest failure
  std::vector<SimPlatform::LinkDownload> downloads;  // as its link saw them
  bool settled(const std::vector<v1::Application>& applications) const;
};

struct FleetResult {
  std::vector<VehicleOutcome> vehicles;
  std::map<std::string, v1::ManifestBody> manifests;  // by model id, the latest seen
  std::int64_t time_origin_ms = 0;
  double simulated_s = 0;  // simulated time the fleet ran
  double real_s = 0;
  bool settled = false;
  // How late the shared scheduler ran vehicle work (simulated ms): while the fleet started
  // (connecting every session: the first handlers wait for the last connection) and after.
  Scheduler::LagStats start_lag;
  Scheduler::LagStats lag;
  // The vehicles' publishes wait for their Paho call on one thread of their own
  // (transport::PublishThread): how long, in real ms.
  transport::PublishThread::Stats publish_queue;
  double peak_rss_mb = 0;   // of this process, at the end
  double start_real_s = 0;  // real time to construct, connect and start every vehicle
};

// Runs the fleet: N agents (vehicle_client/agent) in this process on one shared Scheduler
// over a ScaledClock, each with its own MQTT session and a SimPlatform (its profile's
// device, a link at a seeded random point of a scenario of its network type), plus one
// observer client that records assignments, reports and manifests. Returns when duration_s
// of simulated time has passed (or every vehicle settled, with until_settled). The agents'
// publishes are made by one transport::PublishThread, so the scheduler never waits on Paho's
// process-wide lock.
// `devices` holds one SimulatedDevice per profile name used in the mix. Throws fleetml::Error
// when a vehicle cannot be set up or connected.
FleetResult run_fleet(const FleetOptions& options,
                      const std::map<std::string, SimulatedDevice>& devices,
                      const std::vector<Scenario>& scenarios, const ModelStructures& models);

}  // namespace fleetml::sim
