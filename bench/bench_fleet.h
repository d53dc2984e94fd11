#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "coordinator/service/coordinator.h"
#include "coordinator/service/latency_service.h"
#include "shared/common/clock.h"
#include "shared/transport/mqtt_client.h"

namespace fleetml::cli {
class Parser;
}

namespace fleetml::bench {

// What the coordinator benchmarks share: an in-process Coordinator with the real latency
// service, on a private mosquitto (started by the caller), with fresh keys and data in a
// scratch directory /tmp/fleetml-<name>.XXXXXX removed on destruction.
class BenchCoordinator {
 public:
  BenchCoordinator(const std::string& broker_uri, const std::string& name);
  ~BenchCoordinator();
  coordinator::Coordinator& get() { return *coordinator_; }

 private:
  std::filesystem::path dir_;
  coordinator::LatencyService latency_;
  std::unique_ptr<coordinator::Coordinator> coordinator_;
};

// A client for a benchmark's own traffic: clean session, generous buffers.
std::unique_ptr<transport::MqttClient> bench_client(const std::string& broker_uri,
                                                    const std::string& id);

// --zoo DIR, the exported zoo, defaulting as fleet-sim does (sim::default_zoo_dir()).
void add_zoo_option(cli::Parser& parser);

// Megabytes per second of `bytes` in `elapsed`.
double mb_per_s(double bytes, std::chrono::steady_clock::duration elapsed);

// Prints "<what> over N repetitions: min A, median B (95% CI L-U), max C" (nothing for fewer
// than two; the interval from six on, sim::median_interval): alternated measurements on a
// shared machine are judged by their spread and by how well many of them pin the median, not
// by one.
void print_ratio_summary(const std::string& what, const std::vector<double>& ratios);

}  // namespace fleetml::bench
