#include "simulation/report/transfer_table.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "simulation/report/scenarios.h"
#include "simulation/report/stats.h"
#include "simulation/trace/trace_link.h"

namespace fleetml::sim {
namespace {

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// Ends the current line of `out` without the padding of its last cell.
void end_line(std::string& out) {
  out.erase(out.find_last_not_of(' ') + 1);
  out += '\n';
}

}  // namespace

TransferTable transfer_table(const std::vector<ZooModel>& models,
                             const std::vector<Scenario>& scenarios, std::uint64_t seed,
                             std::size_t draws) {
  TransferTable table{seed, draws, {}};
  // The start points of each DIGA scenario present in `scenarios`.
  std::vector<std::vector<TraceLink>> links(kDigaRates.size());
  for (std::size_t s = 0; s < kDigaRates.size(); ++s) {
    for (const Scenario& scenario : scenarios) {
      if (scenario.name != kDigaRates[s].scenario) continue;
      Rng rng(seed + s);
      for (std::size_t i = 0; i < draws; ++i) {
        links[s].push_back(TraceLink::at_random_point(scenario, rng));
      }
    }
  }
  for (const ZooModel& model : models) {
    TransferRow row{model, {}, {}};
    const auto bytes = static_cast<double>(model.size_bytes);
    for (std::size_t s = 0; s < kDigaRates.size(); ++s) {
      row.mean_rate_s.push_back(transfer_seconds(bytes, kDigaRates[s].mbps));
      if (links[s].empty()) {
        row.replay.push_back(std::nullopt);
        continue;
      }
      std::vector<double> seconds;
      for (const TraceLink& link : links[s]) seconds.push_back(link.finish_time_s(0, bytes));
      row.replay.push_back(ReplayStats{percentile(seconds, 0.5), percentile(seconds, 0.9)});
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

nlohmann::json to_json(const TransferTable& table) {
  nlohmann::json rows = nlohmann::json::array();
  for (const TransferRow& row : table.rows) {
    nlohmann::json scenarios = nlohmann::json::array();
    for (std::size_t s = 0; s < kDigaRates.size(); ++s) {
      nlohmann::json entry = {{"scenario", kDigaRates[s].scenario},
                              {"mean_rate_mbps", kDigaRates[s].mbps},
                              {"mean_rate_s", row.mean_rate_s[s]}};
      if (row.replay[s]) {
        entry["replay_median_s"] = row.replay[s]->median_s;
        entry["replay_p90_s"] = row.replay[s]->p90_s;
      } else {
        entry["replay_median_s"] = nullptr;
        entry["replay_p90_s"] = nullptr;
      }
      scenarios.push_back(std::move(entry));
    }
    rows.push_back({{"id", row.model.id},
                    {"name", row.model.name},
                    {"size_bytes", row.model.size_bytes},
                    {"scenarios", std::move(scenarios)}});
  }
  return {{"seed", table.seed}, {"draws", table.draws}, {"models", std::move(rows)}};
}

std::string format_text(const TransferTable& table) {
  std::string out = "Transfer time (s): at DIGA's mean rate | replayed median | replayed p90, " +
                    std::to_string(table.draws) + " random starts per scenario, seed " +
                    std::to_string(table.seed) + "\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-20s %9s", "model", "size MB");
  out += line;
  for (const DigaRate& rate : kDigaRates) {
    const std::string head = std::string(rate.label) + " " + fixed(rate.mbps, 1);
    std::snprintf(line, sizeof line, "  %-22s", head.c_str());
    out += line;
  }
  end_line(out);
  for (const TransferRow& row : table.rows) {
    std::snprintf(line, sizeof line, "%-20s %9.1f", row.model.name.c_str(),
                  static_cast<double>(row.model.size_bytes) / 1e6);
    out += line;
    for (std::size_t s = 0; s < kDigaRates.size(); ++s) {
      const std::string cell = fixed(row.mean_rate_s[s], 1) + " | " +
                               (row.replay[s] ? fixed(row.replay[s]->median_s, 1) + " | " +
                                                    fixed(row.replay[s]->p90_s, 1)
                                              : std::string("- | -"));
      std::snprintf(line, sizeof line, "  %-22s", cell.c_str());
      out += line;
    }
    end_line(out);
  }
  return out;
}

}  // namespace fleetml::sim
