#include "shared/estimation/evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <set>

#include <nlohmann/json.hpp>

#include "shared/estimation/adaptation.h"
#include "shared/estimation/flops.h"
#include "shared/estimation/learned.h"
#include "shared/estimation/roofline.h"
#include "shared/estimation/stats.h"

namespace fleetml::estimation {
namespace {

// FNV-1a: a hash that is the same on every platform and run.
std::uint64_t stable_hash(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

std::vector<Sample> few_models(std::span<const Sample> samples, int max_models) {
  std::set<std::pair<std::uint64_t, std::string>> ranked;
  for (const Sample& s : samples) ranked.insert({stable_hash(s.model_id), s.model_id});
  std::set<std::string> keep;
  for (const auto& [hash, id] : ranked) {
    if (static_cast<int>(keep.size()) == max_models) break;
    keep.insert(id);
  }
  std::vector<Sample> out;
  for (const Sample& s : samples) {
    if (keep.contains(s.model_id)) out.push_back(s);
  }
  return out;
}

}  // namespace

Method adapted_roofline_method(std::string name, int max_models) {
  return {std::move(name), [max_models](std::span<const Sample> training) {
            std::map<std::string, std::vector<Sample>> by_device;
            for (const Sample& s : training) by_device[device_key(s.capability)].push_back(s);
            auto table = std::make_shared<CorrectionTable>();
            for (const auto& [key, device_samples] : by_device) {
              table->put(fit_corrections(max_models > 0 ? few_models(device_samples, max_models)
                                                        : device_samples));
            }
            return std::make_shared<RooflineEstimator>(table);
          }};
}

std::vector<Method> standard_methods() {
  return {
      {"flops", [](std::span<const Sample>) { return std::make_shared<FlopsEstimator>(); }},
      {"roofline", [](std::span<const Sample>) { return std::make_shared<RooflineEstimator>(); }},
      adapted_roofline_method("roofline+adapt", 0),
      adapted_roofline_method("roofline+adapt5", 5),
      {"learned", [](std::span<const Sample> training) {
         return std::make_shared<LearnedEstimator>(LearnedModel::train(training));
       }}};
}

std::string configuration_label(const Sample& s) {
  const v1::Device& d = s.capability.device();
  return (d.profile().empty() ? d.cpu_model() : d.profile()) +
         (s.capability.calibration().optimized() ? "/opt" : "/plain") + "/t" +
         std::to_string(s.capability.calibration().threads()) + "/b" + std::to_string(s.batch);
}

Metrics compute_metrics(std::span<const Sample> samples, std::span<const Prediction> predictions) {
  Metrics m;
  std::vector<double> errors, bound_ratios;
  double within_10 = 0, within_20 = 0, under_point = 0, under_bound = 0;
  std::array<double, 4> agree{};
  for (const Prediction& p : predictions) {
    if (!p.estimate) {
      ++m.unavailable;
      continue;
    }
    const Sample& s = samples[p.sample];
    const double error = std::abs(p.estimate->point_ms - s.p50_ms) / s.p50_ms;
    errors.push_back(100 * error);
    within_10 += error <= 0.10;
    within_20 += error <= 0.20;
    under_point += p.estimate->point_ms < s.p50_ms;
    under_bound += p.estimate->bound_ms < s.p95_ms;
    bound_ratios.push_back(p.estimate->bound_ms / s.p95_ms);
    for (std::size_t d = 0; d < kDeadlinesMs.size(); ++d) {
      const bool predicted = p.estimate->bound_ms <= kDeadlinesMs[d];
      const bool actual = s.p95_ms <= kDeadlinesMs[d];
      agree[d] += predicted == actual;
      m.unsafe += predicted && !actual;
    }
    ++m.n;
  }
  if (m.n == 0) return m;
  const double n = m.n;
  m.median_abs_pct_error = quantile(errors, 0.5);
  m.mean_abs_pct_error = errors.empty() ? 0
                                        : std::accumulate(errors.begin(), errors.end(), 0.0) /
                                              static_cast<double>(errors.size());
  m.within_10 = within_10 / n;
  m.within_20 = within_20 / n;
  m.under_point = under_point / n;
  m.under_bound = under_bound / n;
  m.bound_over_p95 = quantile(bound_ratios, 0.5);
  for (std::size_t d = 0; d < agree.size(); ++d) m.feasibility[d] = agree[d] / n;
  return m;
}

EvaluationReport evaluate(std::span<const Sample> samples, std::span<const Method> methods) {
  std::set<std::string> models;
  for (const Sample& s : samples) {
    if (!s.model) throw Error("evaluation: measurement of " + s.model_id + " has no profile");
    models.insert(s.model_id);
  }
  if (models.size() < 2) throw Error("evaluation: leave-one-model-out needs at least 2 models");

  EvaluationReport report;
  for (const Method& m : methods) report.methods.push_back(m.name);
  for (const std::string& held_out : models) {
    std::vector<Sample> training;
    std::vector<std::size_t> test;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      if (samples[i].model_id == held_out) {
        test.push_back(i);
      } else {
        training.push_back(samples[i]);
      }
    }
    for (const Method& method : methods) {
      std::shared_ptr<const Estimator> estimator;
      std::string prepare_error;
      try {
        estimator = method.prepare(training);
      } catch (const Error& e) {
        prepare_error = e.what();
      }
      for (std::size_t i : test) {
        Prediction p{i, method.name, std::nullopt, prepare_error};
        if (estimator) {
          try {
            p.estimate =
                estimator->estimate({*samples[i].model, samples[i].capability, samples[i].batch});
          } catch (const Error& e) {
            p.error = e.what();
          }
        }
        report.predictions.push_back(std::move(p));
      }
    }
  }

