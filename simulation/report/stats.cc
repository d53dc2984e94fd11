#include "simulation/report/stats.h"

#include <algorithm>
#include <cmath>
#include <string>

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

std::optional<std::pair<double, double>> median_interval(std::vector<double> values,
                                                         double confidence) {
  if (!(confidence > 0 && confidence < 1)) {
    throw Error("median interval: confidence must be in (0, 1), got " + std::to_string(confidence));
  }
  const std::size_t n = values.size();
  const double tail = (1 - confidence) / 2;
  // P(B < k) for B ~ Binomial(n, 1/2), accumulated from k = 1 while it stays within the tail.
  const auto pmf = [&](std::size_t i) {
    const double dn = static_cast<double>(n);
    const double di = static_cast<double>(i);
    return std::exp(std::lgamma(dn + 1) - std::lgamma(di + 1) - std::lgamma(dn - di + 1) -
                    dn * std::log(2.0));
  };
  std::size_t k = 0;
  double below = 0;
  while (k < n / 2 && below + pmf(k) <= tail) below += pmf(k++);
  if (k == 0) return std::nullopt;
  std::sort(values.begin(), values.end());
  return std::pair{values[k - 1], values[n - k]};
}

}  // namespace fleetml::sim
