#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "shared/estimation/estimator.h"
#include "shared/estimation/samples.h"

namespace fleetml::estimation {

// Leave-one-model-out comparison of estimators on a measurement set (DIGA's metrics), behind
// `fleetctl eval-estimators`. Protocol: for every model M, each method is prepared from the
// samples of all other models only (the learned model trained, the device adaptation fitted
// without M on any device), then asked for every sample of M.

// A way to estimate that may learn from measurements: `prepare` gets the training samples
// (never those of the model about to be predicted) and returns the estimator to ask.
struct Method {
  std::string name;
  std::function<std::shared_ptr<const Estimator>(std::span<const Sample> training)> prepare;
};

// flops; roofline (no measurements); roofline+adapt (corrections fitted per device kind from
// every training sample of that kind); roofline+adapt5 (from at most 5 models per device
// kind, chosen by a fixed hash of their ids: the few-shot case); learned.
std::vector<Method> standard_methods();

// Roofline with corrections fitted from at most `max_models` models per device kind (0: all).
Method adapted_roofline_method(std::string name, int max_models);

inline constexpr std::array<double, 4> kDeadlinesMs = {10, 20, 50, 100};

// DIGA's metrics over a set of predictions.
struct Metrics {
  int n = 0;            // predictions made
  int unavailable = 0;  // queries the estimator could not answer (not in the other figures)
  double median_abs_pct_error = 0;  // |point - p50| / p50, percent
  double mean_abs_pct_error = 0;    // the same, mean (DIGA's MAPE: outliers weigh in)
  double within_10 = 0;             // share of |point - p50| / p50 <= 10%
  double within_20 = 0;
  double under_point = 0;  // share of point < p50
  double under_bound = 0;  // share of bound < p95
  // Median bound / p95: how much a deadline the bound refuses could have been met (a bound
  // 10x every p95 never underestimates and is useless).
  double bound_over_p95 = 0;
  // Share of samples where "bound <= D" agrees with "p95 <= D", for each kDeadlinesMs.
  std::array<double, 4> feasibility{};
  int unsafe = 0;  // (sample, deadline) pairs with bound <= D < p95: a deadline promised and missed
};

struct Prediction {
  std::size_t sample = 0;  // index into the evaluated samples
  std::string method;
  std::optional<Estimate> estimate;
  std::string error;  // why there is no estimate
};

struct EvaluationReport {
  std::vector<std::string> methods;
  std::vector<Prediction> predictions;
  std::map<std::string, Metrics> overall;  // by method
  std::map<std::string, std::map<std::string, Metrics>>
      by_configuration;  // configuration -> method
};

// "<device>/<opt|plain>/t<threads>/b<batch>", device = the simulated profile or the CPU model.
std::string configuration_label(const Sample& sample);

// Runs the protocol. Samples need their models attached. Throws fleetml::Error when there are
// fewer than two models or a sample has no model.
EvaluationReport evaluate(std::span<const Sample> samples, std::span<const Method> methods);

Metrics compute_metrics(std::span<const Sample> samples, std::span<const Prediction> predictions);

// The metrics, and each prediction with its sample's model, configuration and measured p50
// and p95 (`samples`: those evaluated).
nlohmann::json to_json(const EvaluationReport& report, std::span<const Sample> samples);
// The overall table, then one table per configuration.
std::string format_report(const EvaluationReport& report);

}  // namespace fleetml::estimation
