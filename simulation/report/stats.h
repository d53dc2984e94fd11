#pragma once

#include <optional>
#include <utility>
#include <vector>

namespace fleetml::sim {

// The q-quantile (q in [0, 1]) of `values`, interpolating linearly between order statistics
// (the usual "type 7" definition); +infinity values sort last. Throws fleetml::Error for an
// empty input.
double percentile(std::vector<double> values, double q);

// A distribution-free confidence interval for the median of the population `values` were
// drawn from (independently): the order statistics x(k) and x(n+1-k), k the largest rank for
// which P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2, so the interval covers the median
// with probability at least `confidence` whatever the distribution. nullopt when n is too
// small for that (n < 6 at 95%). Throws fleetml::Error for a confidence outside (0, 1).
std::optional<std::pair<double, double>> median_interval(std::vector<double> values,
                                                         double confidence = 0.95);

}  // namespace fleetml::sim
