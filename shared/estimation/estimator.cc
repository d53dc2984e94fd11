#include "shared/estimation/estimator.h"

namespace fleetml::estimation {

std::string device_key(const v1::Capability& capability) {
  // Appended into one buffer: the coordinator computes a key for every capability it stores
  // and every estimate it plans with.
  const v1::Device& d = capability.device();
  std::string key;
  key.reserve(64 + d.cpu_model().size() + d.profile().size());
  key.append(d.arch()).append("|").append(d.cpu_model()).append("|");
  key.append(std::to_string(d.cores())).append("c|");
  if (d.gpus().empty()) key.append("-");
  for (int i = 0; i < d.gpus_size(); ++i) key.append(i ? "+" : "").append(d.gpus(i).name());
  key.append("|");
  if (!d.profile().empty()) key.append("profile:").append(d.profile()).append("|");
  key.append(d.runtime()).append("|t").append(std::to_string(d.threads()));
  key.append(d.optimized() ? "|opt" : "|plain");
  return key;
}

void check_batch(std::string_view estimator, int batch) {
  if (batch < 1) {
    throw Error(std::string(estimator) + ": batch must be >= 1, got " + std::to_string(batch));
  }
}

}  // namespace fleetml::estimation
