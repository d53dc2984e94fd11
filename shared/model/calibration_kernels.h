#pragma once

#include <cstdint>

namespace fleetml::model {

// The micro-benchmarks behind v1::Calibration. The real device measures them with LibTorch
// (`fleet-vehicle calibrate`, shared/runtime) and a simulated device derives them from its
// hidden truth model (simulation/device); both use these geometries, so a calibration means
// the same thing whichever produced it. Batch 1, float32, NCHW.
namespace calibration_kernels {

// gemm_gflops: [M x K] * [K x N].
inline constexpr std::int64_t kGemmM = 512, kGemmN = 512, kGemmK = 512;

// conv_gflops: dense 3x3 convolution, stride 1, padding 1.
inline constexpr std::int64_t kConvChannels = 64, kConvSize = 56;

// pointwise_conv_gflops: 1x1 convolution.
inline constexpr std::int64_t kPointwiseIn = 256, kPointwiseOut = 256, kPointwiseSize = 28;

// depthwise_conv_gflops: 3x3 convolution with groups == channels, stride 1, padding 1.
inline constexpr std::int64_t kDepthwiseChannels = 256, kDepthwiseSize = 28;

// linear_gflops: fully connected [1 x In] -> [1 x Out] (matrix-vector; bandwidth-bound).
inline constexpr std::int64_t kLinearIn = 2048, kLinearOut = 1000;

// linear_stream_gflops: the same with 128 MiB of weights, more than any last-level cache
// holds: their streaming from memory (the 8 MB of linear_gflops stay cached between calls on
// many CPUs, AlexNet's and VGG's 64-400 MB classifiers do not). The largest allocation of the
// calibration: up to three copies while the kernel is frozen and optimized.
inline constexpr std::int64_t kLinearStreamIn = 8192, kLinearStreamOut = 4096;

// memory_bandwidth_gbps: out = a + b over this many float32 elements; 3 x 4 bytes moved each.
inline constexpr std::int64_t kBandwidthElements = std::int64_t{4} << 20;

// op_overhead_us: median time of one add of two 1-element tensors.

// pool_gops: max_pool2d 3x3, stride 1, padding 1, always the plain ATen kernel (never
// converted for oneDNN): the dense pooling models run in either mode. Counted in window
// elements (outputs x kernel area) per second.
inline constexpr std::int64_t kPoolChannels = 64, kPoolSize = 56;

// conv_call_us: a chain of kConvCallChain dependent 3x3 depthwise convolutions (stride 1,
// padding 1) on kConvCallChannels x kConvCallSize x kConvCallSize, time per convolution. Its
// compute (~0.1 us) is negligible: what is timed is one convolution call's fixed cost on
// oneDNN, the path grouped convolutions take in either mode (LibTorch sends every grouped
// convolution there; optimize_for_inference prepacks them), output allocation and, in plain
// mode, the layout reorders and weight conversion of every call.
inline constexpr std::int64_t kConvCallChannels = 16, kConvCallSize = 8, kConvCallChain = 16;

// MACs of each compute kernel (FLOPs = 2 x MACs).
inline constexpr std::int64_t kGemmMacs = kGemmM * kGemmN * kGemmK;
inline constexpr std::int64_t kConvMacs = kConvChannels * kConvChannels * 9 * kConvSize * kConvSize;
inline constexpr std::int64_t kPointwiseMacs =
    kPointwiseIn * kPointwiseOut * kPointwiseSize * kPointwiseSize;
inline constexpr std::int64_t kDepthwiseMacs =
    kDepthwiseChannels * 9 * kDepthwiseSize * kDepthwiseSize;
inline constexpr std::int64_t kLinearMacs = kLinearIn * kLinearOut;
inline constexpr std::int64_t kLinearStreamMacs = kLinearStreamIn * kLinearStreamOut;
inline constexpr std::int64_t kConvCallMacs =
    kConvCallChannels * 9 * kConvCallSize * kConvCallSize;  // one convolution of the chain
inline constexpr std::int64_t kPoolWindowElements = kPoolChannels * kPoolSize * kPoolSize * 9;

}  // namespace calibration_kernels
}  // namespace fleetml::model
