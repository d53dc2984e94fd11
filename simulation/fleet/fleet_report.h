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
  std::string oracle_model;       // the most accurate model that truly fits; "" if none
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

// Writes the plot data (*.dat) and a gnuplot script into `dir`, and runs gnuplot when it is
// on PATH: download-time error CDF per scenario, assignment mix per profile, deadline slack
// CDF (SVG and PNG). Returns the image files written (none without gnuplot).
std::vector<std::filesystem::path> write_plots(const std::vector<AppVerdict>& verdicts,
                                               const std::filesystem::path& dir);

}  // namespace fleetml::sim
