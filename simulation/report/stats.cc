#include "simulation/report/stats.h"

#include <algorithm>
#include <cmath>

#include "shared/common/error.h"

namespace fleetml::sim {

double percentile(std::vector<double> values, double q) {
  if (values.empty()) throw Error("percentile of no values");
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  if (frac == 0 || values[lo] == values[hi]) return values[lo];
  return values[lo] + frac * (values[hi] - values[lo]);
}

}  // namespace fleetml::sim
