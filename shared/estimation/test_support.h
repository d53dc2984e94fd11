#pragma once

// Synthetic models and devices for the estimation tests (test-only header).

#include <string>

#include "schemas/fleet.pb.h"
#include "shared/model/model_profile.h"

namespace fleetml::estimation::testing {

// A convolution layer with consistent MACs, weights and bytes moved (float32, batch 1,
// "same" padding, stride 1).
inline model::Layer conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t size,
                         std::int64_t groups = 1) {
  model::Layer l;
  l.op = std::string(groups > 1 && groups == in ? model::op::kDepthwiseConv : model::op::kConv);
  l.aten = "aten::conv2d";
  l.input_shapes = {{1, in, size, size}, {out, in / groups, k, k}};
  l.output_shape = {1, out, size, size};
  l.macs = out * size * size * (in / groups) * k * k;
  l.param_bytes = out * (in / groups) * k * k * 4;
  l.bytes_moved = (in + out) * size * size * 4 + l.param_bytes;
  l.in_channels = in;
  l.out_channels = out;
  l.kernel_h = l.kernel_w = k;
  l.stride = 1;
  l.groups = groups;
  return l;
}

// A memory-bound layer of `op` kind over a [1, c, size, size] tensor (reads it, writes one).
inline model::Layer memory(std::string_view op, std::int64_t c, std::int64_t size) {
  model::Layer l;
  l.op = std::string(op);
  l.aten = "aten::" + std::string(op);
  l.input_shapes = {{1, c, size, size}};
  l.output_shape = {1, c, size, size};
  l.bytes_moved = 2 * c * size * size * 4;
  return l;
}

inline model::Layer linear(std::int64_t in, std::int64_t out) {
  model::Layer l;
  l.op = std::string(model::op::kLinear);
  l.aten = "aten::linear";
  l.input_shapes = {{1, in}, {out, in}, {out}};
  l.output_shape = {1, out};
  l.macs = in * out;
  l.param_bytes = (in * out + out) * 4;
  l.bytes_moved = (in + out) * 4 + l.param_bytes;
  return l;
}

// Fills the profile totals from its layers.
inline model::ModelProfile finish(std::string name, std::vector<model::Layer> layers) {
  model::ModelProfile p;
  p.name = std::move(name);
  p.input_shape = {1, 3, 32, 32};
  p.layers = std::move(layers);
  for (const model::Layer& l : p.layers) {
    p.macs += l.macs;
    p.param_bytes += l.param_bytes;
    p.depth +=
        l.op == model::op::kConv || l.op == model::op::kDepthwiseConv || l.op == model::op::kLinear;
    p.peak_activation_bytes = std::max(p.peak_activation_bytes, l.bytes_moved - l.param_bytes);
  }
  p.flops = 2 * p.macs;
  p.params = p.param_bytes / 4;
  p.size_bytes = p.param_bytes + 4096;
  return p;
}

// A family of structurally different CNNs: `variant` changes depth, width and the mix of
// dense, pointwise and depthwise convolutions and of memory-bound layers.
inline model::ModelProfile cnn(int variant) {
  const std::int64_t width = 16 << (variant % 3);
  const std::int64_t size = 56 >> (variant % 2);
  std::vector<model::Layer> layers = {conv(3, width, 3, size),
                                      memory(model::op::kBatchNorm, width, size),
                                      memory(model::op::kActivation, width, size)};
  for (int block = 0; block < 2 + variant % 4; ++block) {
    if ((variant + block) % 3 == 0) {
      layers.push_back(conv(width, width, 1, size));
      layers.push_back(conv(width, width, 3, size, width));
      layers.push_back(memory(model::op::kActivation, width, size));
    } else {
      layers.push_back(conv(width, width, 3, size));
      layers.push_back(memory(model::op::kBatchNorm, width, size));
    }
    layers.push_back(memory(model::op::kElementwise, width, size));
  }
  layers.push_back(memory(model::op::kPool, width, size / 7));
  layers.push_back(linear(width * 49, 100 + 50 * variant));
  return finish("cnn" + std::to_string(variant), std::move(layers));
}

// A device with round calibration figures.
inline v1::Capability device(double scale = 1.0, int threads = 1, bool optimized = true,
                             std::string profile = "test") {
  v1::Capability cap;
  v1::Device& d = *cap.mutable_device();
  d.set_arch("x86_64");
  d.set_cpu_model("Test CPU");
  d.set_cores(4);
  d.set_clock_ghz(2.0);
  d.set_ram_gb(8);
  d.set_nominal_gflops(200 * scale);
  d.set_runtime("libtorch-1.13.1");
  d.set_threads(threads);
  d.set_optimized(optimized);
  d.set_profile(std::move(profile));
  v1::Calibration& c = *cap.mutable_calibration();
  c.set_threads(threads);
  c.set_optimized(optimized);
  c.set_gemm_gflops(100 * scale);
  c.set_conv_gflops(100 * scale);
  c.set_pointwise_conv_gflops(80 * scale);
  c.set_depthwise_conv_gflops(10 * scale);
  c.set_linear_gflops(5 * scale);
  c.set_memory_bandwidth_gbps(10 * scale);
  c.set_op_overhead_us(10 / scale);
  return cap;
}

}  // namespace fleetml::estimation::testing
