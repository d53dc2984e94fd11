#include "shared/estimation/measured.h"

#include <algorithm>
#include <cmath>

#include "shared/estimation/stats.h"

namespace fleetml::estimation {

void MeasuredLatencies::add(const std::string& device_key, const std::string& model_id, int batch,
                            double p50_ms, double p95_ms) {
  check_batch("measured", batch);
  if (!(p50_ms > 0) || !std::isfinite(p95_ms) || p95_ms < p50_ms) {
    throw Error("measured latency of " + model_id + ": need 0 < p50 <= p95, got " +
                std::to_string(p50_ms) + " and " + std::to_string(p95_ms) + " ms");
  }
  reports_[{device_key, model_id, batch}].emplace_back(p50_ms, p95_ms);
}

void MeasuredLatencies::add(const Sample& s) {
  add(device_key(s.capability), s.model_id, s.batch, s.p50_ms, s.p95_ms);
}

std::optional<MeasuredLatencies::Entry> MeasuredLatencies::find(const std::string& device_key,
                                                                const std::string& model_id,
                                                                int batch) const {
  const auto it = reports_.find({device_key, model_id, batch});
  if (it == reports_.end()) return std::nullopt;
  std::vector<double> p50;
  Entry e;
  for (const auto& [median, p95] : it->second) {
    p50.push_back(median);
    e.p95_ms = std::max(e.p95_ms, p95);
  }
  e.reports = static_cast<int>(p50.size());
  e.p50_ms = quantile(p50, 0.5);
  return e;
}

}  // namespace fleetml::estimation
