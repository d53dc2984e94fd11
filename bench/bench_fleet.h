#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "coordinator/service/coordinator.h"
#include "coordinator/service/latency_service.h"
#include "shared/common/clock.h"
#include "shared/transport/mqtt_client.h"

namespace fleetml::bench {

// What the coordinator benchmarks share: an in-process Coordinator with the real latency
// service, on a private mosquitto (started by the caller), with fresh keys in `dir`.
class BenchCoordinator {
 public:
  BenchCoordinator(const std::string& broker_uri, const std::filesystem::path& dir);
  ~BenchCoordinator();
  coordinator::Coordinator& get() { return *coordinator_; }

 private:
  coordinator::LatencyService latency_;
  std::unique_ptr<coordinator::Coordinator> coordinator_;
};

// A client for a benchmark's own traffic: clean session, generous buffers.
std::unique_ptr<transport::MqttClient> bench_client(const std::string& broker_uri,
                                                    const std::string& id);

// Megabytes per second of `bytes` in `elapsed`.
double mb_per_s(double bytes, std::chrono::steady_clock::duration elapsed);

}  // namespace fleetml::bench