  std::map<std::string, std::vector<Prediction>> by_method;
  std::map<std::string, std::map<std::string, std::vector<Prediction>>> by_config;
  for (const Prediction& p : report.predictions) {
    by_method[p.method].push_back(p);
    by_config[configuration_label(samples[p.sample])][p.method].push_back(p);
  }
  for (const auto& [method, predictions] : by_method) {
    report.overall[method] = compute_metrics(samples, predictions);
  }
  for (const auto& [config, methods_of] : by_config) {
    for (const auto& [method, predictions] : methods_of) {
      report.by_configuration[config][method] = compute_metrics(samples, predictions);
    }
  }
  return report;
}

namespace {

nlohmann::json metrics_json(const Metrics& m) {
  nlohmann::json feasibility = nlohmann::json::object();
  for (std::size_t d = 0; d < kDeadlinesMs.size(); ++d) {
    feasibility[std::to_string(static_cast<int>(kDeadlinesMs[d]))] = m.feasibility[d];
  }
  return {{"n", m.n},
          {"unavailable", m.unavailable},
          {"median_abs_pct_error", m.median_abs_pct_error},
          {"mean_abs_pct_error", m.mean_abs_pct_error},
          {"within_10", m.within_10},
          {"within_20", m.within_20},
          {"under_point", m.under_point},
          {"under_bound", m.under_bound},
          {"bound_over_p95", m.bound_over_p95},
          {"feasibility", feasibility},
          {"unsafe", m.unsafe}};
}

std::string table(const std::vector<std::string>& methods,
                  const std::map<std::string, Metrics>& m) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line,
                "%-16s %5s %5s %7s %7s %6s %6s %7s %7s %7s %6s %6s %6s %6s %6s\n", "estimator", "n",
                "n/a", "MdAPE%", "MAPE%", "in10%", "in20%", "under", "under", "bound/", "feas10",
                "feas20", "feas50", "feas100", "unsafe");
  out += line;
  std::snprintf(line, sizeof line,
                "%-16s %5s %5s %7s %7s %6s %6s %7s %7s %7s %6s %6s %6s %6s %6s\n", "", "", "", "",
                "", "", "", "point", "bound", "p95", "", "", "", "", "");
  out += line;
  for (const std::string& name : methods) {
    const auto it = m.find(name);
    if (it == m.end()) continue;
    const Metrics& x = it->second;
    if (x.n == 0) {
      std::snprintf(line, sizeof line, "%-16s %5d %5d  (no estimates)\n", name.c_str(), x.n,
                    x.unavailable);
    } else {
      std::snprintf(
          line, sizeof line,
          "%-16s %5d %5d %7.1f %7.1f %5.0f%% %5.0f%% %6.0f%% %6.0f%% %7.2f %5.0f%% %5.0f%% "
          "%5.0f%% %5.0f%% %6d\n",
          name.c_str(), x.n, x.unavailable, x.median_abs_pct_error, x.mean_abs_pct_error,
          100 * x.within_10, 100 * x.within_20, 100 * x.under_point, 100 * x.under_bound,
          x.bound_over_p95, 100 * x.feasibility[0], 100 * x.feasibility[1], 100 * x.feasibility[2],
          100 * x.feasibility[3], x.unsafe);
    }
    out += line;
  }
  return out;
}

}  // namespace

nlohmann::json to_json(const EvaluationReport& report, std::span<const Sample> samples) {
  nlohmann::json predictions = nlohmann::json::array();
  for (const Prediction& p : report.predictions) {
    const Sample& s = samples[p.sample];
    nlohmann::json j = {{"model", s.model_id},
                        {"configuration", configuration_label(s)},
                        {"method", p.method},
                        {"p50_ms", s.p50_ms},
                        {"p95_ms", s.p95_ms}};
    if (p.estimate) {
      j["point_ms"] = p.estimate->point_ms;
      j["bound_ms"] = p.estimate->bound_ms;
    } else {
      j["error"] = p.error;
    }
    predictions.push_back(std::move(j));
  }
  nlohmann::json overall = nlohmann::json::object();
  for (const auto& [method, m] : report.overall) overall[method] = metrics_json(m);
  nlohmann::json configs = nlohmann::json::object();
  for (const auto& [config, methods] : report.by_configuration) {
    for (const auto& [method, m] : methods) configs[config][method] = metrics_json(m);
  }
  return {{"protocol", "leave-one-model-out"}, {"methods", report.methods},
          {"deadlines_ms", kDeadlinesMs},      {"overall", overall},
          {"by_configuration", configs},       {"predictions", predictions}};
}

std::string format_report(const EvaluationReport& report) {
  std::string out = "overall (leave-one-model-out)\n" + table(report.methods, report.overall);
  for (const auto& [config, methods] : report.by_configuration) {
    out += "\n" + config + "\n" + table(report.methods, methods);
  }
  return out;
}

}  // namespace fleetml::estimation
