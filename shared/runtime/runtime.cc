#include "shared/runtime/runtime.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <mutex>
#include <numeric>
#include <vector>

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <sys/resource.h>
#include <torch/script.h>
#include <torch/version.h>

#include "shared/common/error.h"
#include "shared/model/calibration_kernels.h"
#include "shared/runtime/energy.h"
#include "shared/runtime/optimize.h"
#include "shared/runtime/torch_error.h"

namespace fleetml::runtime {
torch::jit::Module optimize_for_inference(const torch::jit::Module& module) {
  // freeze inlines parameters as constants (conv/bn folding needs them).
  torch::jit::Module frozen = torch::jit::freeze(module);
  return torch::jit::optimize_for_inference(frozen);
}

namespace {

using SteadyClock = std::chrono::steady_clock;

double ms_since(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

// glibc hands big blocks out as fresh mmaps and trims freed heap above M_TRIM_THRESHOLD back
// to the OS; LibTorch frees a model's activations after every call, so each inference
// page-faults them in again. Measured here: a lone depthwise conv 6 ms instead of 0.12 ms
// (550 page faults per call), MobileNetV2 unoptimized 77 instead of 12 ms. Keeping freed
// memory in the process (32 MiB is mallopt's largest mmap threshold) costs no peak RSS.
void keep_freed_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
}

// Keeps freed memory (above) and sets the intra-op thread count on the calling thread, once
// per thread and count.
// at::set_num_threads sets OpenMP's count for this thread (oneDNN and ATen kernels), which
// may differ from what at::get_num_threads reports, so it is always called once.
// Debian's OpenBLAS-pthread (the libblas.so.3 that LibTorch's GEMMs go to) keeps its own pool
// that at::set_num_threads does not touch: without openblas_set_num_threads a "1-thread" GEMM
// runs on every core. Its count is process-wide.
void configure_threads(int threads) {
  keep_freed_memory();
  if (threads < 1) {
    throw Error("runtime: threads must be at least 1, got " + std::to_string(threads));
  }
  thread_local int applied = 0;
  if (applied == threads) return;
  at::set_num_threads(threads);
  using SetThreads = void (*)(int);
  if (void* symbol = dlsym(RTLD_DEFAULT, "openblas_set_num_threads")) {
    reinterpret_cast<SetThreads>(symbol)(threads);
  }
  applied = threads;
}

// Puts a loaded (or built) module in the configuration's execution mode.
torch::jit::Module prepare(torch::jit::Module module, const RuntimeConfig& config) {
  module.eval();
  return config.optimized ? optimize_for_inference(module) : module;
}

double percentile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0 / 1e6;  // ru_maxrss is in KiB
}

}  // namespace

std::string runtime_name() {
  const std::string blas = blas_threading();
  return std::string("libtorch-") + TORCH_VERSION + (blas.empty() ? "" : "+openblas-" + blas);
}

struct Model::Impl {
  std::string name;
  RuntimeConfig config;
  torch::jit::Module module;
  double load_ms = 0;
  model::Shape input_shape;  // of `input`, batch included
  at::Tensor input;
};

