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

// Where x sits on the log scale between x0 and x1: 0 at or below x0, 1 at or above x1.
double log_position(double x, double x0, double x1) {
  return std::clamp(std::log(x / x0) / std::log(x1 / x0), 0.0, 1.0);
}

// The rate at `position` (log_position) on the line between log rates log_y0 and log_y1.
double log_interpolated(double position, double log_y0, double log_y1) {
  return std::exp(log_y0 + position * (log_y1 - log_y0));
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

}  // namespace

struct RooflineModel::Call {
  explicit Call(const model::Layer& l)
      : kind(kind_of(l)),
        batch_norm(l.op == op::kBatchNorm),
        foldable(l.op == op::kBatchNorm || l.op == op::kActivation),
        pool(l.op == op::kPool),
        weights(static_cast<double>(l.param_bytes)),
        activations(std::max(0.0, static_cast<double>(l.bytes_moved) - weights)),
        macs(static_cast<double>(l.macs)),
        flops(2.0 * macs),
        unstrided_one_by_one(l.stride <= 1 && l.kernel_h == 1 && l.kernel_w == 1),
        grouped_or_large(l.groups > 1 || (l.kernel_h > 3 && l.kernel_w > 3)),
        pool_elements(pool ? pool_window_elements(l) : 0.0) {
    if (model::is_conv(kind) || kind == Kind::kMatmul) {  // what add_call prices by geometry
      macs_per_output = macs / static_cast<double>(
                                   std::max<std::int64_t>(model::element_count(l.output_shape), 1));
      inputs = l.input_shapes.empty()
                   ? 0.0
                   : static_cast<double>(model::element_count(l.input_shapes.front()));
    }
    if (kind == Kind::kGrouped) {
      // Reduction depth K: between depthwise (K = 9) and dense (K = 576) convolutions.
      const double groups = static_cast<double>(std::max<std::int64_t>(l.groups, 1));
      const double reduction = static_cast<double>(std::max<std::int64_t>(l.in_channels, 1)) /
                               groups * static_cast<double>(std::max<std::int64_t>(l.kernel_h, 1)) *
                               static_cast<double>(std::max<std::int64_t>(l.kernel_w, 1));
      rate_position = log_position(reduction, kDepthwiseReduction, kDenseReduction);
    } else if (kind == Kind::kLinear) {
      rate_position = log_position(static_cast<double>(std::max<std::int64_t>(l.macs, 1)),
                                   static_cast<double>(k::kLinearMacs),
                                   static_cast<double>(k::kLinearStreamMacs));
    }
  }

  Kind kind;
  bool batch_norm;  // folds into a preceding convolution (plain graph, optimized mode)
  bool foldable;    // batch norm or activation: fuses with a preceding convolution
  bool pool;
  double weights;      // bytes
  double activations;  // bytes moved besides the weights
  double macs;         // batch 1
  double flops;        // 2 x macs
  // Convolutions and matmuls only (0 for other calls):
  double macs_per_output = 0;  // K, the reduction behind each output element
  double inputs = 0;           // elements of the first input, batch 1
  // ConvParams::use_mkldnn's geometry (runs_on_onednn).
  bool unstrided_one_by_one;
  bool grouped_or_large;
  double pool_elements;  // window elements walked (pools)
  // Grouped convolution: log_position of its reduction depth between the depthwise and dense
  // kernels'. Linear layer: of its weight count between the linear and streamed kernels'.
  double rate_position = 0;
};

RooflineModel::RooflineModel(const model::ModelProfile& model) {
  layers_.reserve(model.layers.size());
  for (const model::Layer& l : model.layers) layers_.emplace_back(l);
  if (!model.optimized.layers.empty()) {
    optimized_arch_ = model.optimized.arch;
    model::for_each_optimized_call(model,
                                   [&](const model::Layer& l) { optimized_.emplace_back(l); });
  }
}

RooflineModel::~RooflineModel() = default;
RooflineModel::RooflineModel(const RooflineModel&) = default;
RooflineModel::RooflineModel(RooflineModel&&) noexcept = default;
RooflineModel& RooflineModel::operator=(const RooflineModel&) = default;
RooflineModel& RooflineModel::operator=(RooflineModel&&) noexcept = default;

