#pragma once

// Synthetic models and devices for the estimation tests (test-only header).

#include <array>
#include <memory>
#include <string>

#include "schemas/fleet.pb.h"
#include "shared/estimation/adaptation.h"
#include "shared/estimation/samples.h"
#include "shared/model/model_profile.h"
#include "shared/model/test_layers.h"

namespace fleetml::estimation::testing {

using model::testing::conv;
using model::testing::finish;
using model::testing::linear;
using model::testing::memory;

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

// A measurement of cnn(variant) on `cap` whose true time is the roofline's terms scaled by
// `factors`, times `scatter` (p95 = 1.05 x p50): a device that deviates from its calibration
// in a known way.
inline Sample synthetic_sample(int variant, const v1::Capability& cap, int batch,
                               const std::array<double, kTermCount>& factors, double scatter = 1) {
  Sample s;
  s.model = std::make_shared<model::ModelProfile>(cnn(variant));
  s.model_id = s.model->name;
  s.input_shape = s.model->input_shape;
  s.capability = cap;
  s.batch = batch;
  DeviceCorrections c;
  c.factors = factors;
  s.p50_ms = corrected_ms(roofline_terms(*s.model, cap, batch), c) * scatter;
  s.p95_ms = 1.05 * s.p50_ms;
  return s;
}

}  // namespace fleetml::estimation::testing
