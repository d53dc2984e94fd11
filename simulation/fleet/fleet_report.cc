#include "simulation/fleet/fleet_report.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "shared/assignment/planner.h"
#include "shared/common/error.h"
#include "simulation/report/stats.h"

namespace fleetml::sim {
namespace {

namespace fs = std::filesystem;

// z of the 95th percentile of a standard normal: the truth's jitter is lognormal.
constexpr double kZ95 = 1.6448536269514722;

double true_p95_ms(const SimulatedDevice& device, const model::ModelProfile& model, int batch) {
  return device.expected_latency_ms(model, batch) *
         std::exp(kZ95 * device.profile().truth.jitter_sigma);
}

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

double median_or_nan(std::vector<double> v) {
  return v.empty() ? std::nan("") : percentile(std::move(v), 0.5);
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw Error("cannot write " + path.string());
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && ::access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

std::vector<AppVerdict> judge(const FleetResult& result,
                              const std::vector<v1::Application>& applications,
                              const std::map<std::string, SimulatedDevice>& devices,
                              const ModelStructures& models) {
  std::vector<AppVerdict> verdicts;
  for (const VehicleOutcome& v : result.vehicles) {
    const SimulatedDevice& device = devices.at(v.profile);
    const double budget_mb = assignment::ram_budget_mb(device.device());
    for (const v1::Application& app : applications) {
      AppVerdict d;
      d.vehicle = v.id;
      d.profile = v.profile;
      d.scenario = v.scenario;
      d.application = app.id();
      d.deadline_ms = app.deadline_ms();
      const int batch = static_cast<int>(std::max<std::uint32_t>(app.batch(), 1));
      for (const auto& [id, manifest] : result.manifests) {
        const auto structure = models.find(id);
        if (structure == models.end() || manifest.accuracy() < app.min_accuracy()) continue;
        const double p95 = true_p95_ms(device, structure->second, batch);
        const double utilization = app.rate_hz() / batch * p95 / 1000;
        if (p95 <= app.deadline_ms() && utilization <= 1 &&
            device.peak_memory_mb(structure->second, batch) <= budget_mb &&
            manifest.accuracy() > d.oracle_accuracy) {
          d.oracle_model = id;
          d.oracle_accuracy = manifest.accuracy();
        }
      }
      if (v.assignment) {
        for (const v1::AppAssignment& a : v.assignment->applications()) {
          if (a.application_id() != app.id()) continue;
          d.model = a.model_id();
          d.reason = a.reason();
          d.accuracy = a.accuracy();
          d.predicted_bound_ms = a.predicted_bound_ms();
          d.predicted_download_s = a.predicted_download_s();
        }
      } else {
        d.reason = "no assignment received";
      }
      if (const auto s = models.find(d.model); !d.model.empty() && s != models.end()) {
        d.true_p95_ms = true_p95_ms(device, s->second, batch);
        d.deadline_met = d.true_p95_ms <= d.deadline_ms;
        d.slack_ms = d.deadline_ms - d.true_p95_ms;
      }
      if (const auto r = v.installed.find(app.id());
          r != v.installed.end() && r->second.model_id() == d.model) {
        d.installed = true;
        if (r->second.download().bytes() > 0) {
          d.actual_download_s = r->second.download().duration_s();
          for (const SimPlatform::LinkDownload& l : v.downloads) {
            if (l.model_id == d.model && l.version == r->second.model_version() && l.end_s >= 0) {
              d.replay_download_s = l.replay_s;
            }
          }
        }
      }
      if (const auto f = v.failed.find(app.id()); f != v.failed.end() && !d.installed) {
        d.failure = f->second.reason();
      }
      verdicts.push_back(std::move(d));
    }
  }
  return verdicts;
}

nlohmann::json report_json(const FleetResult& result, const std::vector<AppVerdict>& verdicts) {
  nlohmann::json vehicles = nlohmann::json::array();
  for (const VehicleOutcome& v : result.vehicles) {
    nlohmann::json apps = nlohmann::json::array();
    for (const AppVerdict& d : verdicts) {
      if (d.vehicle != v.id) continue;
      nlohmann::json a = {{"application", d.application},
                          {"deadline_ms", d.deadline_ms},
                          {"model", d.model},
                          {"infeasible", v.assignment.has_value() && d.model.empty()},
                          {"reason", d.reason},
                          {"accuracy", d.accuracy},
                          {"predicted_bound_ms", d.predicted_bound_ms},
                          {"true_p95_ms", d.true_p95_ms},
                          {"deadline_truly_met", d.deadline_met},
                          {"slack_ms", d.slack_ms},
                          {"installed", d.installed},
                          {"failure", d.failure},
                          {"predicted_download_s", d.predicted_download_s},
                          {"oracle_model", d.oracle_model},
                          {"oracle_accuracy", d.oracle_accuracy},
                          {"accuracy_gap", d.oracle_accuracy - d.accuracy}};
      a["actual_download_s"] =
          d.actual_download_s >= 0 ? nlohmann::json(d.actual_download_s) : nlohmann::json();
      a["replay_download_s"] =
          d.replay_download_s >= 0 ? nlohmann::json(d.replay_download_s) : nlohmann::json();
      apps.push_back(std::move(a));
    }
    vehicles.push_back({{"id", v.id},
                        {"profile", v.profile},
                        {"scenario", v.scenario},
                        {"trace", v.trace},
                        {"link_offset_s", v.link_offset_s},
                        {"join_s", v.join_s},
                        {"assignment_seq", v.assignment ? v.assignment->seq() : 0},
                        {"applications", std::move(apps)}});
  }
  return {{"time_origin_ms", result.time_origin_ms},
          {"simulated_s", result.simulated_s},
          {"real_s", result.real_s},
          {"start_real_s", result.start_real_s},
          {"settled", result.settled},
          {"scheduler_lag_ms", {{"max", result.lag.max_ms}, {"mean", result.lag.mean_ms}}},
          {"start_scheduler_lag_ms",
           {{"max", result.start_lag.max_ms}, {"mean", result.start_lag.mean_ms}}},
          {"peak_rss_mb", result.peak_rss_mb},
          {"vehicles", std::move(vehicles)}};
}

std::string summary_table(const std::vector<AppVerdict>& verdicts) {
  std::map<std::string, std::vector<const AppVerdict*>> by_profile;
  for (const AppVerdict& d : verdicts) by_profile[d.profile].push_back(&d);
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %8s %8s %10s %9s %9s %9s %11s %11s %9s\n", "profile",
                "vehicles", "assigned", "infeasible", "installed", "met_true", "pred_dl_s",
                "replay_dl_s", "actual_dl_s", "acc_gap");
  out << line;
  for (const auto& [profile, ds] : by_profile) {
    std::set<std::string> vehicles;
    std::size_t assigned = 0, infeasible = 0, installed = 0, met = 0;
    std::vector<double> predicted, replay, actual;
    double gap = 0;
    for (const AppVerdict* d : ds) {
      vehicles.insert(d->vehicle);
      if (d->model.empty()) {
        ++infeasible;
      } else {
        ++assigned;
        met += d->deadline_met ? 1 : 0;
      }
      installed += d->installed ? 1 : 0;
      if (d->actual_download_s >= 0) {
        predicted.push_back(d->predicted_download_s);
        if (d->replay_download_s >= 0) replay.push_back(d->replay_download_s);
        actual.push_back(d->actual_download_s);
      }
      gap += d->oracle_accuracy - d->accuracy;
    }
    const double met_rate =
        assigned ? static_cast<double>(met) / static_cast<double>(assigned) : std::nan("");
    std::snprintf(line, sizeof line, "%-16s %8zu %8zu %10zu %9zu %9s %9s %11s %11s %9s\n",
                  profile.c_str(), vehicles.size(), assigned, infeasible, installed,
                  fixed(met_rate, 2).c_str(), fixed(median_or_nan(predicted), 1).c_str(),
                  fixed(median_or_nan(replay), 1).c_str(), fixed(median_or_nan(actual), 1).c_str(),
                  fixed(gap / static_cast<double>(ds.size()), 3).c_str());
    out << line;
  }
  out << "met_true: share of assigned applications whose true p95 meets the deadline; "
         "*_dl_s: medians over completed downloads (pred: the coordinator's prediction, replay: "
         "the trace link alone, actual: measured by the vehicle); acc_gap: mean oracle accuracy "
         "- assigned accuracy\n";
  return out.str();
}

bool KeepUp::ok() const {
  return lag_mean_ms < kLagMeanLimitMs && lag_max_ms < kLagMaxLimitMs && assigned == vehicles &&
         ended == downloads;
}

KeepUp keep_up(const FleetResult& result, const std::vector<AppVerdict>& verdicts) {
  KeepUp k;
  k.lag_mean_ms = result.lag.mean_ms;
  k.lag_max_ms = result.lag.max_ms;
  k.vehicles = result.vehicles.size();
  for (const VehicleOutcome& v : result.vehicles) k.assigned += v.assignment ? 1 : 0;
  std::vector<double> slowdowns;
  for (const AppVerdict& d : verdicts) {
    if (d.model.empty()) continue;
    ++k.downloads;
    k.ended += d.installed || !d.failure.empty() ? 1 : 0;
    if (d.actual_download_s >= 0 && d.replay_download_s > 0) {
      slowdowns.push_back(d.actual_download_s / d.replay_download_s);
    }
  }
  k.median_slowdown = median_or_nan(slowdowns);
  k.p90_slowdown = slowdowns.empty() ? std::nan("") : percentile(slowdowns, 0.9);
  return k;
}

std::string describe(const KeepUp& k) {
  const auto bound = [](double v, double limit) {
    return fixed(v, 0) + " ms " + (v < limit ? "< " : ">= ") + fixed(limit, 0);
  };
  std::ostringstream out;
  out << "keeps up: " << (k.ok() ? "yes" : "no") << " (lag mean "
      << bound(k.lag_mean_ms, KeepUp::kLagMeanLimitMs) << ", max "
      << bound(k.lag_max_ms, KeepUp::kLagMaxLimitMs) << ", assigned " << k.assigned << "/"
      << k.vehicles << ", downloads ended " << k.ended << "/" << k.downloads
      << ", download slowdown median " << fixed(k.median_slowdown, 1) << " p90 "
      << fixed(k.p90_slowdown, 1) << ")";
  return out.str();
}

std::vector<fs::path> write_plots(const std::vector<AppVerdict>& verdicts, const fs::path& dir) {
  fs::create_directories(dir);
  // download-error.dat: one block per scenario (gnuplot index), sorted relative errors with
  // their empirical CDF.
  std::map<std::string, std::vector<double>> errors;
  std::vector<double> slack;
  std::map<std::string, std::map<std::string, int>> mix;  // profile -> model -> count
  std::set<std::string> mix_models;
  for (const AppVerdict& d : verdicts) {
    if (d.actual_download_s > 0) {
      errors[d.scenario].push_back(d.predicted_download_s / d.actual_download_s - 1);
    }
    if (!d.model.empty()) slack.push_back(d.slack_ms);
    const std::string model = d.model.empty() ? "(none)" : d.model;
    ++mix[d.profile][model];
    mix_models.insert(model);
  }
  const auto cdf = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::ostringstream s;
    for (std::size_t i = 0; i < v.size(); ++i) {
      s << v[i] << ' ' << static_cast<double>(i + 1) / static_cast<double>(v.size()) << '\n';
    }
    return s.str();
  };
  std::ostringstream err, script;
  std::vector<std::string> titles;
  for (const auto& [scenario, e] : errors) {
    err << "# " << scenario << '\n' << cdf(e) << "\n\n";
    titles.push_back(scenario);
  }
  write_file(dir / "download-error.dat", err.str());
  write_file(dir / "slack.dat", cdf(slack));
  std::ostringstream m;
  m << "profile";
  for (const std::string& model : mix_models) m << ' ' << model;
  m << '\n';
  for (const auto& [profile, counts] : mix) {
    m << profile;
    for (const std::string& model : mix_models) {
      const auto c = counts.find(model);
      m << ' ' << (c == counts.end() ? 0 : c->second);
    }
    m << '\n';
  }
  write_file(dir / "assignment-mix.dat", m.str());

