#pragma once

#include <vector>

namespace fleetml::estimation {

// Small statistics helpers shared by the estimators and the evaluation.

// Quantile of the standard normal distribution, p in (0, 1) (Acklam's rational
// approximation, relative error < 1.2e-9).
double normal_quantile(double p);

// Quantile of Student's t with `dof` > 0 degrees of freedom (Cornish-Fisher expansion around
// the normal quantile; within 0.3% of the exact value for dof >= 3 at p = 0.95).
double student_t_quantile(double p, double dof);

// Linear-interpolation quantile (as numpy's default) of `values`, q in [0, 1]; 0 when empty.
double quantile(std::vector<double> values, double q);

}  // namespace fleetml::estimation
