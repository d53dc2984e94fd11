#include "shared/estimation/estimator.h"

namespace fleetml::estimation {

std::string device_key(const v1::Capability& capability) {
  const v1::Device& d = capability.device();
  std::string gpus;
  for (const v1::Gpu& g : d.gpus()) gpus += (gpus.empty() ? "" : "+") + g.name();
  std::string key = d.arch() + "|" + d.cpu_model() + "|" + std::to_string(d.cores()) + "c|" +
                    (gpus.empty() ? "-" : gpus) + "|";
  if (!d.profile().empty()) key += "profile:" + d.profile() + "|";
  return key + d.runtime() + "|t" + std::to_string(d.threads()) +
         (d.optimized() ? "|opt" : "|plain");
}

void check_batch(std::string_view estimator, int batch) {
  if (batch < 1) {
    throw Error(std::string(estimator) + ": batch must be >= 1, got " + std::to_string(batch));
  }
}

}  // namespace fleetml::estimation
