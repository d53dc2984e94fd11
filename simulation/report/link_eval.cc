#include "simulation/report/link_eval.h"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "simulation/report/scenarios.h"
#include "simulation/report/stats.h"
#include "simulation/trace/trace_link.h"

namespace fleetml::sim {
namespace {

PredictorScore score(std::string name, const std::vector<double>& predicted,
                     const std::vector<double>& replayed) {
  std::vector<double> errors;
  std::size_t under = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) {
    if (predicted[i] < replayed[i]) ++under;
    errors.push_back(predicted[i] / replayed[i] - 1);
  }
  return {std::move(name), static_cast<double>(under) / static_cast<double>(predicted.size()),
          percentile(errors, 0.5), percentile(errors, 0.1), percentile(errors, 0.9)};
}

// A finite number, or null for JSON (which has no infinity).
nlohmann::json number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

}  // namespace

LinkEval evaluate_link_predictors(const std::vector<Scenario>& scenarios,
                                  const LinkEvalOptions& options) {
  if (options.cases == 0 || !(options.min_bytes > 0) || !(options.max_bytes >= options.min_bytes) ||
      !(options.history_s >= 1)) {
    throw Error("link-eval: need cases > 0, 0 < min bytes <= max bytes and a history >= 1 s");
  }
  LinkEval eval{options, {}};
  const auto history_count = static_cast<std::size_t>(options.history_s);
  for (std::size_t s = 0; s < scenarios.size(); ++s) {
    const Scenario& scenario = scenarios[s];
    const DigaRate* diga = nullptr;
    for (const DigaRate& rate : kDigaRates) {
      if (rate.scenario == scenario.name) diga = &rate;
    }
    Rng rng(options.seed + s);
    std::uniform_real_distribution<double> log_size(std::log(options.min_bytes),
                                                    std::log(options.max_bytes));
    std::vector<double> replayed, conservative, mean, fixed;
    for (std::size_t i = 0; i < options.cases; ++i) {
      const TraceLink link = TraceLink::at_random_point(scenario, rng);
      const double bytes = std::exp(log_size(rng));
      const auto history =
          link.samples(-static_cast<double>(history_count), history_count, 1'700'000'000'000);
      const double nominal_kbps = diga != nullptr ? diga->mbps * 1000 : 0;
      replayed.push_back(link.finish_time_s(0, bytes));
      conservative.push_back(
          link::predict_download(history, bytes, nominal_kbps, options.predictor).seconds);
      mean.push_back(
          link::predict_download_mean(history, bytes, nominal_kbps, options.predictor.max_history_s)
              .seconds);
      if (diga != nullptr) fixed.push_back(transfer_seconds(bytes, diga->mbps));
    }
    ScenarioEval result{scenario.name, options.cases, percentile(replayed, 0.5), {}};
    result.scores.push_back(score("conservative", conservative, replayed));
    result.scores.push_back(score("mean", mean, replayed));
    if (diga != nullptr) result.scores.push_back(score("diga-fixed", fixed, replayed));
    eval.scenarios.push_back(std::move(result));
  }
  return eval;
}

nlohmann::json to_json(const LinkEval& eval) {
  const LinkEvalOptions& o = eval.options;
  nlohmann::json scenarios = nlohmann::json::array();
  for (const ScenarioEval& s : eval.scenarios) {
    nlohmann::json scores = nlohmann::json::array();
    for (const PredictorScore& p : s.scores) {
      scores.push_back({{"predictor", p.predictor},
                        {"underestimate_share", p.underestimate_share},
                        {"median_rel_error", number(p.median_rel_error)},
                        {"p10_rel_error", number(p.p10_rel_error)},
                        {"p90_rel_error", number(p.p90_rel_error)}});
    }
    scenarios.push_back({{"scenario", s.scenario},
                         {"cases", s.cases},
                         {"median_replayed_s", s.median_replayed_s},
                         {"predictors", std::move(scores)}});
  }
  return {{"cases_per_scenario", o.cases},
          {"history_s", o.history_s},
          {"min_bytes", o.min_bytes},
          {"max_bytes", o.max_bytes},
          {"seed", o.seed},
          {"conservative",
           {{"quantile", o.predictor.quantile},
            {"max_history_s", o.predictor.max_history_s},
            {"max_window_fraction", o.predictor.max_window_fraction}}},
          {"scenarios", std::move(scenarios)}};
}

std::string format_text(const LinkEval& eval) {
  const LinkEvalOptions& o = eval.options;
  char line[256];
  std::snprintf(line, sizeof line,
                "Download-time prediction: %zu cases per scenario, %.0f s history, sizes "
                "%.0f-%.0f MB log-uniform, seed %llu\n",
                o.cases, o.history_s, o.min_bytes / 1e6, o.max_bytes / 1e6,
                static_cast<unsigned long long>(o.seed));
  std::string out = line;
  out += "relative error = predicted / replayed - 1\n";
  std::snprintf(line, sizeof line, "%-11s %-13s %7s %8s %9s %9s %9s\n", "scenario", "predictor",
                "cases", "under %", "p10 err", "median", "p90 err");
  out += line;
  for (const ScenarioEval& s : eval.scenarios) {
    for (const PredictorScore& p : s.scores) {
      std::snprintf(line, sizeof line, "%-11s %-13s %7zu %8.1f %+9.2f %+9.2f %+9.2f\n",
                    s.scenario.c_str(), p.predictor.c_str(), s.cases, 100 * p.underestimate_share,
                    p.p10_rel_error, p.median_rel_error, p.p90_rel_error);
      out += line;
    }
  }
  return out;
}

}  // namespace fleetml::sim
