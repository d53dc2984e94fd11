// fleet-vehicle benchmark --model FILE.pt [--input SHAPE] [--threads N] [--batch B]
// [--warmup W] [--repeats R] [--no-optimize] [--json]: the real latency of one model here.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "vehicle_client/commands.h"

namespace fleetml::vehicle {
namespace {

std::int64_t positive(const cli::Args& args, const char* name, std::int64_t min) {
  const std::int64_t v = args.integer(name);
  if (v < min || v > 1'000'000) {
    throw cli::UsageError(std::string("--") + name + ": expected " + std::to_string(min) +
                          " to 1000000, got " + std::to_string(v));
  }
  return v;
}

int run_benchmark(const cli::Args& args) {
  const runtime::RuntimeConfig config = runtime_config(args);
  const std::string& model_file = args.str("model");
  const std::string& input_text = args.str("input");
  model::Shape input;
  try {
    input = model::parse_shape(input_text);
  } catch (const Error& e) {
    throw cli::UsageError(std::string("--input: ") + e.what());
  }
  const std::int64_t batch = positive(args, "batch", 1);
  const int warmup = static_cast<int>(positive(args, "warmup", 0));
  const int repeats = static_cast<int>(positive(args, "repeats", 1));
  std::fprintf(stderr,
               "benchmark: %s on %s, batch %lld, %d thread(s), %s: loading, %d warm-up and %d "
               "timed calls...\n",
               model_file.c_str(), model::format_shape(input).c_str(),
               static_cast<long long>(batch), config.threads,
               config.optimized ? "optimized" : "not optimized", warmup, repeats);
  const runtime::BenchmarkResult r =
      runtime::benchmark(model_file, input, config, batch, warmup, repeats);
  if (args.flag("json")) {
    const nlohmann::json j = {{"model", model_file},
                              {"input_shape", input},
                              {"p50_ms", r.p50_ms},
                              {"p95_ms", r.p95_ms},
                              {"mean_ms", r.mean_ms},
                              {"min_ms", r.min_ms},
                              {"load_ms", r.load_ms},
                              {"peak_rss_mb", r.peak_rss_mb},
                              {"energy_j", r.energy_j},
                              {"energy_source", r.energy_source},
                              {"batch", r.batch},
                              {"threads", r.threads},
                              {"optimized", r.optimized},
                              {"warmup", r.warmup},
                              {"repeats", r.repeats},
                              {"runtime", runtime::runtime_name()},
                              {"blas_threading", runtime::blas_threading()},
                              {"openblas_thread_timeout", runtime::blas_thread_timeout()}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%s  batch %lld  %d thread(s)  %s\n", model_file.c_str(),
                static_cast<long long>(r.batch), r.threads,
                r.optimized ? "optimized" : "not optimized");
    std::printf("  p50 %.2f ms  p95 %.2f ms  mean %.2f ms  min %.2f ms  (%d calls)\n", r.p50_ms,
                r.p95_ms, r.mean_ms, r.min_ms, r.repeats);
    std::printf("  load %.0f ms  peak RSS %.0f MB  energy %s\n", r.load_ms, r.peak_rss_mb,
                r.energy_source.empty()
                    ? "not measurable here"
                    : (std::to_string(r.energy_j) + " J/call (" + r.energy_source + ")").c_str());
  }
  return 0;
}

[[maybe_unused]] const bool kRegistered =
    register_command({"benchmark", "measure a model's latency, memory and energy on this device",
                      [](cli::Parser& p) {
                        p.required("model", "FILE.pt", "TorchScript model file")
                            .option("input", "SHAPE", "input shape of one sample", "1x3x224x224")
                            .option("batch", "B", "samples per inference call", "1")
                            .option("warmup", "W", "untimed calls first", "5")
                            .option("repeats", "R", "timed calls", "30");
                        declare_runtime_options(p);
                        p.flag("json", "print the result as JSON");
                      },
                      run_benchmark});

}  // namespace
}  // namespace fleetml::vehicle
