#pragma once

#include <array>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "shared/estimation/roofline.h"
#include "shared/estimation/samples.h"

namespace fleetml::estimation {

// Few-shot device adaptation (docs/estimation.md): once a device kind (device_key) has
// measured latencies for a few models, one factor per roofline Term is fitted to them so that
// the device's other models are predicted better, and the bound is re-derived from how well
// that worked on the measured models themselves.

// One device kind's corrections; what the coordinator persists (JSON) per device_key.
struct DeviceCorrections {
  std::string device_key;
  std::array<double, kTermCount> factors;  // multiply RooflineTerms::ms; 1 = no correction
  int samples = 0;                         // measurements fitted
  int models = 0;                          // distinct models among them
  // Leave-one-model-out residuals over those models (each model predicted from factors fitted
  // without it): the bound's log margin over the point from their log(p95 / point)
  // (bound_log_margin() in roofline.h; the prior margin when fewer than 2 models), how many
  // there were, and the rms of log(p50 / point), reported as the adaptation's expected point
  // error.
  double bound_log_margin = 0;
  int residuals = 0;
  double point_rms = 0;

  DeviceCorrections() { factors.fill(1.0); }
  double factor(Term t) const { return factors[static_cast<std::size_t>(t)]; }
};

// The corrected prediction: sum over terms of factor x term, in ms.
double corrected_ms(const RooflineTerms& terms, const DeviceCorrections& corrections);

nlohmann::json to_json(const DeviceCorrections& corrections);
// Throws fleetml::Error naming the offending key.
DeviceCorrections corrections_from_json(const nlohmann::json& j);

// Chosen a priori (docs/estimation.md): how far from 1 each factor may plausibly be (log
// standard deviation of its Gaussian prior around 0) and how closely one measurement pins
// the model (log standard deviation of a measurement around the corrected roofline).
struct AdaptationOptions {
  // conv, pointwise, depthwise, linear, memory, op overhead, call overhead, layer overhead,
  // small layer, pool
  std::array<double, kTermCount> prior_sigma = {0.4, 0.4, 0.6, 0.5, 0.7, 1.0, 1.0, 1.5, 1.0, 0.7};
  double noise_sigma = 0.1;
  RooflineOptions roofline;
};

// Fits one device kind's factors to its measurements (median latencies, log space): the
// maximum a posteriori log factors under the Gaussian priors, by damped Gauss-Newton
// (Levenberg-Marquardt). The samples must share one device_key and have their models attached;
// Terms no measured model exercises stay at 1. Also computes the leave-one-model-out
// residuals (one refit per distinct model) and the bound's margin from them. Throws fleetml::Error
// on an empty span, mixed device keys or a sample without a model.
DeviceCorrections fit_corrections(std::span<const Sample> samples,
                                  const AdaptationOptions& options = {});

// Corrections by device_key, as the roofline estimator looks them up.
class CorrectionTable {
 public:
  void put(DeviceCorrections corrections);
  // nullptr when the device kind has no corrections.
  const DeviceCorrections* find(std::string_view device_key) const;
  std::size_t size() const { return table_.size(); }
  const std::map<std::string, DeviceCorrections, std::less<>>& entries() const { return table_; }

  // Fits every device kind present in `samples` (models attached).
  static CorrectionTable fit(std::span<const Sample> samples,
                             const AdaptationOptions& options = {});

 private:
  std::map<std::string, DeviceCorrections, std::less<>> table_;
};

}  // namespace fleetml::estimation
