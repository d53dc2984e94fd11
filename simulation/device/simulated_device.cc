#include "simulation/device/simulated_device.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "shared/common/error.h"
#include "shared/model/calibration_kernels.h"

namespace fleetml::sim {
namespace {

namespace op = model::op;

using Kind = model::CostClass;
using model::is_conv;

double base_efficiency(const OpEfficiency& e, Kind k) {
  switch (k) {
    case Kind::kConv:
      return e.conv;
    case Kind::kPointwise:
      return e.pointwise_conv;
    case Kind::kGrouped:
      return e.grouped_conv;
    case Kind::kDepthwise:
      return e.depthwise_conv;
    case Kind::kLinear:
      return e.linear;
    case Kind::kMatmul:
      return e.matmul;
    case Kind::kMemory:
    case Kind::kView:
      break;
  }
  return 0;
}

double saturation(double x, double half) { return half <= 0 ? 1.0 : x / (x + half); }

double last_dim(const model::Shape& s) { return s.empty() ? 1.0 : static_cast<double>(s.back()); }

double output_elements(const model::Layer& l) {
  return l.output_shape.empty() ? 1.0 : static_cast<double>(model::element_count(l.output_shape));
}

// Reduction depth and output channels of a compute layer, from its geometry.
std::pair<double, double> reduction_and_channels(const model::Layer& l, Kind k) {
  const auto macs = static_cast<double>(l.macs);
  if (is_conv(k)) {
    const double groups = static_cast<double>(std::max<std::int64_t>(l.groups, 1));
    const double in = l.in_channels > 0 ? static_cast<double>(l.in_channels) : groups;
    return {in / groups * static_cast<double>(std::max<std::int64_t>(l.kernel_h, 1)) *
                static_cast<double>(std::max<std::int64_t>(l.kernel_w, 1)),
            static_cast<double>(std::max<std::int64_t>(l.out_channels, 1))};
  }
  const double n = std::max(last_dim(l.output_shape), 1.0);
  return {std::max(macs / output_elements(l), 1.0), n};
}

// The linear calibration kernels as layers.
model::Layer linear_layer(std::int64_t in, std::int64_t out) {
  model::Layer l;
  l.op = std::string(op::kLinear);
  l.input_shapes = {{1, in}};
  l.output_shape = {1, out};
  l.macs = in * out;
  l.param_bytes = (in * out + out) * 4;
  l.bytes_moved = (in + out) * 4 + l.param_bytes;
  return l;
}

// One calibration kernel as a layer, so the truth times it exactly like a model's layer.
model::Layer conv_layer(std::string_view kind, std::int64_t in, std::int64_t out, std::int64_t k,
                        std::int64_t size, std::int64_t groups, std::int64_t macs) {
  model::Layer l;
  l.op = std::string(kind);
  l.input_shapes = {{1, in, size, size}};
  l.output_shape = {1, out, size, size};
  l.macs = macs;
  l.param_bytes = out * (in / groups) * k * k * 4 + out * 4;
  l.bytes_moved = (in + out) * size * size * 4 + l.param_bytes;
  l.in_channels = in;
  l.out_channels = out;
  l.kernel_h = l.kernel_w = k;
  l.stride = 1;
  l.groups = groups;
  return l;
}

}  // namespace

SimulatedDevice::SimulatedDevice(DeviceProfile profile)
    : SimulatedDevice(profile, profile.device.optimized()) {}

SimulatedDevice::SimulatedDevice(DeviceProfile profile, bool optimized)
    : profile_(std::move(profile)), optimized_(optimized) {}

const ModeTruth& SimulatedDevice::mode() const {
  return optimized_ ? profile_.truth.optimized : profile_.truth.plain;
}

v1::Device SimulatedDevice::device() const {
  v1::Device d = profile_.device;
  d.set_profile(profile_.name);
  d.set_optimized(optimized_);
  return d;
}

double SimulatedDevice::layer_seconds(const model::Layer& l, int batch) const {
  const TruthModel& t = profile_.truth;
  const ModeTruth& m = mode();
  const double overhead_s = m.op_overhead_us * 1e-6;
  const Kind kind = model::cost_class(l);
  if (kind == Kind::kView) return 0.5 * overhead_s;  // a view moves no data

  const double b = static_cast<double>(batch);
  const auto weights = static_cast<double>(l.param_bytes);
  const double activations = std::max(0.0, static_cast<double>(l.bytes_moved) - weights) * b;
  const double bytes = activations + weights;
  // Share of the working set served from cache, and the bandwidth that gives. Kernels walk a
  // batch one sample at a time, so the working set is one sample's activations + weights.
  const double working_set = activations / b + weights;
  const double in_cache = working_set > 0 ? std::min(1.0, t.cache_mb * 1e6 / working_set) : 1.0;
  const double gbps = 1.0 / (in_cache / t.cache_gbps + (1.0 - in_cache) / t.dram_gbps);
  const double memory_s = bytes / (gbps * 1e9);

  double compute_s = 0;
  if (kind != Kind::kMemory && l.macs > 0) {
    const auto [reduction, channels] = reduction_and_channels(l, kind);
    const double efficiency =
        base_efficiency(m.efficiency, kind) * saturation(reduction, t.reduction_half) *
        saturation(channels, t.channel_half) * saturation(output_elements(l) * b, t.parallel_half) *
        (1.0 - t.cache_penalty * (1.0 - in_cache));
    compute_s = 2.0 * static_cast<double>(l.macs) * b / (t.peak_gflops * 1e9 * efficiency);
  }
  const double p = t.overlap_exponent;
  return std::pow(std::pow(compute_s, p) + std::pow(memory_s, p), 1.0 / p) + overhead_s;
}

double SimulatedDevice::memory_slowdown(const model::ModelProfile& model, int batch) const {
  const double over = peak_memory_mb(model, batch) / profile_.truth.usable_memory_mb;
  return over > 1 ? 1 + profile_.truth.thrash_factor * (over - 1) : 1.0;
}

double SimulatedDevice::expected_latency_ms(const model::ModelProfile& model, int batch) const {
  if (batch < 1) throw Error("simulated " + profile_.name + ": batch must be >= 1");
  const ModeTruth& m = mode();
  double seconds = m.call_overhead_ms * 1e-3;
  // An optimized runtime of the characterizing machine's architecture runs the recorded
  // optimized graph, each call as it is; elsewhere the profile's folding rules apply.
  if (optimized_ && model::has_optimized_graph(model, profile_.device.arch())) {
    model::for_each_optimized_call(
        model, [&](const model::Layer& l) { seconds += layer_seconds(l, batch); });
    return seconds * 1e3 * memory_slowdown(model, batch);
  }
  bool after_conv = false;  // the previous costed layer was a conv (or BN folded into one)
  for (const model::Layer& l : model.layers) {
    const Kind kind = model::cost_class(l);
    if (after_conv && m.fold_batch_norm && l.op == op::kBatchNorm) continue;
    if (after_conv && m.fuse_activation && l.op == op::kActivation) {
      after_conv = false;
      continue;
    }
    seconds += layer_seconds(l, batch);
    after_conv = is_conv(kind);
  }
  return seconds * 1e3 * memory_slowdown(model, batch);
}

double SimulatedDevice::latency_ms(const model::ModelProfile& model, int batch, Rng& rng) const {
  std::normal_distribution<double> z(0.0, 1.0);
  return expected_latency_ms(model, batch) * std::exp(profile_.truth.jitter_sigma * z(rng));
}

double SimulatedDevice::peak_memory_mb(const model::ModelProfile& model, int batch) const {
  if (batch < 1) throw Error("simulated " + profile_.name + ": batch must be >= 1");
  const TruthModel& t = profile_.truth;
  auto activation = static_cast<double>(model.peak_activation_bytes);
  if (activation <= 0) {
    for (const model::Layer& l : model.layers) {
      activation = std::max(activation, static_cast<double>(l.bytes_moved - l.param_bytes));
    }
  }
  return t.runtime_mb + t.weight_copies * static_cast<double>(model.param_bytes) / 1e6 +
         t.activation_live_factor * activation * batch / 1e6;
}

v1::Calibration SimulatedDevice::calibration(Rng& rng) const {
  namespace k = model::calibration_kernels;
  // Median of ~25 repeats: the jitter of the median is about a fifth of one run's.
  std::normal_distribution<double> z(0.0, profile_.truth.jitter_sigma / 5);
  double busy_s = 0;
  auto measure = [&](const model::Layer& layer) {
    const double s = layer_seconds(layer, 1) * std::exp(z(rng));
    busy_s += 25 * s;
    return s;
  };
  auto gflops = [&](const model::Layer& layer) {
    return 2.0 * static_cast<double>(layer.macs) / measure(layer) / 1e9;
  };

  model::Layer gemm;
  gemm.op = std::string(op::kMatmul);
  gemm.input_shapes = {{k::kGemmM, k::kGemmK}, {k::kGemmK, k::kGemmN}};
  gemm.output_shape = {k::kGemmM, k::kGemmN};
  gemm.macs = k::kGemmMacs;
  gemm.bytes_moved = (k::kGemmM * k::kGemmK + k::kGemmK * k::kGemmN + k::kGemmM * k::kGemmN) * 4;

  model::Layer add;
  add.op = std::string(op::kElementwise);
  add.input_shapes = {{k::kBandwidthElements}, {k::kBandwidthElements}};
  add.output_shape = {k::kBandwidthElements};
  add.bytes_moved = 3 * 4 * k::kBandwidthElements;

  // The truth prices pooling by its memory traffic alone (no window term).
  model::Layer pool;
  pool.op = std::string(op::kPool);
  pool.input_shapes = {{1, k::kPoolChannels, k::kPoolSize, k::kPoolSize}};
  pool.output_shape = pool.input_shapes.front();
  pool.kernel_h = pool.kernel_w = 3;
  pool.stride = 1;
  pool.bytes_moved = 2 * 4 * k::kPoolChannels * k::kPoolSize * k::kPoolSize;

  model::Layer tiny = add;
  tiny.input_shapes = {{1}, {1}};
  tiny.output_shape = {1};
  tiny.bytes_moved = 12;

  v1::Calibration c;
  c.set_threads(profile_.device.threads());
  c.set_optimized(optimized_);
  c.set_gemm_gflops(gflops(gemm));
  c.set_conv_gflops(gflops(
      conv_layer(op::kConv, k::kConvChannels, k::kConvChannels, 3, k::kConvSize, 1, k::kConvMacs)));
  c.set_pointwise_conv_gflops(gflops(conv_layer(op::kConv, k::kPointwiseIn, k::kPointwiseOut, 1,
                                                k::kPointwiseSize, 1, k::kPointwiseMacs)));
  c.set_depthwise_conv_gflops(
      gflops(conv_layer(op::kDepthwiseConv, k::kDepthwiseChannels, k::kDepthwiseChannels, 3,
                        k::kDepthwiseSize, k::kDepthwiseChannels, k::kDepthwiseMacs)));
  c.set_linear_gflops(gflops(linear_layer(k::kLinearIn, k::kLinearOut)));
  c.set_linear_stream_gflops(gflops(linear_layer(k::kLinearStreamIn, k::kLinearStreamOut)));
  c.set_memory_bandwidth_gbps(static_cast<double>(add.bytes_moved) / measure(add) / 1e9);
  c.set_op_overhead_us(measure(tiny) * 1e6);
  c.set_pool_gops(static_cast<double>(k::kPoolWindowElements) / measure(pool) / 1e9);
  c.set_conv_call_us(
      measure(conv_layer(op::kDepthwiseConv, k::kConvCallChannels, k::kConvCallChannels, 3,
                         k::kConvCallSize, k::kConvCallChannels, k::kConvCallMacs)) *
      1e6);
  c.set_duration_s(busy_s + 2.0);  // plus warm-up and set-up
  c.set_source("simulated:" + profile_.name);
  return c;
}

v1::Measurement SimulatedDevice::measure(const model::ModelProfile& model, int batch, int repeats,
                                         Rng& rng) const {
  if (repeats < 1) throw Error("repeats must be >= 1");
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) ms.push_back(latency_ms(model, batch, rng));
  std::sort(ms.begin(), ms.end());
  const auto pct = [&](double q) {
    const double pos = q * static_cast<double>(ms.size() - 1);
    const std::size_t lo = static_cast<std::size_t>(pos);
    const std::size_t hi = std::min(lo + 1, ms.size() - 1);
    return ms[lo] + (ms[hi] - ms[lo]) * (pos - static_cast<double>(lo));
  };
  v1::Measurement m;
  m.set_batch(static_cast<std::uint32_t>(batch));
  m.set_repeats(static_cast<std::uint32_t>(repeats));
  m.set_p50_ms(pct(0.5));
  m.set_p95_ms(pct(0.95));
  m.set_mean_ms(std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size()));
  m.set_peak_rss_mb(peak_memory_mb(model, batch));
  m.set_threads(device().threads());
  m.set_optimized(optimized_);
  return m;
}

}  // namespace fleetml::sim
