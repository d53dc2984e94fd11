#include "simulation/report/device_table.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"

namespace fleetml::sim {

double flops_proxy_ms(const model::ModelProfile& model, const v1::Device& device, int batch) {
  double gflops = device.nominal_gflops();
  if (gflops <= 0 && device.gpus_size() > 0) gflops = device.gpus(0).nominal_gflops();
  if (gflops <= 0) throw Error("device " + device.profile() + ": no nominal GFLOPS");
  return static_cast<double>(batch) * static_cast<double>(model.flops) / (gflops * 1e9) * 1e3;
}

DeviceTable device_table(const std::vector<model::ModelProfile>& models,
                         const std::vector<SimulatedDevice>& devices, int batch) {
  if (batch < 1) throw Error("device table: batch must be >= 1");
  DeviceTable table;
  table.batch = batch;
  for (const SimulatedDevice& d : devices) {
    table.devices.push_back(d.profile().name + (d.optimized() ? "" : " (plain)"));
  }
  for (const model::ModelProfile& m : models) {
    table.models.push_back(m.name);
    std::vector<DeviceTableCell> row;
    for (const SimulatedDevice& d : devices) {
      const DeviceTableCell cell{d.expected_latency_ms(m, batch),
                                 flops_proxy_ms(m, d.device(), batch)};
      if (cell.proxy_ms < cell.truth_ms) ++table.proxy_underestimates;
      row.push_back(cell);
    }
    table.cells.push_back(std::move(row));
  }
  return table;
}

nlohmann::json to_json(const DeviceTable& table) {
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t m = 0; m < table.models.size(); ++m) {
    nlohmann::json cells = nlohmann::json::array();
    for (std::size_t d = 0; d < table.devices.size(); ++d) {
      cells.push_back({{"device", table.devices[d]},
                       {"truth_ms", table.cells[m][d].truth_ms},
                       {"flops_proxy_ms", table.cells[m][d].proxy_ms}});
    }
    rows.push_back({{"model", table.models[m]}, {"devices", std::move(cells)}});
  }
  return {{"batch", table.batch},
          {"proxy_underestimates", table.proxy_underestimates},
          {"cases", table.models.size() * table.devices.size()},
          {"models", std::move(rows)}};
}

std::string format_text(const DeviceTable& table) {
  char cell[128];
  std::string out =
      "Simulated truth (ms) / FLOPs proxy (ms), batch " + std::to_string(table.batch) + "\n";
  std::snprintf(cell, sizeof cell, "%-20s", "model");
  out += cell;
  for (const std::string& d : table.devices) {
    std::snprintf(cell, sizeof cell, " %21s", d.c_str());
    out += cell;
  }
  out += "\n";
  for (std::size_t m = 0; m < table.models.size(); ++m) {
    std::snprintf(cell, sizeof cell, "%-20s", table.models[m].c_str());
    out += cell;
    for (const DeviceTableCell& c : table.cells[m]) {
      std::snprintf(cell, sizeof cell, " %10.1f / %8.1f", c.truth_ms, c.proxy_ms);
      out += cell;
    }
    out += "\n";
  }
  std::snprintf(cell, sizeof cell, "FLOPs proxy underestimates %zu of %zu cases\n",
                table.proxy_underestimates, table.models.size() * table.devices.size());
  return out + cell;
}

}  // namespace fleetml::sim
