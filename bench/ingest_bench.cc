// Coordinator ingest: capability updates from a fleet, validated, stored (SQLite, batched
// transactions) and re-planned, against the raw rate of the same broker delivering the same
// messages to a plain subscriber (same run, same publisher).
//
//   build/bin/fleetml-ingest-bench [--vehicles 1000] [--updates 4] [--repeat 31]
//
// Each repetition measures the raw broker, then, right after it, the coordinator on the next U
// updates per vehicle. Prints per repetition raw msgs/s, coordinator msgs/s (until every
// update is committed and every vehicle it changed is re-planned, the coordinator reporting
// nothing pending), the ratio, and the CPU time per message of this process (coordinator and
// Paho threads) and of the broker; with --repeat > 1 also the min, median (with its 95%
// confidence interval from six repetitions on) and max ratio and the ratio of the median
// rates; then, per phase kind, the median CPU per message of each thread by name (fleet-ingest,
// fleet-plan, MQTTAsync_rcv, ...), which says where a coordinator update costs more than a raw
// delivery. Single ratios spread widely on a shared 2-core machine (0.6-1.5), so the verdict
// is the median of many: the default 31 repetitions take about 30 s.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "bench/bench_fleet.h"
#include "shared/common/cli.h"
#include "shared/common/error.h"
#include "shared/common/thread_name.h"
#include "shared/messages/topics.h"
#include "simulation/device/device_profile.h"
#include "simulation/device/simulated_device.h"
#include "simulation/report/stats.h"
#include "tests/support/camera_capability.h"
#include "tests/support/mosquitto_broker.h"

namespace fleetml::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
const messages::Topics kTopics;

std::vector<std::pair<std::string, std::string>> updates(const std::filesystem::path& profiles,
                                                         int vehicles, int rounds) {
  const char* names[] = {"rpi4", "rpi5", "jetson-nano-cpu", "pc-i9"};
  std::vector<sim::SimulatedDevice> devices;
  for (const char* n : names) {
    devices.emplace_back(sim::load_device_profile(profiles / (std::string(n) + ".json")));
  }
  sim::Rng rng(1);
  std::vector<std::pair<std::string, std::string>> out;
  for (int round = 1; round <= rounds; ++round) {
    for (int v = 0; v < vehicles; ++v) {
      // A fresh calibration (the device model's noise) in every update.
      const v1::Capability cap = test::camera_capability(devices[v % devices.size()], rng,
                                                         std::to_string(v).insert(0, 1, 'v'),
                                                         static_cast<std::uint64_t>(round));
      out.emplace_back(kTopics.capability(cap.vehicle_id()), cap.SerializeAsString());
    }
  }
  return out;
}

// The bench's own clients, connected once before the first phase: a connection made while
// other clients of the process are connected waits for Paho's 1 s network poll (see
// MqttClient::connect_all), so connecting per phase put 1-2 s between the two phases of a
// pair, over which the shared machine's load changes. Connected once, a raw phase and its
// coordinator phase run back to back.
class BenchClients {
 public:
  explicit BenchClients(const std::string& uri)
      : sender_(bench_client(uri, "bench-sender")), receiver_(bench_client(uri, "raw-receiver")) {
    receiver_->subscribe("raw/#", 1, [this](const transport::Message&) {
      std::lock_guard lock(mutex_);
      if (++received_ == expected_) done_.notify_all();
    });
    transport::MqttClient::connect_all({sender_.get(), receiver_.get()});
  }

  transport::MqttClient& sender() { return *sender_; }

  // The same messages under raw/..., from the same sender to a plain subscriber: from the
  // first publish until the subscriber has them all.
  SteadyClock::duration raw_rate(const std::vector<std::pair<std::string, std::string>>& messages) {
    {
      std::lock_guard lock(mutex_);
      received_ = 0;
      expected_ = messages.size();
    }
    const auto start = SteadyClock::now();
    for (const auto& [topic, payload] : messages) {
      sender_->publish(std::string(topic).insert(0, "raw/"), payload, 1);
    }
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return received_ == expected_; });
    return SteadyClock::now() - start;
  }

 private:
  std::unique_ptr<transport::MqttClient> sender_;
  std::unique_ptr<transport::MqttClient> receiver_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::size_t received_ = 0;
  std::size_t expected_ = 0;
};

