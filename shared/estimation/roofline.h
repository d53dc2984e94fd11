#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shared/estimation/estimator.h"

namespace fleetml::estimation {

class CorrectionTable;
struct DeviceCorrections;

// The parts a roofline prediction is the sum of; per-device adaptation scales each by its own
// factor (adaptation.h).
enum class Term : std::size_t {
  kConv,           // dense k x k and grouped convolutions, weightless matmul (compute-bound)
  kPointwise,      // dense 1 x 1 convolutions (compute-bound)
  kDepthwise,      // depthwise convolutions (compute-bound)
  kLinear,         // fully connected layers (weight streaming at batch 1, GEMM at large batch)
  kMemory,         // memory-bound work: BN, activations, adds, pools, concat, memory-bound convs
  kOpOverhead,     // dispatch cost of every operator call
  kCallOverhead,   // fixed cost of one forward() call
  kLayerOverhead,  // setup cost of every convolution / matmul call beyond a plain dispatch
  kSmallLayer,     // what a convolution / matmul loses to having too few outputs to fill its tiles
  kPool,           // pooling windows walked element by element (when that, not memory, binds)
};
inline constexpr std::size_t kTermCount = 10;
// "conv", "pointwise", ..., "call_overhead", "layer_overhead", "small_layer", "pool"
std::string_view term_name(Term term);

// One forward() call's predicted time, split by Term, in ms.
struct RooflineTerms {
  std::array<double, kTermCount> ms{};
  int ops = 0;               // operator calls costed
  int fused = 0;             // BN/activation folded into the preceding convolution (folding rules)
  bool exact_graph = false;  // optimized mode costed on the recorded optimized graph

  double total_ms() const;
  double& operator[](Term t) { return ms[static_cast<std::size_t>(t)]; }
  double operator[](Term t) const { return ms[static_cast<std::size_t>(t)]; }
};

// Fixed a priori (docs/estimation.md gives the reasoning); nothing here is fitted.
struct RooflineOptions {
  // A forward() call (interpreter entry, input and output handling) costs as much as this
  // many operator dispatches of the calibration's op_overhead_us.
  double call_overhead_ops = 50;
  // A convolution or matmul call the calibration's conv_call_us does not price (not on
  // oneDNN, or an older calibration) costs at least one more dispatch of op_overhead_us than
  // the calibration's 1-element add (output allocation, weight layout checks, the thread
  // pool's fork and join). How much more varies widely between runtimes and CPUs, so
  // adaptation's prior on this term is wide (AdaptationOptions).
  double layer_overhead_ops = 1;
  // A kernel reaches its calibrated rate only with enough output elements per call to fill
  // every thread's tiles: with P outputs it runs at about P / (P + parallel_half_outputs) of it,
  // i.e. it pays for parallel_half_outputs extra outputs per call whatever the batch (the
  // calibration kernels have ~200 000 outputs, where this is 1%).
  double parallel_half_outputs = 2000;
  // The bound: point x exp(margin), bound_log_margin() below (adapted devices add their
  // jitter, adaptation.h). Without measurements the margin
  // is t(quantile, prior_weight) x prior_sigma: the calibration gives the device's rate for
  // every op kind, so what remains is layer geometry, fusion and overheads, taken as ~25% (log
  // sd) a priori.
  double prior_sigma = 0.25;
  double prior_weight = 3;
  double quantile = 0.95;
};

// A model's operator calls with what the roofline prices them by worked out once: cost class,
// FLOPs, bytes, convolution geometry, where a grouped convolution or a linear layer sits between
// its two calibrated rates. The coordinator's planner estimates every catalog model at every
// re-plan, and deriving these from the characterization's op names and shapes each time was
// most of an estimate's cost (bench/estimate_bench.cc). Immutable once built, so one instance
// may serve several threads.
class RooflineModel {
 public:
  // Throws fleetml::Error when a shape of `model` has too many elements.
  explicit RooflineModel(const model::ModelProfile& model);
  ~RooflineModel();
  RooflineModel(const RooflineModel&);
  RooflineModel(RooflineModel&&) noexcept;
  RooflineModel& operator=(const RooflineModel&);
  RooflineModel& operator=(RooflineModel&&) noexcept;

  struct Call;  // one operator call, priced in roofline.cc

