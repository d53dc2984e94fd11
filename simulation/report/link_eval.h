#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "shared/link/download_predictor.h"
#include "simulation/trace/trace.h"

namespace fleetml::sim {

struct LinkEvalOptions {
  std::size_t cases = 1000;  // per scenario
  double history_s = 300;    // seconds of trace before the start the vehicle had reported
  double min_bytes = 1e6;    // artifact sizes are log-uniform in [min_bytes, max_bytes]
  double max_bytes = 550e6;
  std::uint64_t seed = 1;
  link::PredictorOptions predictor;  // the conservative predictor's (a priori) parameters
};

// How one predictor did on one scenario. Relative error = predicted / replayed - 1, so an
// underestimate is negative; an infinite prediction counts as an overestimate.
struct PredictorScore {
  std::string predictor;
  double underestimate_share = 0;
  double median_rel_error = 0;
  double p10_rel_error = 0;
  double p90_rel_error = 0;
};

struct ScenarioEval {
  std::string scenario;
  std::size_t cases = 0;
  double median_replayed_s = 0;
  std::vector<PredictorScore> scores;
};

struct LinkEval {
  LinkEvalOptions options;
  std::vector<ScenarioEval> scenarios;
};

// For each scenario, `cases` seeded random cases: a start uniformly over the scenario's trace
// seconds, an artifact size, the history the vehicle would have reported (the history_s
// seconds of trace before the start, one LinkSample per second) and the replayed download
// time from the start. Predictors: "conservative" (link::predict_download), "mean" (DIGA's
// rule on the same history, link::predict_download_mean) and, for DIGA's four scenarios,
// "diga-fixed" (the size over DIGA's published mean rate for that scenario).
LinkEval evaluate_link_predictors(const std::vector<Scenario>& scenarios,
                                  const LinkEvalOptions& options);

nlohmann::json to_json(const LinkEval& eval);
std::string format_text(const LinkEval& eval);

}  // namespace fleetml::sim
