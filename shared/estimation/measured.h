#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "shared/estimation/estimator.h"
#include "shared/estimation/samples.h"

namespace fleetml::estimation {

// Latencies reported for (device kind, model, batch). When a device kind has run a model, its
// own reports beat any estimate (SPEC: "per-(device, model) measurements override").
class MeasuredLatencies {
 public:
  struct Entry {
    int reports = 0;
    double p50_ms = 0;  // median of the reported p50s
    double p95_ms = 0;  // largest reported p95
  };

  // Throws fleetml::Error on batch < 1 or a non-positive, non-finite or inverted (p95 < p50)
  // latency.
  void add(const std::string& device_key, const std::string& model_id, int batch, double p50_ms,
           double p95_ms);
  void add(const Sample& sample);
  std::optional<Entry> find(const std::string& device_key, const std::string& model_id,
                            int batch) const;
  std::size_t size() const { return reports_.size(); }

 private:
  std::map<std::tuple<std::string, std::string, int>, std::vector<std::pair<double, double>>>
      reports_;
};

}  // namespace fleetml::estimation
