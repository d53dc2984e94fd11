#pragma once

#include <vector>

namespace fleetml::sim {

// The q-quantile (q in [0, 1]) of `values`, interpolating linearly between order statistics
// (the usual "type 7" definition); +infinity values sort last. Throws fleetml::Error for an
// empty input.
double percentile(std::vector<double> values, double q);

}  // namespace fleetml::sim
