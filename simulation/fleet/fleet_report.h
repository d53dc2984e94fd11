#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "simulation/fleet/fleet.h"

namespace fleetml::sim {

// What the simulator's truth says about one (vehicle, application) choice.
struct AppVerdict {
  std::string vehicle;
  std::string profile;
  std::string scenario;
  std::string application;
  double deadline_ms = 0;
  std::string model;  // "" when the coordinator found none feasible
  std::string reason;
  double accuracy = 0;
  double predicted_bound_ms = 0;
  double true_p95_ms = 0;  // the truth model's p95 at the application's batch (lognormal)
  bool deadline_met = false;
  double slack_ms = 0;  // deadline - true p95
  bool installed = false;
  std::string failure;  // reason of the latest REJECTED/INSTALL_FAILED, if any
  double predicted_download_s = 0;
  double actual_download_s = -1;  // -1: no download (none assigned, or it did not finish)
  // What the vehicle's trace link alone takes for that download from its start
  // (SimPlatform::LinkDownload::replay_s); -1 with actual_download_s.
  double replay_download_s = -1;
  std::string oracle_model;  // the most accurate model that truly fits; "" if none
  double oracle_accuracy = 0;
};

// Judges every (vehicle, application) of `result` against the truth: true p95 latency of the
// assigned model, and an oracle that, knowing the truth, picks the most accurate model among
// those the catalog published (manifests) that meets the deadline at p95, keeps utilization
// (rate / batch x p95) <= 1, fits the RAM budget and the accuracy floor. One application at a
// time: the oracle does not share the device between applications, nor knows download
// budgets.
std::vector<AppVerdict> judge(const FleetResult& result,
                              const std::vector<v1::Application>& applications,
                              const std::map<std::string, SimulatedDevice>& devices,
                              const ModelStructures& models);

nlohmann::json report_json(const FleetResult& result, const std::vector<AppVerdict>& verdicts);

// Per profile: vehicles, applications assigned / infeasible / installed, true deadline-met
// rate of the assigned ones, median predicted and actual download time, mean accuracy gap to
// the oracle.
std::string summary_table(const std::vector<AppVerdict>& verdicts);

// Whether a run kept up with simulated time: after the start, the shared scheduler ran vehicle
// work far below a tick late (the agent ticks every simulated second: lag mean below 50 ms,
// max below the tick; the max alone is one late wake-up of the thread on a busy machine),
// every vehicle received an assignment, and every download of an assigned model ended
// (installed or failed) within the run. The download slowdown (actual / replay time) says how much
// the real broker, coordinator and fetch round trips stretched downloads beyond the trace link's
// own time.
struct KeepUp {
  static constexpr double kLagMeanLimitMs = 50;
  static constexpr double kLagMaxLimitMs = 1000;
  double lag_mean_ms = 0;
  double lag_max_ms = 0;
  std::size_t vehicles = 0;
  std::size_t assigned = 0;    // vehicles with an assignment
  std::size_t downloads = 0;   // (vehicle, application) pairs assigned a model
  std::size_t ended = 0;       // of those, installed or failed
  double median_slowdown = 0;  // actual / replay over completed downloads; NaN without any
  double p90_slowdown = 0;
  bool ok() const;
};
KeepUp keep_up(const FleetResult& result, const std::vector<AppVerdict>& verdicts);
// One line: "keeps up: yes|no (lag mean 2 ms < 50, max 120 ms < 1000, assigned 20/20,
// downloads ended 20/20, download slowdown median 1.8 p90 2.3)".
std::string describe(const KeepUp& k);

// Writes the plot data (*.dat) and a gnuplot script into `dir`, and runs gnuplot when it is
// on PATH: download-time error CDF per scenario, assignment mix per profile, deadline slack
// CDF (SVG and PNG). Returns the image files written (none without gnuplot).
std::vector<std::filesystem::path> write_plots(const std::vector<AppVerdict>& verdicts,
                                               const std::filesystem::path& dir);

}  // namespace fleetml::sim