Model::Model(const std::filesystem::path& file, const RuntimeConfig& config)
    : impl_(std::make_unique<Impl>()) {
  impl_->name = file.string();
  impl_->config = config;
  configure_threads(config.threads);
  const auto start = SteadyClock::now();
  torch::jit::Module loaded;
  try {
    loaded = torch::jit::load(file.string(), torch::kCPU);
  } catch (const c10::Error& e) {
    throw Error(impl_->name +
                ": cannot load TorchScript: " + one_line_error(e.what_without_backtrace()));
  }
  try {
    impl_->module = prepare(std::move(loaded), config);
  } catch (const c10::Error& e) {
    throw Error(impl_->name + ": cannot freeze and optimize for inference: " +
                one_line_error(e.what_without_backtrace()));
  }
  impl_->load_ms = ms_since(start);
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const RuntimeConfig& Model::config() const { return impl_->config; }
double Model::load_ms() const { return impl_->load_ms; }

Output Model::run_zeros(const model::Shape& input, std::int64_t batch) {
  if (input.empty() || batch < 1) {
    throw Error(impl_->name + ": bad input shape " + model::format_shape(input) + " or batch " +
                std::to_string(batch));
  }
  model::Shape shape = input;
  shape[0] = batch;
  if (shape != impl_->input_shape) {
    impl_->input = torch::zeros(shape);
    impl_->input_shape = shape;
  }
  configure_threads(impl_->config.threads);
  torch::NoGradGuard no_grad;
  c10::IValue out;
  try {
    out = impl_->module.forward({impl_->input});
  } catch (const c10::Error& e) {
    throw Error(impl_->name + ": forward on " + model::format_shape(shape) +
                " failed: " + one_line_error(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Error(impl_->name + ": forward on " + model::format_shape(shape) +
                " failed: " + one_line_error(e.what()));
  }
  if (!out.isTensor()) {
    throw Error(impl_->name + ": forward returned " + std::string(out.tagKind()) +
                ", expected one tensor");
  }
  const at::Tensor t = out.toTensor();
  Output result;
  result.shape.assign(t.sizes().begin(), t.sizes().end());
  result.finite = !t.is_floating_point() || torch::isfinite(t).all().item<bool>();
  return result;
}

void smoke_test(const std::filesystem::path& file, const model::Shape& input,
                const RuntimeConfig& config) {
  Model model(file, config);
  const Output out = model.run_zeros(input);
  if (!out.finite) {
    throw Error(file.string() + ": smoke test: output contains NaN or infinity");
  }
}

BenchmarkResult benchmark(const std::filesystem::path& file, const model::Shape& input,
                          const RuntimeConfig& config, std::int64_t batch, int warmup,
                          int repeats) {
  if (batch < 1 || repeats < 1 || warmup < 0) {
    throw Error("benchmark: batch and repeats must be at least 1 and warmup at least 0");
  }
  Model model(file, config);
  for (int i = 0; i < warmup; ++i) model.run_zeros(input, batch);

  EnergyMeter meter;
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(repeats));
  meter.start();
  for (int i = 0; i < repeats; ++i) {
    const auto start = SteadyClock::now();
    model.run_zeros(input, batch);
    ms.push_back(ms_since(start));
  }
  const double joules = meter.stop();

  BenchmarkResult r;
  r.mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  std::sort(ms.begin(), ms.end());
  r.p50_ms = percentile(ms, 0.50);
  r.p95_ms = percentile(ms, 0.95);
  r.min_ms = ms.front();
  r.load_ms = model.load_ms();
  r.peak_rss_mb = peak_rss_mb();
  r.energy_j = joules / repeats;
  r.energy_source = meter.source();
  r.batch = batch;
  r.threads = config.threads;
  r.optimized = config.optimized;
  r.warmup = warmup;
  r.repeats = repeats;
  return r;
}

// --- calibration ---------------------------------------------------------------------------

namespace {

namespace kernels = model::calibration_kernels;

// A one-method TorchScript module with the given parameters, built like a scripted model
// (with a `training` attribute, so freezing treats it the same way).
torch::jit::Module make_module(const std::string& name,
                               const std::vector<std::pair<std::string, at::Tensor>>& params,
                               const std::string& forward_source) {
  torch::jit::Module m("__torch__.fleetml.calibration." + name);
  m.register_attribute("training", c10::BoolType::get(), false);
  for (const auto& [param_name, value] : params) m.register_parameter(param_name, value, false);
  m.define(forward_source);
  return m;
}

// Median seconds of one call: a few warm-up calls (the profiling executor optimizes after
// its first runs), then repeated calls for about `budget_s` (at least 5, at most 500).
double median_call_s(const std::function<void()>& call, double budget_s = 0.35) {
  for (int i = 0; i < 3; ++i) call();
  std::vector<double> s;
  const auto start = SteadyClock::now();
  while (s.size() < 5 || (s.size() < 500 && ms_since(start) < budget_s * 1000.0)) {
    const auto t0 = SteadyClock::now();
    call();
    s.push_back(ms_since(t0) / 1000.0);
  }
  std::sort(s.begin(), s.end());
  return percentile(s, 0.5);
}

// Median seconds per forward call of a kernel module run in `config`'s mode.
double time_kernel(torch::jit::Module module, const RuntimeConfig& config,
                   std::vector<c10::IValue> inputs) {
  torch::jit::Module prepared = prepare(std::move(module), config);
  return median_call_s([&] { prepared.forward(inputs); });
}

at::Tensor filled(at::IntArrayRef shape) { return torch::full(shape, 0.5f); }

// forward(self, <params>) running `statement` (which updates x from x) `times` times in a
// chain, then returning x: timed per statement, the call's interpreter entry is amortized.
std::string chained_forward(const std::string& params, const std::string& statement, int times) {
  std::string source = "def forward(self, " + params + "):\n";
  for (int i = 0; i < times; ++i) source += "  x = " + statement + "\n";
  return source + "  return x\n";
}

double gflops(std::int64_t macs, double seconds) {
  return 2.0 * static_cast<double>(macs) / seconds / 1e9;
}

v1::Calibration measure(const RuntimeConfig& config, const Clock& clock) {
  const auto start = SteadyClock::now();
  torch::NoGradGuard no_grad;
  v1::Calibration c;

  c.set_gemm_gflops(
      gflops(kernels::kGemmMacs,
             time_kernel(make_module("Gemm", {{"w", filled({kernels::kGemmK, kernels::kGemmN})}},
                                     "def forward(self, x):\n  return torch.mm(x, self.w)\n"),
                         config, {filled({kernels::kGemmM, kernels::kGemmK})})));

  const auto conv = [&](const char* name, std::int64_t in, std::int64_t out, std::int64_t k,
                        std::int64_t size, std::int64_t groups, std::int64_t macs) {
    const std::int64_t pad = k / 2;
    const std::string source =
        "def forward(self, x):\n  return torch.conv2d(x, self.w, self.b, [1, 1], [" +
        std::to_string(pad) + ", " + std::to_string(pad) + "], [1, 1], " + std::to_string(groups) +
        ")\n";
    return gflops(
        macs, time_kernel(
                  make_module(name, {{"w", filled({out, in / groups, k, k})}, {"b", filled({out})}},
                              source),
                  config, {filled({1, in, size, size})}));
  };
  c.set_conv_gflops(conv("Conv", kernels::kConvChannels, kernels::kConvChannels, 3,
                         kernels::kConvSize, 1, kernels::kConvMacs));
  c.set_pointwise_conv_gflops(conv("Pointwise", kernels::kPointwiseIn, kernels::kPointwiseOut, 1,
                                   kernels::kPointwiseSize, 1, kernels::kPointwiseMacs));
  c.set_depthwise_conv_gflops(conv("Depthwise", kernels::kDepthwiseChannels,
                                   kernels::kDepthwiseChannels, 3, kernels::kDepthwiseSize,
                                   kernels::kDepthwiseChannels, kernels::kDepthwiseMacs));

  const auto linear = [&](const char* name, std::int64_t in, std::int64_t out) {
    return gflops(in * out,
                  time_kernel(make_module(name, {{"w", filled({out, in})}, {"b", filled({out})}},
                                          "def forward(self, x):\n"
                                          "  return torch.linear(x, self.w, self.b)\n"),
                              config, {filled({1, in})}));
  };
  c.set_linear_gflops(linear("Linear", kernels::kLinearIn, kernels::kLinearOut));
  c.set_linear_stream_gflops(
      linear("LinearStream", kernels::kLinearStreamIn, kernels::kLinearStreamOut));

  // Into a preallocated output: the allocator's page faults are not memory bandwidth.
  const double add_s =
      time_kernel(make_module("Bandwidth", {},
                              "def forward(self, a, b, out):\n  return torch.add(a, b, out=out)\n"),
                  config,
                  {filled({kernels::kBandwidthElements}), filled({kernels::kBandwidthElements}),
                   filled({kernels::kBandwidthElements})});
  c.set_memory_bandwidth_gbps(3.0 * 4.0 * static_cast<double>(kernels::kBandwidthElements) / add_s /
                              1e9);

  // A chain of dependent adds of 1-element tensors.
  constexpr int kChain = 64;
  const double chain_s =
      time_kernel(make_module("Overhead", {}, chained_forward("x, y", "x + y", kChain)), config,
                  {filled({1}), filled({1})});
  c.set_op_overhead_us(chain_s / kChain * 1e6);

  const double conv_chain_s = time_kernel(
      make_module("ConvCall",
                  {{"w", filled({kernels::kConvCallChannels, 1, 3, 3})},
                   {"b", filled({kernels::kConvCallChannels})}},
                  chained_forward("x",
                                  "torch.conv2d(x, self.w, self.b, [1, 1], [1, 1], [1, 1], " +
                                      std::to_string(kernels::kConvCallChannels) + ")",
                                  static_cast<int>(kernels::kConvCallChain))),
      config,
      {filled({1, kernels::kConvCallChannels, kernels::kConvCallSize, kernels::kConvCallSize})});
  c.set_conv_call_us(conv_chain_s / kernels::kConvCallChain * 1e6);

  // Unprepared in both modes: optimize_for_inference would move this pool to oneDNN, which
  // it does for some pools of a model but not others (ceil_mode, average pools with padding
  // excluded), and those stay on this kernel.
  const double pool_s = time_kernel(
      make_module("Pool", {},
                  "def forward(self, x):\n  return torch.max_pool2d(x, [3, 3], [1, 1], [1, 1])\n"),
      {config.threads, false},
      {filled({1, kernels::kPoolChannels, kernels::kPoolSize, kernels::kPoolSize})});
  c.set_pool_gops(static_cast<double>(kernels::kPoolWindowElements) / pool_s / 1e9);

  c.set_threads(static_cast<std::uint32_t>(config.threads));
  c.set_optimized(config.optimized);
  c.set_duration_s(ms_since(start) / 1000.0);
  c.set_measured_unix_ms(clock.now_unix_ms());
  c.set_source("measured");
  return c;
}

}  // namespace

v1::Calibration calibrate(const RuntimeConfig& config, const Clock& clock) {
  configure_threads(config.threads);
  try {
    return measure(config, clock);
  } catch (const c10::Error& e) {
    throw Error("calibrate: LibTorch micro-benchmark failed: " +
                one_line_error(e.what_without_backtrace()));
  }
}

}  // namespace fleetml::runtime