  std::vector<fs::path> images;
  for (const std::string term : {"svg", "png"}) {
    script << "set terminal " << (term == "svg" ? "svg size 800,500" : "pngcairo size 800,500")
           << "\nset key outside right\nset grid\n";
    const auto output = [&](const std::string& name) {
      const fs::path file = dir / (name + "." + term);
      images.push_back(file);
      script << "set output '" << file.string() << "'\n";
    };
    if (!titles.empty()) {
      output("download-error-cdf");
      script << "set title 'Download time: predicted / actual - 1'\nset xlabel 'relative error'\n"
                "set ylabel 'CDF'\nplot ";
      for (std::size_t i = 0; i < titles.size(); ++i) {
        script << (i ? ", " : "") << "'" << (dir / "download-error.dat").string() << "' index " << i
               << " using 1:2 with steps title '" << titles[i] << "'";
      }
      script << '\n';
    }
    output("assignment-mix");
    script << "set title 'Assigned model per profile'\nset style data histograms\n"
              "set style histogram rowstacked\nset style fill solid border -1\n"
              "set xlabel 'profile'\nset ylabel 'applications'\nset xtics rotate by -30\n"
              "plot for [c=2:"
           << mix_models.size() + 1 << "] '" << (dir / "assignment-mix.dat").string()
           << "' using c:xtic(1) title columnheader\nunset style\nset xtics norotate\n";
    if (!slack.empty()) {
      output("deadline-slack-cdf");
      script << "set title 'Deadline slack (deadline - true p95)'\nset xlabel 'ms'\n"
                "set ylabel 'CDF'\nset style data lines\nplot '"
             << (dir / "slack.dat").string() << "' using 1:2 with steps title 'assigned'\n";
    }
  }
  write_file(dir / "plots.gp", script.str());
  if (!on_path("gnuplot")) return {};
  const std::string command =
      "gnuplot '" + (dir / "plots.gp").string() + "' 2>'" + (dir / "gnuplot.log").string() + "'";
  if (std::system(command.c_str()) != 0) {
    throw Error("gnuplot failed; see " + (dir / "gnuplot.log").string());
  }
  return images;
}

}  // namespace fleetml::sim
