#pragma once

#include "shared/estimation/estimator.h"

namespace fleetml::estimation {

// DIGA's proxy, the baseline to beat: T = FLOPs x batch / (Device.nominal_gflops x 1e9),
// the vendor's peak figure for the whole device whatever the runtime configuration. It knows
// nothing better, so point = bound. Throws Unavailable when the device reports no nominal
// GFLOPS (0), which is what `fleet-vehicle calibrate` reports for a machine it cannot look up.
class FlopsEstimator : public Estimator {
 public:
  std::string name() const override { return "flops"; }
  Estimate estimate(const Query& query) const override;
};

}  // namespace fleetml::estimation
