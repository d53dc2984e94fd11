#include "shared/estimation/roofline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "shared/estimation/adaptation.h"
#include "shared/estimation/stats.h"
#include "shared/model/calibration_kernels.h"

namespace fleetml::estimation {
namespace {

namespace op = model::op;
namespace k = model::calibration_kernels;

// Reduction depths of the calibration's depthwise and dense 3x3 kernels: the two ends of the
// rate interpolation for grouped convolutions.
constexpr double kDepthwiseReduction = 9;
constexpr double kDenseReduction = k::kConvChannels * 9;

using Kind = model::CostClass;

// model::cost_class, with data-free memory operators (nothing moved) priced like views.
Kind kind_of(const model::Layer& l) {
  const Kind kind = model::cost_class(l);
  return kind == Kind::kMemory && l.bytes_moved == 0 ? Kind::kView : kind;
}

double positive_rate(double v, const char* name) {
  if (!(v > 0) || !std::isfinite(v)) {
    throw Error(std::string("roofline: calibration ") + name + " must be > 0, got " +
                std::to_string(v));
  }
  return v;
}

// A kernel calibrations may lack (measured later than the others): 0 when absent.
double optional_rate(double v) { return v > 0 && std::isfinite(v) ? v : 0.0; }

struct Rates {
  double conv, pointwise, depthwise, linear, gemm, bandwidth, overhead_s;
  double pool;           // window elements per second; 0: not calibrated
  double conv_call_s;    // one oneDNN convolution call; 0: not calibrated
  double linear_stream;  // FLOPS of a linear layer too large to stay cached; 0: not calibrated
};

Rates rates_of(const v1::Calibration& c) {
  return {positive_rate(c.conv_gflops(), "conv_gflops") * 1e9,
          positive_rate(c.pointwise_conv_gflops(), "pointwise_conv_gflops") * 1e9,
          positive_rate(c.depthwise_conv_gflops(), "depthwise_conv_gflops") * 1e9,
          positive_rate(c.linear_gflops(), "linear_gflops") * 1e9,
          positive_rate(c.gemm_gflops(), "gemm_gflops") * 1e9,
          positive_rate(c.memory_bandwidth_gbps(), "memory_bandwidth_gbps") * 1e9,
          positive_rate(c.op_overhead_us(), "op_overhead_us") * 1e-6,
          optional_rate(c.pool_gops()) * 1e9,
          optional_rate(c.conv_call_us()) * 1e-6,
          optional_rate(c.linear_stream_gflops()) * 1e9};
}

// The call's configuration: what decides which kernel LibTorch runs a convolution on.
struct CallContext {
  double batch;
  int threads;
  bool optimized;
};

// Whether LibTorch 1.13 runs this convolution on oneDNN. Optimized: always
// (optimize_for_inference prepacks every convolution for it). Plain: ConvParams::use_mkldnn's
// rule for float32 CPU tensors (aten/src/ATen/native/Convolution.cpp), which keeps small
// batch-1 convolutions on ATen's own kernels and, at one thread, unstrided 1x1 ones too
// ("MKLDNN is faster than THNN when multi-threaded").
bool runs_on_onednn(const model::Layer& l, const CallContext& call) {
  if (call.optimized) return true;
  const bool one_by_one = l.kernel_h == 1 && l.kernel_w == 1;
  const double inputs = l.input_shapes.empty()
                            ? 0.0
                            : static_cast<double>(model::element_count(l.input_shapes.front()));
  return (l.stride > 1 || call.batch >= 16 || !one_by_one || call.threads > 1) &&
         (l.groups > 1 || (l.kernel_h > 3 && l.kernel_w > 3) || call.batch > 1 ||
          inputs * call.batch > 20480);
}

// The rate at x on the line through (x0, y0) and (x1, y1) in log rate over log x, held at
// y0 below x0 and at y1 above x1.
double log_interpolated(double x, double x0, double y0, double x1, double y1) {
  const double f = std::clamp(std::log(x / x0) / std::log(x1 / x0), 0.0, 1.0);
  return std::exp(std::log(y0) + f * (std::log(y1) - std::log(y0)));
}

// Grouped convolutions: between depthwise (K = 9) and dense (K = 576) by reduction depth K.
double grouped_rate(const model::Layer& l, const Rates& r) {
  const double groups = static_cast<double>(std::max<std::int64_t>(l.groups, 1));
  const double reduction = static_cast<double>(std::max<std::int64_t>(l.in_channels, 1)) / groups *
                           static_cast<double>(std::max<std::int64_t>(l.kernel_h, 1)) *
                           static_cast<double>(std::max<std::int64_t>(l.kernel_w, 1));
  return log_interpolated(reduction, kDepthwiseReduction, r.depthwise, kDenseReduction, r.conv);
}

// Batch-1 rate of a fully connected layer: the linear kernel's up to its 8 MB of weights, the
// streamed kernel's from its 128 MiB on, and between the two by weight count (how much of a
// layer stays cached between calls falls with its size; the two kernels bracket the
// last-level caches of the devices fleetml targets). Without the streamed kernel, the linear
// kernel's at any size.
double linear_rate(const model::Layer& l, const Rates& r) {
  if (r.linear_stream <= 0) return r.linear;
  return log_interpolated(static_cast<double>(std::max<std::int64_t>(l.macs, 1)),
                          static_cast<double>(k::kLinearMacs), r.linear,
                          static_cast<double>(k::kLinearStreamMacs), r.linear_stream);
}

// Input elements each pool output reads, summed over outputs (batch 1).
double pool_window_elements(const model::Layer& l) {
  if (l.kernel_h > 0) {
    return static_cast<double>(model::element_count(l.output_shape)) *
           static_cast<double>(l.kernel_h) *
           static_cast<double>(std::max<std::int64_t>(l.kernel_w, 1));
  }
  // A characterization without the window: each input read once.
  return l.input_shapes.empty() ? 0.0
                                : static_cast<double>(model::element_count(l.input_shapes.front()));
}

// Adds one operator call's costs to `t`.
void add_call(RooflineTerms& t, const model::Layer& l, const Rates& r, const CallContext& call,
              const RooflineOptions& options) {
  const double b = call.batch;
  const Kind kind = kind_of(l);
  ++t.ops;
  t[Term::kOpOverhead] += r.overhead_s * 1e3;
  if (kind == Kind::kView) return;

  const auto weights = static_cast<double>(l.param_bytes);
  const double activations = std::max(0.0, static_cast<double>(l.bytes_moved) - weights);
  // A linear layer's weight streaming is what linear_gflops measured: only its activations
  // count against the bandwidth.
  const double memory_s = (activations * b + (kind == Kind::kLinear ? 0.0 : weights)) / r.bandwidth;
  const double flops = 2.0 * static_cast<double>(l.macs);
  double rate = 0;  // of a convolution or matmul
  Term term = Term::kMemory;
  switch (kind) {
    case Kind::kConv:
      rate = r.conv, term = Term::kConv;
      break;
    case Kind::kGrouped:
      rate = grouped_rate(l, r), term = Term::kConv;
      break;
    case Kind::kMatmul:
      rate = r.gemm, term = Term::kConv;
      break;
    case Kind::kPointwise:
      rate = r.pointwise, term = Term::kPointwise;
      break;
    case Kind::kDepthwise:
      rate = r.depthwise, term = Term::kDepthwise;
      break;
    case Kind::kLinear:
      term = Term::kLinear;
      break;
    case Kind::kMemory:
    case Kind::kView:
      break;
  }
  double compute_s = 0;
  if (rate > 0) {
    compute_s = flops * b / rate;
    const double outputs =
        static_cast<double>(std::max<std::int64_t>(model::element_count(l.output_shape), 1));
    t[Term::kSmallLayer] +=
        2.0 * (static_cast<double>(l.macs) / outputs) * options.parallel_half_outputs / rate * 1e3;
    // A convolution on oneDNN costs what the calibration's tiny one did beyond its dispatch
    // (counted in kOpOverhead); elsewhere, or without that kernel, the a priori price.
    t[Term::kLayerOverhead] += (r.conv_call_s > 0 && model::is_conv(kind) && runs_on_onednn(l, call)
                                    ? std::max(r.conv_call_s - r.overhead_s, 0.0)
                                    : options.layer_overhead_ops * r.overhead_s) *
                               1e3;
  } else if (kind == Kind::kLinear) {
    compute_s = std::max(flops / linear_rate(l, r), flops * b / r.gemm);
  } else if (l.op == op::kPool && r.pool > 0) {
    compute_s = pool_window_elements(l) * b / r.pool;
    term = Term::kPool;
  }
  if (compute_s >= memory_s) {
    t[term] += compute_s * 1e3;
  } else {
    t[Term::kMemory] += memory_s * 1e3;
  }
}

}  // namespace

std::string_view term_name(Term term) {
  switch (term) {
    case Term::kConv:
      return "conv";
    case Term::kPointwise:
      return "pointwise";
    case Term::kDepthwise:
      return "depthwise";
    case Term::kLinear:
      return "linear";
    case Term::kMemory:
      return "memory";
    case Term::kOpOverhead:
      return "op_overhead";
    case Term::kCallOverhead:
      return "call_overhead";
    case Term::kLayerOverhead:
      return "layer_overhead";
    case Term::kSmallLayer:
      return "small_layer";
    case Term::kPool:
      return "pool";
  }
  return "?";
}

double RooflineTerms::total_ms() const {
  double sum = 0;
  for (double v : ms) sum += v;
  return sum;
}

RooflineTerms roofline_terms(const model::ModelProfile& model, const v1::Capability& capability,
                             int batch, const RooflineOptions& options) {
  check_batch("roofline", batch);
  const v1::Calibration& c = capability.calibration();
  const Rates r = rates_of(c);
  const CallContext call{static_cast<double>(batch), static_cast<int>(c.threads()), c.optimized()};
  RooflineTerms t;
  if (c.optimized() && model::has_optimized_graph(model, capability.device().arch())) {
    t.exact_graph = true;
    model::for_each_optimized_call(
        model, [&](const model::Layer& l) { add_call(t, l, r, call, options); });
  } else {
    bool after_conv = false;  // the previous costed layer was a conv (or a BN folded into one)
    for (const model::Layer& l : model.layers) {
      if (c.optimized() && after_conv && (l.op == op::kBatchNorm || l.op == op::kActivation)) {
        ++t.fused;
        after_conv = l.op == op::kBatchNorm;  // conv -> BN -> activation fuses both
        continue;
      }
      after_conv = model::is_conv(kind_of(l));
      add_call(t, l, r, call, options);
    }
  }
  t[Term::kCallOverhead] = options.call_overhead_ops * r.overhead_s * 1e3;
  return t;
}

double bound_log_margin(std::vector<double> residuals, const RooflineOptions& options) {
  const std::size_t n = residuals.size();
  std::sort(residuals.begin(), residuals.end());
  const auto rank = static_cast<std::size_t>(
      std::ceil(static_cast<double>(n + 1) * options.quantile - 1e-9));  // 1-based
  if (n > 0 && rank <= n) return std::max(residuals[rank - 1], 0.0);
  double ss = 0;
  for (double v : residuals) ss += v * v;
  const double dof = options.prior_weight + static_cast<double>(n);
  const double s =
      std::sqrt((options.prior_weight * options.prior_sigma * options.prior_sigma + ss) / dof);
  const double gaussian = student_t_quantile(options.quantile, dof) * s;
  return std::max({gaussian, n > 0 ? residuals.back() : 0.0, 0.0});
}

RooflineEstimator::RooflineEstimator(std::shared_ptr<const CorrectionTable> corrections,
                                     RooflineOptions options)
    : corrections_(std::move(corrections)), options_(options) {}

Estimate RooflineEstimator::estimate(const Query& query) const {
  const DeviceCorrections* c =
      corrections_ ? corrections_->find(device_key(query.capability)) : nullptr;
  return estimate_with(query, c);
}

Estimate RooflineEstimator::estimate_with(const Query& query, const DeviceCorrections* corrections,
                                          bool with_basis) const {
  const RooflineTerms terms = roofline_terms(query.model, query.capability, query.batch, options_);
  const double point = corrections ? corrected_ms(terms, *corrections) : terms.total_ms();
  const BoundShape bound =
      corrections ? corrections->bound : BoundShape{bound_log_margin({}, options_), 0, 0};
  Estimate e{point, bound.bound_ms(point), name(), ""};
  if (!with_basis) return e;
  char ops[64];
  if (terms.exact_graph) {
    std::snprintf(ops, sizeof ops, "%d calls of the optimized graph", terms.ops);
  } else {
    std::snprintf(ops, sizeof ops, "%d ops (%d fused)", terms.ops, terms.fused);
  }
  char basis[384];
  if (corrections) {
    std::snprintf(basis, sizeof basis,
                  "%s against the calibration, adapted to %d measurements of %d models on this "
                  "device kind (held-out error %.0f%% rms; bound x%.2f + %.1f ms tail)",
                  ops, corrections->samples, corrections->models, 100 * corrections->point_rms,
                  std::exp(bound.log_margin), bound.exposed_jitter_ms(point));
  } else {
    std::snprintf(basis, sizeof basis,
                  "%s against the calibration; no measurements on this device kind, prior bound",
                  ops);
  }
  e.basis = basis;
  return e;
}

}  // namespace fleetml::estimation