namespace {

using Call = RooflineModel::Call;

// Rates of a calibration, with the logs the per-layer interpolations need.
struct PricedRates : Rates {
  explicit PricedRates(const Rates& r)
      : Rates(r),
        log_conv(std::log(r.conv)),
        log_depthwise(std::log(r.depthwise)),
        log_linear(std::log(r.linear)),
        log_linear_stream(r.linear_stream > 0 ? std::log(r.linear_stream) : 0.0) {}
  double log_conv, log_depthwise, log_linear, log_linear_stream;
};

// Whether LibTorch 1.13 runs this convolution on oneDNN. Optimized: always
// (optimize_for_inference prepacks every convolution for it). Plain: ConvParams::use_mkldnn's
// rule for float32 CPU tensors (aten/src/ATen/native/Convolution.cpp), which keeps small
// batch-1 convolutions on ATen's own kernels and, at one thread, unstrided 1x1 ones too
// ("MKLDNN is faster than THNN when multi-threaded").
bool runs_on_onednn(const Call& l, const CallContext& call) {
  if (call.optimized) return true;
  return (!l.unstrided_one_by_one || call.batch >= 16 || call.threads > 1) &&
         (l.grouped_or_large || call.batch > 1 || l.inputs * call.batch > 20480);
}

// Grouped convolutions: between depthwise (K = 9) and dense (K = 576) by reduction depth K,
// in log rate over log K.
double grouped_rate(const Call& l, const PricedRates& r) {
  return log_interpolated(l.rate_position, r.log_depthwise, r.log_conv);
}

// Batch-1 rate of a fully connected layer: the linear kernel's up to its 8 MB of weights, the
// streamed kernel's from its 128 MiB on, and between the two by weight count (how much of a
// layer stays cached between calls falls with its size; the two kernels bracket the
// last-level caches of the devices fleetml targets). Without the streamed kernel, the linear
// kernel's at any size.
double linear_rate(const Call& l, const PricedRates& r) {
  if (r.linear_stream <= 0) return r.linear;
  return log_interpolated(l.rate_position, r.log_linear, r.log_linear_stream);
}

// Adds one operator call's costs to `t`.
void add_call(RooflineTerms& t, const Call& l, const PricedRates& r, const CallContext& call,
              const RooflineOptions& options) {
  const double b = call.batch;
  const Kind kind = l.kind;
  ++t.ops;
  t[Term::kOpOverhead] += r.overhead_s * 1e3;
  if (kind == Kind::kView) return;

  // A linear layer's weight streaming is what linear_gflops measured: only its activations
  // count against the bandwidth.
  const double memory_s =
      (l.activations * b + (kind == Kind::kLinear ? 0.0 : l.weights)) / r.bandwidth;
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
    compute_s = l.flops * b / rate;
    t[Term::kSmallLayer] += 2.0 * l.macs_per_output * options.parallel_half_outputs / rate * 1e3;
    // A convolution on oneDNN costs what the calibration's tiny one did beyond its dispatch
    // (counted in kOpOverhead); elsewhere, or without that kernel, the a priori price.
    t[Term::kLayerOverhead] += (r.conv_call_s > 0 && model::is_conv(kind) && runs_on_onednn(l, call)
                                    ? std::max(r.conv_call_s - r.overhead_s, 0.0)
                                    : options.layer_overhead_ops * r.overhead_s) *
                               1e3;
  } else if (kind == Kind::kLinear) {
    compute_s = std::max(l.flops / linear_rate(l, r), l.flops * b / r.gemm);
  } else if (l.pool && r.pool > 0) {
    compute_s = l.pool_elements * b / r.pool;
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

RooflineTerms roofline_terms(const RooflineModel& model, const v1::Capability& capability,
                             int batch, const RooflineOptions& options) {
  check_batch("roofline", batch);
  const v1::Calibration& c = capability.calibration();
  const PricedRates r(rates_of(c));
  const CallContext call{static_cast<double>(batch), static_cast<int>(c.threads()), c.optimized()};
  RooflineTerms t;
  if (c.optimized() && !model.optimized_.empty() &&
      model.optimized_arch_ == capability.device().arch()) {
    t.exact_graph = true;
    for (const Call& l : model.optimized_) add_call(t, l, r, call, options);
  } else {
    bool after_conv = false;  // the previous costed layer was a conv (or a BN folded into one)
    for (const Call& l : model.layers_) {
      if (c.optimized() && after_conv && l.foldable) {
        ++t.fused;
        after_conv = l.batch_norm;  // conv -> BN -> activation fuses both
        continue;
      }
      after_conv = model::is_conv(l.kind);
      add_call(t, l, r, call, options);
    }
  }
  t[Term::kCallOverhead] = options.call_overhead_ops * r.overhead_s * 1e3;
  return t;
}

RooflineTerms roofline_terms(const model::ModelProfile& model, const v1::Capability& capability,
                             int batch, const RooflineOptions& options) {
  return roofline_terms(RooflineModel(model), capability, batch, options);
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
  return estimate_with(query, RooflineModel(query.model), c);
}

Estimate RooflineEstimator::estimate_with(const Query& query, const RooflineModel& model,
                                          const DeviceCorrections* corrections,
                                          bool with_basis) const {
  const RooflineTerms terms = roofline_terms(model, query.capability, query.batch, options_);
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
