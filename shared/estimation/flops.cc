#include "shared/estimation/flops.h"

#include <cstdio>

namespace fleetml::estimation {

Estimate FlopsEstimator::estimate(const Query& query) const {
  check_batch("flops", query.batch);
  const double gflops = query.capability.device().nominal_gflops();
  if (!(gflops > 0)) {
    throw Unavailable(
        "flops: the device reports no nominal GFLOPS (Device.nominal_gflops = 0), the figure "
        "DIGA's proxy divides by");
  }
  const double flops = static_cast<double>(query.model.flops) * query.batch;
  const double ms = flops / (gflops * 1e9) * 1e3;
  char basis[160];
  std::snprintf(basis, sizeof basis, "%.3f GFLOPs x batch %d / nominal %.1f GFLOPS",
                static_cast<double>(query.model.flops) / 1e9, query.batch, gflops);
  return {ms, ms, name(), basis};
}

}  // namespace fleetml::estimation
