// Cost of the exact assignment solver (shared/assignment/solver.h).
//
//   build/bin/fleetml_solver_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true      (one line)
//
// BM_Solve/<case>/<explain>: one vehicle, 3 applications x 100 catalog models unless the case
// says otherwise; explain=1 includes writing every rejection's human reason.
//   realistic   a synthetic 100-model zoo (FLOPs 0.05-40 G, accuracy rising with log FLOPs)
//               on DIGA's devices (RPi 4/5, Jetson Nano, PC) and random 4G/5G links; a pool of
//               256 vehicles is cycled so branch prediction cannot learn one instance.
//   near_equal  accuracies within 0.001, utilization and memory anti-correlated so that
//               every candidate is Pareto-optimal, both resources tight.
//   tight_joint accuracy rises with both resources; the caps admit about a third of each
//               application's best model at once.
// BM_SolveApps/<n>: near_equal with n applications (scaling beyond "a few").
// BM_Plan: the realistic vehicle through the planner (Capability + catalog + callbacks that
// look precomputed estimates up -> AssignmentBody with every rejection), for comparison.
// BM_Replan/<threads>: re-plans 100k vehicles of the realistic kind (estimates precomputed
// per device class; link, current model and installed set per vehicle), building each
// vehicle's Problem and solving it with explanations, over 1 or 2 threads; wall time.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <time.h>

#include "shared/assignment/planner.h"
#include "shared/assignment/solver.h"