// From the first publish until every message is stored (its transaction committed) and every
// vehicle it changed has been re-planned with it (a changed assignment signed, stored and
// published): the coordinator reports nothing pending.
SteadyClock::duration coordinator_rate(
    transport::MqttClient& sender, coordinator::Coordinator& coordinator,
    const std::vector<std::pair<std::string, std::string>>& messages, int vehicles) {
  const auto before = coordinator.stats();
  const auto start = SteadyClock::now();
  for (const auto& [topic, payload] : messages) sender.publish(topic, payload, 1);
  std::optional<SteadyClock::time_point> stored;
  for (;;) {
    const auto s = coordinator.stats();
    const auto handled =
        s.ingested + s.stale + s.rejected - before.ingested - before.stale - before.rejected;
    if (handled >= messages.size() && s.pending_inbound == 0) {
      if (!stored) stored = SteadyClock::now();
      if (s.pending_plans == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto end = SteadyClock::now();
  const auto s = coordinator.stats();
  auto ms = [&](SteadyClock::time_point t) {
    return std::chrono::duration<double, std::milli>(t - start).count();
  };
  std::fprintf(stderr,
               "ingest-bench: ingested %llu, rejected %llu, plans %llu, published %llu; all "
               "stored at %.0f ms, all planned at %.0f ms\n",
               static_cast<unsigned long long>(s.ingested - before.ingested),
               static_cast<unsigned long long>(s.rejected - before.rejected),
               static_cast<unsigned long long>(s.plans - before.plans),
               static_cast<unsigned long long>(s.published - before.published), ms(*stored),
               ms(end));
  if (s.plans - before.plans < static_cast<std::uint64_t>(vehicles)) {
    throw Error("ingest-bench: fewer plans than vehicles");
  }
  return end - start;
}

// Each vehicle's stored capability is its last one (`final_seq`): nothing was lost or left
// behind. Runs after the timed phase, so its reads are not counted as ingest CPU.
void check_stored(coordinator::Coordinator& coordinator, int vehicles, std::uint64_t final_seq) {
  const auto stored_vehicles = coordinator.database().vehicles();
  if (stored_vehicles.size() != static_cast<std::size_t>(vehicles)) {
    throw Error("ingest-bench: " + std::to_string(stored_vehicles.size()) +
                " vehicles stored, expected " + std::to_string(vehicles));
  }
  for (const auto& v : stored_vehicles) {
    if (v.capability_seq != final_seq) {
      throw Error("ingest-bench: vehicle " + v.vehicle_id + " has capability seq " +
                  std::to_string(v.capability_seq) + " stored, expected " +
                  std::to_string(final_seq));
    }
  }
}

// CPU time per thread name: this process's threads (the coordinator's are named fleet-*,
// Paho's MQTTAsync_*) and the broker's, in ms, from the kernel's schedstat (time on CPU, ns).
// A thread that ends between two snapshots loses its time; Paho's threads (shared by all
// clients of the process) start with the first client and run until the last one is gone.
using CpuByThread = std::map<std::string, double>;
constexpr const char* kBroker = "mosquitto (broker)";

double schedstat_ms(const std::filesystem::path& file) {
  std::ifstream in(file);
  double ns = 0;
  in >> ns;
  return ns / 1e6;
}

CpuByThread cpu_by_thread(pid_t broker) {
  CpuByThread cpu;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    cpu[name] += schedstat_ms(task.path() / "schedstat");
  }
  cpu[kBroker] = schedstat_ms("/proc/" + std::to_string(broker) + "/schedstat");
  return cpu;
}

struct Phase {
  double per_s = 0;
  CpuByThread us_per_msg;  // CPU µs per message, per thread name

  double process_us_per_msg() const {
    double total = 0;
    for (const auto& [name, us] : us_per_msg) total += name == kBroker ? 0 : us;
    return total;
  }
};

// Also prints the phase's window on the steady clock, for `perf record -k CLOCK_MONOTONIC` and
// `perf report --time START,END`.
template <typename F>
Phase timed(const char* phase, pid_t broker, std::size_t messages, F&& run) {
  const CpuByThread before = cpu_by_thread(broker);
  const auto seconds = [](SteadyClock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  };
  const auto start = SteadyClock::now();
  const SteadyClock::duration elapsed = run();
  std::fprintf(stderr, "ingest-bench: %s window %.3f,%.3f (steady clock, s)\n", phase,
               seconds(start), seconds(start + elapsed));
  const double n = static_cast<double>(messages);
  Phase result{n / std::chrono::duration<double>(elapsed).count(), {}};
  for (const auto& [name, ms] : cpu_by_thread(broker)) {
    const auto it = before.find(name);
    result.us_per_msg[name] = (ms - (it == before.end() ? 0 : it->second)) / n * 1000;
  }
  return result;
}

// Median CPU µs per message of each thread over the phases, the threads using at least 1 µs.
void print_cpu_breakdown(const char* what, const std::vector<Phase>& phases) {
  CpuByThread medians;
  for (const auto& [name, ignored] : phases.front().us_per_msg) {
    std::vector<double> values;
    for (const Phase& p : phases) {
      const auto it = p.us_per_msg.find(name);
      values.push_back(it == p.us_per_msg.end() ? 0 : it->second);
    }
    if (const double m = sim::percentile(std::move(values), 0.5); m >= 1) medians[name] = m;
  }
  std::printf("%s, CPU µs per message by thread (median):", what);
  for (const auto& [name, us] : medians) std::printf(" %s %.0f,", name.c_str(), us);
  std::printf("\n");
}

int run(const cli::Args& args) {
  name_current_thread("bench-main");
  const int vehicles = static_cast<int>(args.integer("vehicles"));
  const int rounds = static_cast<int>(args.integer("updates"));
  const int repeat = static_cast<int>(args.integer("repeat"));
  if (vehicles < 1 || rounds < 1 || repeat < 1) {
    throw cli::UsageError("--vehicles, --updates and --repeat must be >= 1");
  }
  const std::filesystem::path zoo = args.str("zoo");
  const std::filesystem::path source = args.str("source");

  test::MosquittoBroker broker;
  BenchCoordinator coordinator(broker.uri(), "ingest-bench");
  for (const char* model : {"mobilenet_v3_small", "mobilenet_v2", "resnet18", "resnet50"}) {
    std::fprintf(stderr, "ingest-bench: registering %s\n", model);
    coordinator.get().catalog().add(zoo / (std::string(model) + ".pt"),
                                    {model, "image-classification", 0.7, {1, 3, 224, 224}});
  }
  const auto messages = updates(source / "simulation/profiles", vehicles, 1 + rounds * repeat);
  const auto slice = [&](int first_round, int count) {
    const auto begin = messages.begin() + static_cast<std::ptrdiff_t>(first_round) * vehicles;
    return std::vector<std::pair<std::string, std::string>>(
        begin, begin + static_cast<std::ptrdiff_t>(count) * vehicles);
  };
  BenchClients clients(broker.uri());
  std::fprintf(stderr, "ingest-bench: first capabilities of %d vehicles (not timed)\n", vehicles);
  coordinator_rate(clients.sender(), coordinator.get(), slice(0, 1), vehicles);
  check_stored(coordinator.get(), vehicles, 1);

  std::printf("%d vehicles x %d capability updates (%.0f bytes each)\n", vehicles, rounds,
              static_cast<double>(messages.front().second.size()));
  std::printf("%-36s %10s %8s %22s\n", "run", "msgs/s", "vs raw",
              "CPU µs/msg: this process, broker");
  std::vector<double> ratios;
  std::vector<Phase> raw_phases;
  std::vector<Phase> ingest_phases;
  const auto print_row = [](const char* what, const Phase& phase, double ratio) {
    std::printf("%-36s %10.0f %8.2f %12.0f %9.0f\n", what, phase.per_s, ratio,
                phase.process_us_per_msg(), phase.us_per_msg.at(kBroker));
  };
  for (int r = 0; r < repeat; ++r) {
    const auto measured = slice(1 + r * rounds, rounds);
    std::fprintf(stderr, "ingest-bench: raw broker, %zu messages\n", measured.size());
    const Phase raw =
        timed("raw", broker.pid(), measured.size(), [&] { return clients.raw_rate(measured); });
    std::fprintf(stderr, "ingest-bench: coordinator, %zu capability updates\n", measured.size());
    const auto final_seq = static_cast<std::uint64_t>(1 + (r + 1) * rounds);
    const Phase ingest = timed("coordinator", broker.pid(), measured.size(), [&] {
      return coordinator_rate(clients.sender(), coordinator.get(), measured, vehicles);
    });
    check_stored(coordinator.get(), vehicles, final_seq);
    ratios.push_back(ingest.per_s / raw.per_s);
    print_row("raw broker (plain subscriber)", raw, 1.0);
    print_row("coordinator (store + re-plan)", ingest, ratios.back());
    raw_phases.push_back(raw);
    ingest_phases.push_back(ingest);
  }
  print_ratio_summary("ratio", ratios);
  if (repeat > 1) {
    // The raw rate varies more between repetitions than the coordinator's, so an odd raw
    // repetition moves its paired ratio; the ratio of the median rates pairs nothing.
    std::vector<double> raw_rates;
    std::vector<double> ingest_rates;
    for (const Phase& p : raw_phases) raw_rates.push_back(p.per_s);
    for (const Phase& p : ingest_phases) ingest_rates.push_back(p.per_s);
    const double raw = sim::percentile(std::move(raw_rates), 0.5);
    const double ingest = sim::percentile(std::move(ingest_rates), 0.5);
    std::printf("median rates: raw %.0f msgs/s, coordinator %.0f msgs/s, ratio %.2f\n", raw, ingest,
                ingest / raw);
  }
  print_cpu_breakdown("raw broker", raw_phases);
  print_cpu_breakdown("coordinator", ingest_phases);
  return 0;
}

}  // namespace
}  // namespace fleetml::bench

int main(int argc, char** argv) {
  using namespace fleetml;
  cli::Command command;
  command.summary = "coordinator ingest rate vs the raw broker rate";
  command.declare = [](cli::Parser& p) {
    p.option("vehicles", "N", "vehicles sending capability updates", "1000");
    p.option("updates", "U", "timed updates per vehicle (after one untimed first)", "4");
    p.option("repeat", "R", "raw + coordinator measurements, alternated (then min/median)", "31");
    bench::add_zoo_option(p);
    p.option("source", "DIR", "fleetml source tree (device profiles)", FLEETML_SOURCE_DIR);
  };
  command.run = bench::run;
  return cli::run_program("fleetml-ingest-bench", "coordinator ingest vs the raw broker", {command},
                          argc, argv);
}
