#pragma once

// Layers and models built like the characterization builds them (batch 1, float32: MACs,
// weights, bytes moved consistent), for tests of whatever prices a ModelProfile: the
// estimators and the simulator's truth model (test-only header).

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "shared/model/model_profile.h"

namespace fleetml::model::testing {

// A convolution layer with consistent MACs, weights and bytes moved (float32, batch 1,
// "same" padding, stride 1).
inline Layer conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t size,
                  std::int64_t groups = 1) {
  Layer l;
  l.op = std::string(groups > 1 && groups == in ? op::kDepthwiseConv : op::kConv);
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
inline Layer memory(std::string_view op, std::int64_t c, std::int64_t size) {
  Layer l;
  l.op = std::string(op);
  l.aten = "aten::" + std::string(op);
  l.input_shapes = {{1, c, size, size}};
  l.output_shape = {1, c, size, size};
  l.bytes_moved = 2 * c * size * size * 4;
  return l;
}

inline Layer linear(std::int64_t in, std::int64_t out) {
  Layer l;
  l.op = std::string(op::kLinear);
  l.aten = "aten::linear";
  l.input_shapes = {{1, in}, {out, in}, {out}};
  l.output_shape = {1, out};
  l.macs = in * out;
  l.param_bytes = (in * out + out) * 4;
  l.bytes_moved = (in + out) * 4 + l.param_bytes;
  return l;
}

// Fills the profile totals from its layers.
inline ModelProfile finish(std::string name, std::vector<Layer> layers) {
  ModelProfile p;
  p.name = std::move(name);
  p.input_shape = {1, 3, 32, 32};
  p.layers = std::move(layers);
  for (const Layer& l : p.layers) {
    p.macs += l.macs;
    p.param_bytes += l.param_bytes;
    p.depth += l.op == op::kConv || l.op == op::kDepthwiseConv || l.op == op::kLinear;
    p.peak_activation_bytes = std::max(p.peak_activation_bytes, l.bytes_moved - l.param_bytes);
  }
  p.flops = 2 * p.macs;
  p.params = p.param_bytes / 4;
  p.size_bytes = p.param_bytes + 4096;
  return p;
}

}  // namespace fleetml::model::testing
