#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "simulation/report/zoo.h"
#include "simulation/trace/trace.h"

namespace fleetml::sim {

// Replayed download times of one artifact on one scenario's traces.
struct ReplayStats {
  double median_s = 0;
  double p90_s = 0;
};

// One row of DIGA's transfer-time table, with the replayed distribution beside it. Columns
// follow kDigaRates (scenarios.h).
struct TransferRow {
  ZooModel model;
  std::vector<double> mean_rate_s;                 // bytes x 8 / DIGA's mean rate
  std::vector<std::optional<ReplayStats>> replay;  // nullopt when the scenario has no traces
};

struct TransferTable {
  std::uint64_t seed = 0;
  std::size_t draws = 0;  // replayed start points per scenario
  std::vector<TransferRow> rows;
};

// For each model: its transfer time at each of DIGA's mean rates, and the median and 90th
// percentile of its replayed download time over `draws` start points per scenario, drawn
// uniformly over the scenario's trace seconds with Rng(seed) (the same start points for every
// model, so models are compared on the same link conditions). Throws fleetml::Error when a
// scenario's traces deliver nothing at all.
TransferTable transfer_table(const std::vector<ZooModel>& models,
                             const std::vector<Scenario>& scenarios, std::uint64_t seed,
                             std::size_t draws = 200);

nlohmann::json to_json(const TransferTable& table);
std::string format_text(const TransferTable& table);

}  // namespace fleetml::sim