namespace fleetml::assignment {
namespace {

constexpr int kModels = 100;

struct ZooModel {
  std::string id;
  double gflops = 0;
  double accuracy = 0;
  std::uint64_t size_bytes = 0;
  double weights_mb = 0;
  double activations_mb = 0;  // peak, batch 1
};

struct DeviceClass {
  double effective_gflops = 0;  // what the models really get, well below nominal
  double ram_budget_mb = 0;
};

// DIGA's Table 1 devices, with a plausible effective throughput.
const std::vector<DeviceClass> kDevices = {{3.0, 4000}, {7.0, 4000}, {15.0, 2000}, {300.0, 16000}};

struct AppSpec {
  const char* id;
  double deadline_ms;
  double rate_hz;
  std::uint32_t batch;
  double min_accuracy;
  double download_budget_s;
};

const std::vector<AppSpec> kApps = {
    {"pedestrians", 100, 10, 1, 0.60, 60},
    {"signs", 250, 4, 1, 0.65, 120},
    {"scene", 2000, 2, 4, 0.50, 600},
};

std::vector<ZooModel> make_zoo(std::mt19937& rng) {
  std::vector<ZooModel> zoo;
  std::uniform_real_distribution<double> log_gflops(std::log(0.05), std::log(40.0));
  std::normal_distribution<double> noise(0, 0.02);
  std::uniform_real_distribution<double> params_per_gflop(1.0, 30.0);  // M params per GFLOP
  for (int i = 0; i < kModels; ++i) {
    ZooModel m;
    m.id = "torchvision_model_" + std::to_string(1000 + i);  // too long for SSO, like real ids
    m.gflops = std::exp(log_gflops(rng));
    m.accuracy = std::clamp(0.70 + 0.045 * std::log2(m.gflops) + noise(rng), 0.3, 0.9);
    const double params_m = std::clamp(m.gflops * params_per_gflop(rng), 0.5, 150.0);
    m.weights_mb = params_m * 4;
    m.size_bytes = static_cast<std::uint64_t>(m.weights_mb * 1.02e6);
    m.activations_mb = 2 + 6 * std::sqrt(m.gflops);
    zoo.push_back(m);
  }
  return zoo;
}

const std::vector<ZooModel>& zoo() {
  static const std::vector<ZooModel> z = [] {
    std::mt19937 rng(7);
    return make_zoo(rng);
  }();
  return z;
}

// One vehicle's varying inputs; everything else is looked up.
struct Vehicle {
  std::uint8_t device = 0;
  double link_kbps = 0;
  std::vector<std::int16_t> current;  // per app, zoo index or -1
};

// Estimates precomputed per (device class, app, model): bound/point at the app's batch,
// memory and energy.
struct Estimates {
  struct Row {
    double point_ms, bound_ms, memory_mb, energy_j;
  };
  std::vector<Row> rows;  // [device][app][model]
  const Row& at(std::size_t device, std::size_t app, std::size_t model) const {
    return rows[(device * kApps.size() + app) * kModels + model];
  }
};

const Estimates& estimates() {
  static const Estimates e = [] {
    Estimates out;
    for (const DeviceClass& d : kDevices) {
      for (const AppSpec& a : kApps) {
        for (const ZooModel& m : zoo()) {
          // Batching amortizes a little; depth/overhead makes small models relatively slow.
          const double point = (m.gflops * a.batch * 0.85 / d.effective_gflops) * 1000 + 1.5;
          out.rows.push_back({point, point * 1.3, m.weights_mb + m.activations_mb * a.batch + 32,
                              point / 1000 * 5.0});
        }
      }
    }
    return out;
  }();
  return e;
}

// Fills `p` for vehicle `v`, reusing its storage (strings keep their capacity).
void build(const Vehicle& v, Problem& p) {
  const DeviceClass& device = kDevices[v.device];
  p.utilization_cap = 0.9;
  p.memory_budget_mb = device.ram_budget_mb;
  p.hysteresis = 0.01;
  p.apps.resize(kApps.size());
  for (std::size_t a = 0; a < kApps.size(); ++a) {
    const AppSpec& spec = kApps[a];
    AppProblem& app = p.apps[a];
    app.id = spec.id;
    app.deadline_ms = spec.deadline_ms;
    app.rate_hz = spec.rate_hz;
    app.batch = spec.batch;
    app.min_accuracy = spec.min_accuracy;
    app.download_budget_s = spec.download_budget_s;
    app.candidates.resize(kModels);
    for (int i = 0; i < kModels; ++i) {
      const ZooModel& m = zoo()[i];
      const Estimates::Row& e = estimates().at(v.device, a, i);
      Candidate& c = app.candidates[i];
      c.model_id = m.id;
      c.accuracy = m.accuracy;
      c.point_ms = e.point_ms;
      c.bound_ms = e.bound_ms;
      c.memory_mb = e.memory_mb;
      c.size_bytes = m.size_bytes;
      c.energy_j = e.energy_j;
      c.current = v.current[a] == i;
      c.installed = std::find(v.current.begin(), v.current.end(), i) != v.current.end();
      c.download_s = c.installed ? 0 : m.size_bytes * 8.0 / (v.link_kbps * 1000);
    }
  }
}

Vehicle random_vehicle(std::mt19937& rng) {
  Vehicle v;
  v.device = static_cast<std::uint8_t>(std::uniform_int_distribution<int>(0, 3)(rng));
  // Conservative link predictions between poor 4G and good 5G.
  v.link_kbps = std::exp(std::uniform_real_distribution<double>(std::log(2e3), std::log(7e4))(rng));
  v.current.assign(kApps.size(), -1);
  return v;
}

// Vehicles whose current models come from solving once with another link: re-planning.
std::vector<Vehicle> fleet(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Vehicle> vehicles;
  Problem p;
  for (std::size_t i = 0; i < n; ++i) {
    Vehicle v = random_vehicle(rng);
    build(v, p);
    const Solution s = solve(p, {.explain = false});
    for (std::size_t a = 0; a < kApps.size(); ++a) {
      v.current[a] = s.apps[a].chosen ? static_cast<std::int16_t>(*s.apps[a].chosen) : -1;
    }
    v.link_kbps *= std::uniform_real_distribution<double>(0.3, 1.5)(rng);
    vehicles.push_back(v);
  }
  return vehicles;
}

std::vector<Problem> realistic_pool() {
  std::vector<Problem> pool;
  for (const Vehicle& v : fleet(256, 11)) {
    build(v, pool.emplace_back());
  }
  return pool;
}

struct Figures {
  double accuracy, bound_ms, memory_mb;
};

// n_apps applications at 10 Hz, batch 1, no per-model limits, each with kModels candidates
// whose figures come from `figures(rng, i)`.
template <typename MakeFigures>
Problem synthetic(const std::string& prefix, std::size_t n_apps, double memory_budget_mb,
                  std::uint32_t seed, MakeFigures figures) {
  std::mt19937 rng(seed);
  Problem p;
  p.utilization_cap = 0.9;
  p.memory_budget_mb = memory_budget_mb;
  for (std::size_t a = 0; a < n_apps; ++a) {
    AppProblem& app = p.apps.emplace_back();
    app.id = "app" + std::to_string(a);
    app.rate_hz = 10;
    for (int i = 0; i < kModels; ++i) {
      const Figures f = figures(rng, i);
      Candidate& c = app.candidates.emplace_back();
      c.model_id = prefix + std::to_string(1000 + i);
      c.accuracy = f.accuracy;
      c.bound_ms = f.bound_ms;
      c.point_ms = f.bound_ms / 1.3;
      c.memory_mb = f.memory_mb;
      c.size_bytes = 10'000'000;
      c.download_s = 1;
      c.energy_j = 0.1;
    }
  }
  return p;
}

// n applications x 100 candidates, all Pareto-optimal and within 0.001 of each other.
Problem near_equal(std::size_t n_apps, std::uint32_t seed) {
  return synthetic("near_equal_model_", n_apps, 1000.0 * n_apps / 3, seed,
                   [](std::mt19937& rng, int i) {
                     std::uniform_real_distribution<double> jitter(0, 1);
                     const double t = (i + jitter(rng)) / kModels;
                     // Utilization 0.2 .. 0.8 each, memory anti-correlated with it.
                     return Figures{0.800 + 0.001 * jitter(rng), 20 + 60 * t, 150 + 500 * (1 - t)};
                   });
}

// Accuracy rises with both resources; the caps admit about a third of each best model.
Problem tight_joint(std::uint32_t seed) {
  return synthetic("tight_joint_model_", 3, 900, seed, [](std::mt19937& rng, int) {
    std::uniform_real_distribution<double> u01(0, 1);
    const double s = u01(rng), t = u01(rng);
    // Utilization 0.1 .. 0.9, memory 100 .. 900 MB.
    return Figures{0.5 + 0.2 * std::sqrt(s) + 0.2 * std::sqrt(t) + 0.01 * u01(rng), 10 + 80 * s,
                   100 + 800 * t};
  });
}

void run_pool(benchmark::State& state, const std::vector<Problem>& pool) {
  const SolveOptions options{.explain = state.range(0) != 0};
  std::size_t i = 0;
  std::uint64_t nodes = 0, options_left = 0, solves = 0;
  for (auto _ : state) {
    Solution s = solve(pool[i], options);
    nodes += s.stats.nodes;
    options_left += s.stats.options;
    ++solves;
    benchmark::DoNotOptimize(s);
    i = (i + 1) % pool.size();
  }
  state.counters["nodes"] = static_cast<double>(nodes) / solves;
  state.counters["options"] = static_cast<double>(options_left) / solves;
}

void BM_Solve_realistic(benchmark::State& state) {
  static const std::vector<Problem> pool = realistic_pool();
  run_pool(state, pool);
}
BENCHMARK(BM_Solve_realistic)->ArgName("explain")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_Solve_near_equal(benchmark::State& state) {
  static const std::vector<Problem> pool = [] {
    std::vector<Problem> out;
    for (std::uint32_t seed = 0; seed < 16; ++seed) out.push_back(near_equal(3, seed));
    return out;
  }();
  run_pool(state, pool);
}
BENCHMARK(BM_Solve_near_equal)->ArgName("explain")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_Solve_tight_joint(benchmark::State& state) {
  static const std::vector<Problem> pool = [] {
    std::vector<Problem> out;
    for (std::uint32_t seed = 0; seed < 16; ++seed) out.push_back(tight_joint(seed));
    return out;
  }();
  run_pool(state, pool);
}
BENCHMARK(BM_Solve_tight_joint)->ArgName("explain")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_SolveApps(benchmark::State& state) {
  const std::vector<Problem> pool = {near_equal(static_cast<std::size_t>(state.range(0)), 1),
                                     near_equal(static_cast<std::size_t>(state.range(0)), 2)};
  std::size_t i = 0;
  std::uint64_t nodes = 0, solves = 0;
  for (auto _ : state) {
    Solution s = solve(pool[i], {.explain = false});
    nodes += s.stats.nodes;
    ++solves;
    benchmark::DoNotOptimize(s);
    i ^= 1;
  }
  state.counters["nodes"] = static_cast<double>(nodes) / solves;
}
BENCHMARK(BM_SolveApps)->ArgName("apps")->DenseRange(1, 6)->Unit(benchmark::kMicrosecond);

void BM_Plan(benchmark::State& state) {
  std::vector<CatalogEntry> catalog;
  for (const ZooModel& m : zoo()) {
    CatalogEntry& e = catalog.emplace_back();
    e.model_id = m.id;
    e.version = 1;
    e.sha256 = std::string(64, 'a');
    e.size_bytes = m.size_bytes;
    e.task = "image-classification";
    e.accuracy = m.accuracy;
    e.profile.param_bytes = static_cast<std::int64_t>(m.weights_mb * 1e6);
    e.profile.peak_activation_bytes = static_cast<std::int64_t>(m.activations_mb * 1e6);
  }
  std::vector<v1::Capability> capabilities;
  std::vector<Vehicle> vehicles = fleet(64, 5);
  for (std::size_t i = 0; i < vehicles.size(); ++i) {
    const Vehicle& v = vehicles[i];
    v1::Capability& c = capabilities.emplace_back();
    c.set_vehicle_id("vehicle-" + std::to_string(i));
    c.mutable_device()->set_ram_gb(kDevices[v.device].ram_budget_mb / 500);
    for (std::size_t a = 0; a < kApps.size(); ++a) {
      const AppSpec& spec = kApps[a];
      v1::Application* app = c.add_applications();
      app->set_id(spec.id);
      app->set_task("image-classification");
      app->set_batch(spec.batch);
      app->set_deadline_ms(spec.deadline_ms);
      app->set_rate_hz(spec.rate_hz);
      app->set_min_accuracy(spec.min_accuracy);
      app->set_download_budget_s(spec.download_budget_s);
      if (v.current[a] >= 0) {
        v1::InstalledModel* m = c.add_installed();
        m->set_model_id(zoo()[v.current[a]].id);
        m->set_version(1);
        m->set_application_id(spec.id);
      }
    }
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const Vehicle& v = vehicles[i];
    const EstimateFn estimate = [&v, &catalog](const CatalogEntry& e, std::uint32_t batch) {
      const std::size_t app = batch == 4 ? 2 : 0;  // the two batches in kApps
      const Estimates::Row& r = estimates().at(v.device, app, &e - catalog.data());
      return std::optional(LatencyEstimate{r.point_ms, r.bound_ms, "table", r.energy_j});
    };
    const DownloadFn download = [&v](std::uint64_t bytes) {
      return bytes * 8.0 / (v.link_kbps * 1000);
    };
    v1::AssignmentBody body = plan(capabilities[i], catalog, estimate, download, nullptr);
    benchmark::DoNotOptimize(body);
    i = (i + 1) % vehicles.size();
  }
}
BENCHMARK(BM_Plan)->Unit(benchmark::kMicrosecond);

void BM_Replan(benchmark::State& state) {
  constexpr std::size_t kVehicles = 100'000;
  static const std::vector<Vehicle> vehicles = fleet(kVehicles, 3);
  const auto threads = static_cast<std::size_t>(state.range(0));
  std::uint64_t served = 0, switched = 0;
  double cpu_s = 0;
  for (auto _ : state) {
    std::atomic<std::uint64_t> served_total{0}, switched_total{0};
    std::atomic<std::int64_t> cpu_ns{0};
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < threads; ++t) {
      pool.emplace_back([t, threads, &served_total, &switched_total, &cpu_ns] {
        Problem p;
        std::uint64_t my_served = 0, my_switched = 0;
        for (std::size_t i = t; i < kVehicles; i += threads) {
          build(vehicles[i], p);
          const Solution s = solve(p);
          my_served += s.served;
          for (std::size_t a = 0; a < kApps.size(); ++a) {
            const int chosen = s.apps[a].chosen ? static_cast<int>(*s.apps[a].chosen) : -1;
            my_switched += chosen != vehicles[i].current[a];
          }
        }
        served_total += my_served;
        switched_total += my_switched;
        timespec cpu{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
        cpu_ns += std::int64_t{cpu.tv_sec} * 1'000'000'000 + cpu.tv_nsec;
      });
    }
    for (std::thread& th : pool) th.join();
    served = served_total;
    switched = switched_total;
    cpu_s = static_cast<double>(cpu_ns) / 1e9;
  }
  state.counters["vehicles"] = kVehicles;
  state.counters["apps_served"] = static_cast<double>(served);
  state.counters["apps_switched"] = static_cast<double>(switched);
  // CPU time of the worker threads together: on a shared machine, wall time also counts
  // waiting for a core.
  state.counters["workers_cpu_s"] = cpu_s;
  state.counters["vehicles_per_s"] =
      benchmark::Counter(kVehicles, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Replan)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

}  // namespace
}  // namespace fleetml::assignment

BENCHMARK_MAIN();