 private:
  friend RooflineTerms roofline_terms(const RooflineModel&, const v1::Capability&, int,
                                      const RooflineOptions&);
  std::vector<Call> layers_;     // the profile's layers, in call order
  std::vector<Call> optimized_;  // model::for_each_optimized_call's calls; empty without
  std::string optimized_arch_;
};

// Per-layer roofline of `model` on `capability`'s device with its calibration `c` (rates
// measured in the configuration the model runs in: threads and mode) for one call on `batch`
// samples:
//  - compute: 2 x MACs x batch / rate of the layer's kind: conv_gflops (dense k x k),
//    pointwise_conv_gflops (1 x 1), depthwise_conv_gflops, grouped convs at a rate
//    interpolated in log between depthwise (reduction depth 9) and dense (576, the
//    calibration kernel's) by their reduction depth, gemm_gflops for weightless matmul;
//    linear = max(2 x MACs / linear rate (weights streamed once per call),
//    2 x MACs x batch / gemm_gflops), the linear rate being linear_gflops up to that kernel's
//    weight count, linear_stream_gflops from the streamed kernel's on (when calibrated) and
//    log-interpolated by weight count between the two;
//  - memory: (activation bytes x batch + weight bytes) / memory_bandwidth_gbps (linear layers:
//    activations only, their weight streaming being what linear_gflops measures);
//  - pools, when the calibration has pool_gops: window elements (outputs x kernel area) x
//    batch / pool_gops on the compute side, kPool (a 3 x 3 max pool reads each input 9 times
//    from cache, far slower than streaming it: GoogLeNet's pools are ~20% of its time on
//    this machine); without pool_gops pools are memory traffic only;
//  - layer = max(compute, memory), attributed to the binding side's Term; views and
//    data-free ops (flatten, dropout) cost only their dispatch;
//  - plus op_overhead_us per operator and call_overhead_ops x op_overhead_us per call;
//  - plus, per convolution and weightless matmul (not per linear layer, whose batch-1 cost is
//    what linear_gflops measured): kLayerOverhead, conv_call_us - op_overhead_us for a
//    convolution LibTorch runs on oneDNN when the calibration has conv_call_us (every one in
//    optimized mode; in plain mode ConvParams::use_mkldnn's choice, by geometry, batch and
//    threads), otherwise layer_overhead_ops x op_overhead_us; and kSmallLayer,
//    2 x K x parallel_half_outputs / rate of its kind, K = MACs per output element; neither
//    grows with the batch;
//  - when c.optimized(): the calls the optimized module really makes when the profile has
//    its optimized graph recorded on the device's architecture
//    (model::for_each_optimized_call: oneDNN's layout conversions, unfolded activations and
//    normalizations cost what they move);
//    otherwise folding rules: a batch_norm right after a convolution is folded into it and
//    an activation right after one (or after the folded BN) is fused: both cost nothing.
// Throws fleetml::Error when batch < 1 or a rate in `c` is not positive.
RooflineTerms roofline_terms(const RooflineModel& model, const v1::Capability& capability,
                             int batch, const RooflineOptions& options = {});
// The same for a model priced once for this call.
RooflineTerms roofline_terms(const model::ModelProfile& model, const v1::Capability& capability,
                             int batch, const RooflineOptions& options = {});

// The bound's log margin over the point, from `residuals` = log(p95 / point) of models
// predicted without their own measurements (leave-one-model-out), n of them:
//  - the split-conformal quantile, the ceil((n + 1) x quantile)-th smallest residual: a new
//    model's p95 exceeds point x exp(margin) with probability <= 1 - quantile when models are
//    exchangeable, whatever the residuals' distribution (they are heavy-tailed on shared
//    machines, where a Gaussian margin under-covers);
//  - with too few residuals for that (n + 1 < 1 / (1 - quantile), 19 at 0.95), the larger of
//    the largest residual and the Gaussian margin t(quantile, dof) x s, s pooling
//    `prior_weight` pseudo-residuals of size `prior_sigma` with the residuals' squares
//    (dof = prior_weight + n); with none that is the prior margin.
// Never below 0: the bound is not under the point.
double bound_log_margin(std::vector<double> residuals, const RooflineOptions& options);

// The default estimator. With a CorrectionTable holding corrections for the query's
// device_key, the terms are scaled by that device's fitted factors and the bound is its fitted
// margin and jitter (fit_bound); otherwise the plain roofline with the prior bound.
class RooflineEstimator : public Estimator {
 public:
  explicit RooflineEstimator(std::shared_ptr<const CorrectionTable> corrections = nullptr,
                             RooflineOptions options = {});
  std::string name() const override { return "roofline"; }
  Estimate estimate(const Query& query) const override;

  // The estimate of `query`, its model priced beforehand (`model` = RooflineModel(query.model)),
  // with the given corrections (nullptr: none), whatever the table holds. Without
  // `with_basis`, Estimate::basis is left empty: formatting it costs about as much as a small
  // model's roofline, and the coordinator's planner, which estimates every catalog model at
  // every re-plan, does not read it.
  Estimate estimate_with(const Query& query, const RooflineModel& model,
                         const DeviceCorrections* corrections, bool with_basis = true) const;

 private:
  std::shared_ptr<const CorrectionTable> corrections_;
  RooflineOptions options_;
};

}  // namespace fleetml::estimation
