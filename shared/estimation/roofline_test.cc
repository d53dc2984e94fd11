#include "shared/estimation/roofline.h"

#include <cmath>
#include <optional>

#include <gtest/gtest.h>

#include "shared/estimation/adaptation.h"
#include "shared/estimation/stats.h"
#include "shared/estimation/test_support.h"

namespace fleetml::estimation {
namespace {

using testing::conv;
using testing::device;
using testing::finish;
using testing::linear;
using testing::memory;

// Calibration of testing::device(): conv 100, pointwise 80, depthwise 10, linear 5, GEMM 100
// GFLOPS, 10 GB/s, 10 us per op; call overhead = 50 ops = 0.5 ms; per convolution one more op
// (0.01 ms) and 2 x K x 2000 / rate for its size.

TEST(Roofline, SingleDenseConvIsComputeBound) {
  // 64 -> 64, 3x3 on 56x56: 115,605,504 MACs; 2 x MACs / 100 GFLOPS = 2.31211 ms. Bytes:
  // 2 x 64 x 56 x 56 x 4 + 147,456 of weights = 1,753,088 -> 0.175 ms at 10 GB/s.
  const model::ModelProfile m = finish("conv", {conv(64, 64, 3, 56)});
  ASSERT_EQ(m.macs, 115'605'504);
  const RooflineTerms t = roofline_terms(m, device(), 1);
  EXPECT_NEAR(t[Term::kConv], 2.31211008, 1e-9);
  EXPECT_DOUBLE_EQ(t[Term::kMemory], 0);
  EXPECT_NEAR(t[Term::kOpOverhead], 0.010, 1e-12);
  EXPECT_NEAR(t[Term::kCallOverhead], 0.5, 1e-12);
  EXPECT_NEAR(t[Term::kLayerOverhead], 0.01, 1e-12);
  // K = 64 x 9 = 576 MACs per output: 2 x 576 x 2000 / 100 GFLOPS = 0.02304 ms.
  EXPECT_NEAR(t[Term::kSmallLayer], 0.02304, 1e-12);
  EXPECT_NEAR(t.total_ms(), 2.85515008, 1e-9);
  EXPECT_EQ(t.ops, 1);
}

TEST(Roofline, PoolsWalkTheirWindowsAtTheCalibratedPoolRate) {
  // 3x3 stride-1 max pool over 64 x 56 x 56: 200,704 outputs x 9 = 1,806,336 window elements,
  // at 1 G/s 1.806336 ms; its memory side is 1,605,632 bytes at 10 GB/s = 0.1605632 ms.
  model::Layer pool = memory(model::op::kPool, 64, 56);
  pool.kernel_h = pool.kernel_w = 3;
  pool.stride = 1;
  const model::ModelProfile m = finish("pool", {pool});
  v1::Capability cap = device();
  v1::Calibration& c = *cap.mutable_calibration();
  c.set_pool_gops(1);
  const RooflineTerms t = roofline_terms(m, cap, 1);
  EXPECT_NEAR(t[Term::kPool], 1.806336, 1e-9);
  EXPECT_DOUBLE_EQ(t[Term::kMemory], 0);
  EXPECT_NEAR(roofline_terms(m, cap, 4)[Term::kPool], 4 * 1.806336, 1e-9);
  // A fast pool rate leaves it memory-bound.
  c.set_pool_gops(100);
  EXPECT_DOUBLE_EQ(roofline_terms(m, cap, 1)[Term::kPool], 0);
  EXPECT_NEAR(roofline_terms(m, cap, 1)[Term::kMemory], 0.1605632, 1e-9);
  // A calibration without the pool kernel (older vehicles): memory traffic only.
  c.clear_pool_gops();
  EXPECT_DOUBLE_EQ(roofline_terms(m, cap, 1)[Term::kPool], 0);
  EXPECT_NEAR(roofline_terms(m, cap, 1)[Term::kMemory], 0.1605632, 1e-9);
}

TEST(Roofline, SmallLayersPayForTheOutputsTheyLack) {
  // The same 64 -> 64 3x3 conv on 7x7 instead of 56x56: 64x fewer outputs and MACs, the same
  // size penalty (0.02304 ms), now 64% on top of its 0.0361 ms of compute instead of 1%.
  const RooflineTerms big = roofline_terms(finish("big", {conv(64, 64, 3, 56)}), device(), 1);
  const RooflineTerms small = roofline_terms(finish("small", {conv(64, 64, 3, 7)}), device(), 1);
  EXPECT_NEAR(small[Term::kConv], big[Term::kConv] / 64, 1e-12);
  EXPECT_DOUBLE_EQ(small[Term::kSmallLayer], big[Term::kSmallLayer]);
  // Neither grows with the batch.
  const RooflineTerms four = roofline_terms(finish("small", {conv(64, 64, 3, 7)}), device(), 4);
  EXPECT_DOUBLE_EQ(four[Term::kSmallLayer], small[Term::kSmallLayer]);
  EXPECT_DOUBLE_EQ(four[Term::kLayerOverhead], small[Term::kLayerOverhead]);
  // Memory-bound layers pay neither.
  const RooflineTerms bn =
      roofline_terms(finish("bn", {memory(model::op::kBatchNorm, 64, 56)}), device(), 1);
  EXPECT_DOUBLE_EQ(bn[Term::kSmallLayer], 0);
  EXPECT_DOUBLE_EQ(bn[Term::kLayerOverhead], 0);
}

TEST(Roofline, PointwiseAndDepthwiseUseTheirOwnRates) {
  // 1x1 128 -> 128 on 28x28: 12,845,056 MACs / 80 GFLOPS = 0.321126 ms.
  const RooflineTerms pw = roofline_terms(finish("pw", {conv(128, 128, 1, 28)}), device(), 1);
  EXPECT_NEAR(pw[Term::kPointwise], 2.0 * 12'845'056 / 80e9 * 1e3, 1e-12);
  // Depthwise 3x3 on 256 x 28 x 28: 1,806,336 MACs / 10 GFLOPS = 0.361 ms, above its memory
  // time (1.61 MB / 10 GB/s = 0.161 ms).
  const RooflineTerms dw = roofline_terms(finish("dw", {conv(256, 256, 3, 28, 256)}), device(), 1);
  EXPECT_NEAR(dw[Term::kDepthwise], 2.0 * 1'806'336 / 10e9 * 1e3, 1e-12);
}

TEST(Roofline, GroupedConvRateIsInterpolatedByReductionDepth) {
  // 8 input channels per group x 3 x 3 = 72 = sqrt(9 x 576): halfway in log between the
  // depthwise (10) and dense (100) rates: sqrt(10 x 100) = 31.62 GFLOPS.
  const model::Layer l = conv(256, 256, 3, 28, 32);
  const RooflineTerms t = roofline_terms(finish("grouped", {l}), device(), 1);
  EXPECT_NEAR(t[Term::kConv], 2.0 * static_cast<double>(l.macs) / (std::sqrt(1000.0) * 1e9) * 1e3,
              1e-9);
}

TEST(Roofline, ConvolutionsOnOneDnnCostTheCalibratedCall) {
  // conv_call_us 40 us: a oneDNN convolution's setup costs 40 - 10 (its dispatch, counted in
  // kOpOverhead) = 0.03 ms; elsewhere one more op, 0.01 ms.
  const auto layer_overhead = [](const model::Layer& l, int threads, bool optimized, int batch) {
    v1::Capability cap = device(1.0, threads, optimized);
    cap.mutable_calibration()->set_conv_call_us(40);
    return roofline_terms(finish("one", {l}), cap, batch)[Term::kLayerOverhead];
  };
  // 1x1 32 -> 32 on 28 x 28: 25,088 inputs, above LibTorch's 20,480 for native kernels.
  const model::Layer pointwise = conv(32, 32, 1, 28);
  EXPECT_NEAR(layer_overhead(pointwise, 1, true, 1), 0.03, 1e-12);    // optimized: prepacked
  EXPECT_NEAR(layer_overhead(pointwise, 1, false, 1), 0.01, 1e-12);   // plain, 1 thread: ATen
  EXPECT_NEAR(layer_overhead(pointwise, 2, false, 1), 0.03, 1e-12);   // plain, 2 threads
  EXPECT_NEAR(layer_overhead(pointwise, 1, false, 16), 0.03, 1e-12);  // plain, batch 16
  // The same on 14 x 14 (6,272 inputs) stays on ATen at any thread count...
  EXPECT_NEAR(layer_overhead(conv(32, 32, 1, 14), 2, false, 1), 0.01, 1e-12);
  // ...but not at batch 4, nor strided at 1 thread, nor depthwise, nor 5x5.
  EXPECT_NEAR(layer_overhead(conv(32, 32, 1, 14), 2, false, 4), 0.03, 1e-12);
  model::Layer strided = conv(32, 32, 1, 28);
  strided.stride = 2;
  EXPECT_NEAR(layer_overhead(strided, 1, false, 1), 0.03, 1e-12);
  EXPECT_NEAR(layer_overhead(conv(16, 16, 3, 8, 16), 1, false, 1), 0.03, 1e-12);
  EXPECT_NEAR(layer_overhead(conv(4, 4, 5, 8), 1, false, 1), 0.03, 1e-12);
  EXPECT_NEAR(layer_overhead(conv(4, 4, 3, 8), 1, false, 1), 0.01, 1e-12);
  // A calibration without the kernel (older vehicles): one more op everywhere.
  EXPECT_NEAR(roofline_terms(finish("one", {pointwise}), device(), 1)[Term::kLayerOverhead], 0.01,
              1e-12);
  // Linear layers are not convolutions: no setup term either way.
  v1::Capability cap = device();
  cap.mutable_calibration()->set_conv_call_us(40);
  EXPECT_DOUBLE_EQ(roofline_terms(finish("fc", {linear(64, 10)}), cap, 1)[Term::kLayerOverhead], 0);
}

TEST(Roofline, LargeLinearLayersStreamAtTheStreamedKernelRate) {
  // linear 5 GFLOPS with its 2048 x 1000 weights, streamed 0.5 GFLOPS with 8192 x 4096: a
  // layer of either size runs at that kernel's rate, smaller and larger ones too, and one
  // halfway in log weights (sqrt(2.048 M x 33.55 M) = 8.29 M) at sqrt(5 x 0.5) GFLOPS.
  v1::Capability cap = device();
  cap.mutable_calibration()->set_linear_stream_gflops(0.5);
  const auto linear_ms = [&](std::int64_t in, std::int64_t out) {
    return roofline_terms(finish("fc", {linear(in, out)}), cap, 1)[Term::kLinear];
  };
  EXPECT_NEAR(linear_ms(2048, 1000), 2.0 * 2048 * 1000 / 5e9 * 1e3, 1e-12);
  EXPECT_NEAR(linear_ms(512, 100), 2.0 * 512 * 100 / 5e9 * 1e3, 1e-12);
  EXPECT_NEAR(linear_ms(8192, 4096), 2.0 * 8192 * 4096 / 0.5e9 * 1e3, 1e-9);
  EXPECT_NEAR(linear_ms(25088, 4096), 2.0 * 25088 * 4096 / 0.5e9 * 1e3, 1e-9);
  const double mid_rate = std::sqrt(5e9 * 0.5e9);
  model::Layer halfway = linear(4096, 2024);
  halfway.macs = std::llround(std::sqrt(2048.0 * 1000 * 8192 * 4096));
  EXPECT_NEAR(roofline_terms(finish("fc", {halfway}), cap, 1)[Term::kLinear],
              2.0 * static_cast<double>(halfway.macs) / mid_rate * 1e3, 1e-6);
  // Without the streamed kernel: the linear kernel's rate at any size.
  EXPECT_NEAR(roofline_terms(finish("fc", {linear(8192, 4096)}), device(), 1)[Term::kLinear],
              2.0 * 8192 * 4096 / 5e9 * 1e3, 1e-9);
}

TEST(Roofline, MemoryBoundLayersStreamAtTheCalibratedBandwidth) {
  // BN over 64 x 56 x 56 floats: 1,605,632 bytes / 10 GB/s = 0.1605632 ms.
  const RooflineTerms t =
      roofline_terms(finish("bn", {memory(model::op::kBatchNorm, 64, 56)}), device(), 1);
  EXPECT_NEAR(t[Term::kMemory], 0.1605632, 1e-12);
}

TEST(Roofline, OptimizedModeFoldsBatchNormAndFusesActivation) {
  const model::ModelProfile m = finish(
      "cbr", {conv(64, 64, 3, 56), memory(model::op::kBatchNorm, 64, 56),
              memory(model::op::kActivation, 64, 56), memory(model::op::kElementwise, 64, 56)});
  const RooflineTerms optimized = roofline_terms(m, device(1.0, 1, true), 1);
  EXPECT_EQ(optimized.fused, 2);
  EXPECT_EQ(optimized.ops, 2);
  EXPECT_NEAR(optimized[Term::kMemory], 0.1605632, 1e-12);  // only the add
  const RooflineTerms plain = roofline_terms(m, device(1.0, 1, false), 1);
  EXPECT_EQ(plain.fused, 0);
  EXPECT_EQ(plain.ops, 4);
  EXPECT_NEAR(plain[Term::kMemory], 3 * 0.1605632, 1e-12);
}

TEST(Roofline, OptimizedModeCostsTheRecordedOptimizedGraphOnItsArchitecture) {
  // The same conv -> BN -> activation -> add, whose optimized graph (recorded on x86_64) runs
  // the conv, a layout conversion, the activation and the add: BN folded, nothing fused.
  model::ModelProfile m = finish(
      "cbr", {conv(64, 64, 3, 56), memory(model::op::kBatchNorm, 64, 56),
              memory(model::op::kActivation, 64, 56), memory(model::op::kElementwise, 64, 56)});
  m.optimized.arch = "x86_64";
  m.optimized.layers = {memory(model::op::kOther, 64, 56), memory(model::op::kActivation, 64, 56),
                        memory(model::op::kElementwise, 64, 56)};
  const v1::Capability x86 = device(1.0, 1, true);
  ASSERT_EQ(x86.device().arch(), "x86_64");
  const RooflineTerms t = roofline_terms(m, x86, 1);
  EXPECT_TRUE(t.exact_graph);
  EXPECT_EQ(t.fused, 0);
  EXPECT_EQ(t.ops, 4);
  EXPECT_NEAR(t[Term::kMemory], 3 * 0.1605632, 1e-12);
  EXPECT_NEAR(t[Term::kConv], 2.31211008, 1e-9);
  // Another architecture's runtime may optimize differently: the folding rules.
  v1::Capability arm = x86;
  arm.mutable_device()->set_arch("aarch64");
  const RooflineTerms rules = roofline_terms(m, arm, 1);
  EXPECT_FALSE(rules.exact_graph);
  EXPECT_EQ(rules.fused, 2);
  EXPECT_NEAR(rules[Term::kMemory], 0.1605632, 1e-12);
  // Plain mode runs the layers as written.
  EXPECT_EQ(roofline_terms(m, device(1.0, 1, false), 1).ops, 4);
  EXPECT_FALSE(roofline_terms(m, device(1.0, 1, false), 1).exact_graph);
}

TEST(Roofline, APricedModelOutlivesItsProfileAndPricesBothGraphs) {
  // The coordinator keeps a catalog model priced across re-plans: the priced form must hold
  // everything it needs (plain layers, the optimized graph and its architecture), not refer to
  // the characterization it came from.
  const auto profile = [] {
    model::ModelProfile m =
        finish("cbr", {conv(64, 64, 3, 56), memory(model::op::kBatchNorm, 64, 56),
                       memory(model::op::kActivation, 64, 56), conv(64, 64, 3, 56, 4),
                       linear(2048, 1000)});
    m.optimized.arch = "x86_64";
    m.optimized.layers = {memory(model::op::kOther, 64, 56)};
    return m;
  };
  std::optional<RooflineModel> priced;
  {
    const model::ModelProfile m = profile();
    priced.emplace(RooflineModel(m));
  }
  const model::ModelProfile reference = profile();
  v1::Capability arm = device(1.0, 2, true);
  arm.mutable_device()->set_arch("aarch64");
  for (const v1::Capability& cap : {device(1.0, 1, true), device(1.0, 2, false), arm}) {
    for (int batch : {1, 16}) {
      const RooflineTerms a = roofline_terms(*priced, cap, batch);
      const RooflineTerms b = roofline_terms(reference, cap, batch);
      EXPECT_EQ(a.ms, b.ms);
      EXPECT_EQ(a.ops, b.ops);
      EXPECT_EQ(a.fused, b.fused);
      EXPECT_EQ(a.exact_graph, b.exact_graph);
    }
  }
  EXPECT_TRUE(roofline_terms(*priced, device(1.0, 1, true), 1).exact_graph);
  EXPECT_EQ(roofline_terms(*priced, arm, 1).fused, 2);
}

TEST(Roofline, BatchScalesWorkButNotOverheadsOrWeights) {
  const model::ModelProfile m = finish("conv", {conv(64, 64, 3, 56)});
  const RooflineTerms one = roofline_terms(m, device(), 1);
  const RooflineTerms four = roofline_terms(m, device(), 4);
  EXPECT_NEAR(four[Term::kConv], 4 * one[Term::kConv], 1e-12);
  EXPECT_DOUBLE_EQ(four[Term::kOpOverhead], one[Term::kOpOverhead]);
  EXPECT_DOUBLE_EQ(four[Term::kCallOverhead], one[Term::kCallOverhead]);
  EXPECT_DOUBLE_EQ(four[Term::kLayerOverhead], one[Term::kLayerOverhead]);
  EXPECT_LT(four.total_ms() / 4, one.total_ms());  // time per image falls with the batch

  // A linear layer streams its weights once per call (2 x 2048 x 1000 / 5 GFLOPS = 0.8192 ms)
  // until the batch makes it a compute-bound GEMM (batch 64: 4096000 x 64 / 100 GFLOPS).
  const model::ModelProfile fc = finish("fc", {linear(2048, 1000)});
  EXPECT_NEAR(roofline_terms(fc, device(), 1)[Term::kLinear], 0.8192, 1e-12);
  EXPECT_NEAR(roofline_terms(fc, device(), 4)[Term::kLinear], 0.8192, 1e-12);
  EXPECT_NEAR(roofline_terms(fc, device(), 64)[Term::kLinear], 2.0 * 2048 * 1000 * 64 / 100e9 * 1e3,
              1e-12);
}

TEST(Roofline, MoreThreadsMeanTheCalibrationOfThatConfiguration) {
  // Threads enter through the calibration measured in that configuration: twice the rates,
  // half the compute time.
  const model::ModelProfile m = finish("conv", {conv(64, 64, 3, 56)});
  v1::Capability two = device(1.0, 2);
  two.mutable_calibration()->set_conv_gflops(200);
  EXPECT_NEAR(roofline_terms(m, two, 1)[Term::kConv],
              roofline_terms(m, device(), 1)[Term::kConv] / 2, 1e-12);
}

TEST(Roofline, EstimatorBoundIsThePriorMarginWithoutMeasurements) {
  const model::ModelProfile m = testing::cnn(3);
  const v1::Capability cap = device();
  const Estimate e = RooflineEstimator().estimate({m, cap, 2});
  EXPECT_EQ(e.estimator, "roofline");
  EXPECT_DOUBLE_EQ(e.point_ms, roofline_terms(m, cap, 2).total_ms());
  // t(0.95, 3 dof) x 0.25 = 2.353 x 0.25.
  EXPECT_NEAR(e.bound_ms / e.point_ms, std::exp(2.353 * 0.25), 0.01);
}

TEST(Roofline, BasisIsOptionalAndChangesNoFigure) {
  const model::ModelProfile m = testing::cnn(3);
  const v1::Capability cap = device();
  DeviceCorrections c;
  c.factors[static_cast<std::size_t>(Term::kConv)] = 1.5;
  c.bound.log_margin = 0.3;
  c.samples = 4;
  c.models = 2;
  const RooflineModel priced(m);
  for (const DeviceCorrections* corrections : {static_cast<const DeviceCorrections*>(nullptr),
                                               static_cast<const DeviceCorrections*>(&c)}) {
    const RooflineEstimator roofline;
    const Estimate with = roofline.estimate_with({m, cap, 2}, priced, corrections);
    const Estimate without = roofline.estimate_with({m, cap, 2}, priced, corrections, false);
    EXPECT_NE(with.basis.find(" ops "), std::string::npos);
    EXPECT_EQ(without.basis, "");
    EXPECT_EQ(without.estimator, "roofline");
    EXPECT_DOUBLE_EQ(without.point_ms, with.point_ms);
    EXPECT_DOUBLE_EQ(without.bound_ms, with.bound_ms);
  }
  const Estimate corrected = RooflineEstimator().estimate_with({m, cap, 2}, priced, &c, false);
  EXPECT_DOUBLE_EQ(corrected.point_ms, corrected_ms(roofline_terms(m, cap, 2), c));
  EXPECT_DOUBLE_EQ(corrected.bound_ms, corrected.point_ms * std::exp(0.3));
}

TEST(Roofline, BoundMarginIsTheConformalQuantileOfTheResiduals) {
  const RooflineOptions o;  // quantile 0.95
  // 19 residuals 0.01, 0.02, ..., 0.19: the ceil(20 x 0.95) = 19th smallest, the largest.
  std::vector<double> r;
  for (int i = 19; i >= 1; --i) r.push_back(0.01 * i);
  EXPECT_DOUBLE_EQ(bound_log_margin(r, o), 0.19);
  // 39 residuals: the ceil(40 x 0.95) = 38th smallest.
  for (int i = 20; i <= 39; ++i) r.push_back(0.01 * i);
  EXPECT_DOUBLE_EQ(bound_log_margin(r, o), 0.38);
  // Too few for the conformal rank: the larger of the largest and the Gaussian margin with
  // the prior pooled in (here the prior dominates: 3 x 0.25^2 + 0.05^2 + 0.1^2 over 5 dof).
  const double gaussian = student_t_quantile(0.95, 5) * std::sqrt((3 * 0.0625 + 0.0125) / 5);
  EXPECT_NEAR(bound_log_margin({0.05, 0.1}, o), gaussian, 1e-12);
  EXPECT_DOUBLE_EQ(bound_log_margin({0.05, 2.0}, o), 2.0);
  // Never under the point.
  EXPECT_DOUBLE_EQ(bound_log_margin(std::vector<double>(19, -0.3), o), 0);
}

TEST(Roofline, RejectsMissingCalibration) {
  const model::ModelProfile m = testing::cnn(0);
  v1::Capability cap = device();
  cap.mutable_calibration()->set_depthwise_conv_gflops(0);
  EXPECT_THROW(RooflineEstimator().estimate({m, cap}), Error);
}

TEST(Stats, QuantilesMatchTables) {
  EXPECT_NEAR(normal_quantile(0.95), 1.644854, 1e-6);
  EXPECT_NEAR(normal_quantile(0.025), -1.959964, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.95, 3), 2.353, 0.01);
  EXPECT_NEAR(student_t_quantile(0.95, 10), 1.812, 0.002);
  EXPECT_NEAR(student_t_quantile(0.95, 30), 1.697, 0.001);
  EXPECT_DOUBLE_EQ(quantile({3, 1, 2, 4}, 0.5), 2.5);
}

}  // namespace
}  // namespace fleetml::estimation
