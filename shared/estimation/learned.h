#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/estimation/estimator.h"
#include "shared/estimation/roofline.h"
#include "shared/estimation/samples.h"

namespace fleetml::estimation {

// The `learned` estimator: an XGBoost regressor (ITMO found it best for inference time)
// trained on stored measurements, on model-structure and device features. The target is the
// log median latency; each row's log roofline point is the booster's base margin, so the trees
// learn the correction to the roofline and the prediction scales with models and devices
// outside the range seen in training (trees alone cannot extrapolate).

// Feature names, in the order features() fills them.
const std::vector<std::string>& feature_names();

// One query's features: log10 of MACs, params, depth, operator count, weight and activation
// bytes, peak activation; MAC shares of dense/pointwise/grouped/depthwise convolutions and
// linear layers; byte and operator shares of memory-bound operators; log10 calibration rates
// and overhead; threads, optimized, cores, clock, log10 nominal GFLOPS (missing when 0),
// GPU present; log10 batch; log10 of the unadapted roofline point. Throws fleetml::Error on a
// malformed calibration or batch < 1.
std::vector<float> features(const model::ModelProfile& model, const v1::Capability& capability,
                            int batch);

// Chosen a priori for a few hundred rows (shallow trees, shrinkage, L2), not tuned.
struct LearnedOptions {
  int rounds = 200;
  int max_depth = 3;
  double eta = 0.1;
  double min_child_weight = 2;
  double lambda = 1;
  // Bound: bound_log_margin() (roofline.h: split-conformal `quantile`) of log(p95 /
  // prediction) over out-of-fold predictions of the training rows (models split into `folds`
  // groups).
  int folds = 5;
  double quantile = 0.95;
  RooflineOptions roofline;
};

// A trained regressor. Immutable once trained or loaded; predictions are serialized
// internally, so one instance may be shared between threads.
class LearnedModel {
 public:
  // Trains on `samples` (models attached; target log p50). Throws fleetml::Error when there
  // are no samples, a sample has no model, or XGBoost fails.
  static std::shared_ptr<const LearnedModel> train(std::span<const Sample> samples,
                                                   const LearnedOptions& options = {});
  // Loads what to_bytes() produced. Throws fleetml::Error on anything else.
  static std::shared_ptr<const LearnedModel> from_bytes(std::string_view bytes);
  // The model, its bound margin and counts, self-contained (the coordinator stores it as a
  // blob).
  std::string to_bytes() const;

  // Predicted median latency of one call, ms.
  double predict_ms(const model::ModelProfile& model, const v1::Capability& capability,
                    int batch) const;
  double bound_log_margin() const { return margin_; }
  int samples() const { return samples_; }
  int models() const { return models_; }

  ~LearnedModel();
  LearnedModel(const LearnedModel&) = delete;
  LearnedModel& operator=(const LearnedModel&) = delete;

  struct Booster;  // opaque: the XGBoost handle

 private:
  LearnedModel(std::unique_ptr<Booster> booster, double margin, int samples, int models);

  std::unique_ptr<Booster> booster_;
  double margin_ = 0;
  int samples_ = 0;
  int models_ = 0;
};

class LearnedEstimator : public Estimator {
 public:
  // Throws fleetml::Error when `model` is null.
  explicit LearnedEstimator(std::shared_ptr<const LearnedModel> model);
  std::string name() const override { return "learned"; }
  Estimate estimate(const Query& query) const override;

 private:
  std::shared_ptr<const LearnedModel> model_;
};

}  // namespace fleetml::estimation
