// Write throughput of the coordinator database on this machine's disk: capability upserts one
// per transaction and batched, link sample appends, in both synchronous modes. A measuring
// harness, not a test: it prints a table (or JSON) and asserts nothing.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/storage/database.h"
#include "shared/common/cli.h"
#include "shared/common/clock.h"

namespace fleetml::storage {
namespace {

constexpr int kVehicles = 100;

// About the size of a real Raspberry Pi capability (~470 bytes serialized).
v1::Capability capability(int vehicle, std::uint64_t seq) {
  v1::Capability c;
  c.set_vehicle_id("rpi4-" + std::to_string(vehicle));
  c.set_seq(seq);
  c.set_sent_unix_ms(1'700'000'000'000 + static_cast<std::int64_t>(seq));
  auto* d = c.mutable_device();
  d->set_arch("aarch64");
  d->set_cpu_model("Cortex-A72 (BCM2711)");
  d->set_cores(4);
  d->set_clock_ghz(1.8);
  d->set_ram_gb(4);
  d->set_nominal_gflops(13.5);
  d->set_runtime("libtorch-1.13.1");
  d->set_threads(4);
  d->set_optimized(true);
  d->set_os("Debian GNU/Linux 12");
  auto* cal = c.mutable_calibration();
  cal->set_threads(4);
  cal->set_optimized(true);
  cal->set_gemm_gflops(9.1);
  cal->set_conv_gflops(7.7);
  cal->set_pointwise_conv_gflops(6.2);
  cal->set_depthwise_conv_gflops(1.3);
  cal->set_memory_bandwidth_gbps(3.9);
  cal->set_op_overhead_us(14);
  cal->set_source("measured");
  c.mutable_link()->set_network_type("5G");
  c.mutable_link()->set_nominal_downlink_kbps(50'000);
  for (const char* id : {"front-camera", "cabin-monitor"}) {
    auto* app = c.add_applications();
    app->set_id(id);
    app->set_task("image-classification");
    for (const std::int64_t dim : {1, 3, 224, 224}) app->add_input_shape(dim);
    app->set_batch(1);
    app->set_deadline_ms(100);
    app->set_rate_hz(5);
    app->set_min_accuracy(0.6);
    app->set_download_budget_s(60);
  }
  auto* installed = c.add_installed();
  installed->set_model_id("mobilenet_v2");
  installed->set_version(3);
  installed->set_sha256(std::string(64, 'c'));
  installed->set_application_id("front-camera");
  return c;
}

struct Result {
  std::string name;
  int rows;
  double seconds;
};

Result measure(const std::string& name, int rows, const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return {name, rows, elapsed.count()};
}

std::vector<Result> run_mode(const std::filesystem::path& dir, Database::Synchronous mode,
                             const std::string& label, int count, int batch) {
  const auto path = dir / ("bench-" + label + ".db");
  std::filesystem::remove(path);
  Database::Options options;
  options.synchronous = mode;
  Database db(path, SystemClock::instance(), options);
  // save_capability ignores a seq that is not newer: the batched run sends later seqs.
  std::vector<v1::Capability> caps, later_caps;
  for (int i = 0; i < count; ++i) {
    caps.push_back(capability(i % kVehicles, i / kVehicles + 1));
    later_caps.push_back(capability(i % kVehicles, i / kVehicles + 1 + count));
  }
  google::protobuf::RepeatedPtrField<v1::LinkSample> samples;
  for (int i = 0; i < 5; ++i) {
    auto* s = samples.Add();
    s->set_start_unix_ms(i * 1000);
    s->set_duration_ms(1000);
    s->set_downlink_kbps(20'000 + i);
    s->set_network("5G");
  }

  std::vector<Result> results;
  results.push_back(measure(label + " capability upsert, 1 per transaction", count, [&] {
    for (const auto& c : caps) db.save_capability(c, "rpi4/4t/opt");
  }));
  results.push_back(measure(
      label + " capability upsert, " + std::to_string(batch) + " per transaction", count, [&] {
        for (int i = 0; i < count; i += batch) {
          db.transaction([&] {
            for (int j = i; j < std::min(count, i + batch); ++j) {
              db.save_capability(later_caps[j], "rpi4/4t/opt");
            }
          });
        }
      }));
  results.push_back(measure(label + " link report (5 samples), 1 per transaction", count, [&] {
    for (int i = 0; i < count; ++i) {
      db.append_link_samples("rpi4-" + std::to_string(i % kVehicles), samples);
    }
  }));
  std::filesystem::remove(path);
  return results;
}

int run(const cli::Args& args) {
  const std::filesystem::path dir = args.str("dir");
  const auto count = static_cast<int>(args.integer("count"));
  const auto batch = static_cast<int>(args.integer("batch"));
  if (count < 1 || batch < 1) throw cli::UsageError("--count and --batch must be >= 1");
  std::filesystem::create_directories(dir);
  auto results = run_mode(dir, Database::Synchronous::kNormal, "NORMAL", count, batch);
  const auto full = run_mode(dir, Database::Synchronous::kFull, "FULL", count, batch);
  results.insert(results.end(), full.begin(), full.end());

  if (args.flag("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : results) {
      out.push_back({{"name", r.name}, {"rows", r.rows}, {"rows_per_s", r.rows / r.seconds}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& r : results) {
      std::printf("%-55s %8d rows %10.0f rows/s\n", r.name.c_str(), r.rows, r.rows / r.seconds);
    }
  }
  return 0;
}

}  // namespace
}  // namespace fleetml::storage

int main(int argc, char** argv) {
  using fleetml::cli::Command;
  using fleetml::cli::Parser;
  return fleetml::cli::run_program(
      "fleetml-storage-bench", "Measures the write throughput of the coordinator database.",
      {Command{.name = "",
               .summary = "run the measurements",
               .declare =
                   [](Parser& p) {
                     p.option("dir", "DIR", "where the scratch databases go", "/tmp/fleetml-bench")
                         .option("count", "N", "rows per measurement", "5000")
                         .option("batch", "N", "rows per transaction when batching", "100")
                         .flag("json", "print JSON");
                   },
               .run = fleetml::storage::run}},
      argc, argv);
}
