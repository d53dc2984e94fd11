#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "schemas/fleet.pb.h"
#include "shared/common/clock.h"
#include "shared/model/model_profile.h"

namespace fleetml::runtime {

// How a device runs its models (SPEC "Runtime mode"). Calibration, benchmarks, estimates and
// reports all refer to one configuration.
//
// Loading, running or calibrating sets process-wide state: the intra-op thread count (OpenMP
// for the calling thread, and OpenBLAS's own pool, which at::set_num_threads leaves alone) and
// glibc malloc thresholds that keep freed activation memory in the process instead of
// returning it to the OS after every call (which made each inference page-fault its
// activations back: MobileNetV2 unoptimized 77 instead of 12 ms here).
struct RuntimeConfig {
  int threads = 1;        // intra-op threads, always set explicitly (at::set_num_threads)
  bool optimized = true;  // torch::jit::freeze + optimize_for_inference; false: plain load
};

// "libtorch-<version>" of the LibTorch this binary is linked with, plus "+openblas-<threading>"
// when its BLAS is OpenBLAS (v1::Device.runtime): the BLAS build is part of the device
// configuration: at 2 threads the pthreads build runs models up to 2.2x slower than the OpenMP
// one (blas_threading).
std::string runtime_name();

// How the OpenBLAS LibTorch's GEMMs go to was built: "openmp", "pthreads" or "sequential"; ""
// when the BLAS is not OpenBLAS. The set-up selects the OpenMP build (scripts/install-deps.sh):
// its GEMMs run on the same OpenMP pool as oneDNN and ATen. The pthreads build keeps a pool of
// its own whose workers take turns on the cores with the OpenMP workers of the next operator:
// at 2 threads on this project's 2-core machine it ran 12 zoo configurations a median 1.16x
// slower at p50 and 1.63x at p95 (MobileNetV3-Large plain 22.4 vs 10.2 ms, ResNet50 the same;
// bench/blas_builds.sh, docs/estimation.md "One thread pool, not two").
std::string blas_threading();

// For the pthreads build (a system whose libblas.so.3 alternative points at it), the next best
// thing: its workers spin on sched_yield for 2^28 cycles (~0.1 s) after every GEMM by default;
// OPENBLAS_THREAD_TIMEOUT=20 (2^20 cycles, ~0.4 ms) keeps them warm across a layer's
// back-to-back GEMMs and lets them sleep between layers (zoo at 2 threads: median p95/p50 1.74
// -> 1.17, p50s unchanged; 4, no spin at all, made plain-mode models with many small GEMMs up to
// 1.5x slower at p50). OpenBLAS reads the variable once, when it is loaded, before main(). So:
// with the pthreads build and the variable not set, re-executes the program (/proc/self/exe,
// same argv) with kBlasThreadTimeout; returns otherwise, or when the exec failed (after a
// warning: everything still works, with the tails). Call first in main() of a program that runs
// models.
inline constexpr const char* kBlasThreadTimeoutVariable = "OPENBLAS_THREAD_TIMEOUT";
inline constexpr const char* kBlasThreadTimeout = "20";
void ensure_sleeping_blas_workers(char** argv);
// The OPENBLAS_THREAD_TIMEOUT this process runs with ("" when unset): part of how a
// measurement was taken.
std::string blas_thread_timeout();

// What one forward call returned.
struct Output {
  model::Shape shape;  // of the output tensor
  bool finite = true;  // no NaN or infinity in it
};

// A TorchScript model loaded for inference in a RuntimeConfig. Movable, not copyable.
class Model {
 public:
  // Loads `file` in eval mode and, when config.optimized, freezes and optimizes it for
  // inference. Throws fleetml::Error naming the file with a one-line reason when it cannot be
  // read or is not TorchScript, or when config.threads < 1.
  Model(const std::filesystem::path& file, const RuntimeConfig& config);
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  // Runs one forward pass without gradients on zeros of `input` (one sample, leading 1)
  // with the leading dimension replaced by `batch`. The zero tensor is reused while the shape
  // stays the same, so repeated calls time the model only. Throws fleetml::Error with the
  // model's one-line reason when the forward pass fails or returns something other than one
  // tensor.
  Output run_zeros(const model::Shape& input, std::int64_t batch = 1);

  const RuntimeConfig& config() const;
  // Wall time the load (and optimization) took, in ms.
  double load_ms() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The install-time check: loads `file` in `config` and runs one inference on zeros of
// `input`. Throws fleetml::Error with a one-line reason ("<file>: smoke test: output contains
// NaN or infinity", "...: forward failed: ...") when loading or the forward pass fails, or
// the output is not a finite tensor.
void smoke_test(const std::filesystem::path& file, const model::Shape& input,
                const RuntimeConfig& config = {});

// Measured latency of one model in one configuration.
struct BenchmarkResult {
  double p50_ms = 0;  // per inference call (one call processes `batch` samples)
  double p95_ms = 0;
  double mean_ms = 0;
  double min_ms = 0;
  double load_ms = 0;         // load + optimization
  double peak_rss_mb = 0;     // process peak resident set (getrusage), 1e6 bytes
  double energy_j = 0;        // per call; 0 when the platform exposes no energy counter
  std::string energy_source;  // "rapl", "jetson-sysfs" or ""
  std::int64_t batch = 1;
  int threads = 1;
  bool optimized = true;
  int warmup = 0;
  int repeats = 0;
};

// Loads `file` in `config`, runs `warmup` untimed calls, then `repeats` timed calls on zeros of
// `input` with batch `batch` (steady_clock per call; percentiles by linear interpolation).
// Throws fleetml::Error on load/forward failure or when batch, repeats < 1 or warmup < 0.
BenchmarkResult benchmark(const std::filesystem::path& file, const model::Shape& input,
                          const RuntimeConfig& config, std::int64_t batch = 1, int warmup = 5,
                          int repeats = 30);

// Measures the device's v1::Calibration in `config` with LibTorch micro-benchmarks of exactly
// the geometries of shared/model/calibration_kernels.h (GEMM, dense/pointwise/depthwise
// convolution, linear, streaming add, per-operator overhead). Each kernel is a tiny TorchScript
// module built with define() and prepared like a model (frozen + optimized when
// config.optimized, so oneDNN weight prepacking is reflected); its rate is taken from the
// median of repeated calls. Takes a few seconds. Fills threads, optimized, duration_s,
// measured_unix_ms (from `clock`) and source "measured". Throws fleetml::Error when
// config.threads < 1.
v1::Calibration calibrate(const RuntimeConfig& config,
                          const Clock& clock = SystemClock::instance());

}  // namespace fleetml::runtime
