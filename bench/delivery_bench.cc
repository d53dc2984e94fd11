// Delivery throughput: one artifact pulled in verified chunks from an in-process coordinator
// through a private mosquitto, against the raw rate of the same broker pushing the same bytes
// in the same block size from one client to another (same run, so the noise is shared).
//
//   build/bin/fleetml-delivery-bench [--model resnet18] [--vehicles 20] [--window 16]
//                                    [--repeat 1]
//
// Prints one table: raw MB/s, delivery MB/s for 1 vehicle and for N at once, and the ratios,
// once per repetition (raw, 1 vehicle, N vehicles, alternated), then with --repeat > 1 the
// min / median / max of each ratio: one raw transfer of a 47 MB artifact lasts 70-200 ms on
// loopback, and its rate alone swings 2-3x between runs on a shared machine.
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "bench/bench_fleet.h"
#include "shared/common/cli.h"
#include "shared/delivery/download.h"
#include "shared/delivery/sinks.h"
#include "shared/messages/topics.h"
#include "tests/support/mosquitto_broker.h"

namespace fleetml::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
const messages::Topics kTopics;

// The raw broker: `bytes` in `block` sized QoS 1 messages from one client to another.
SteadyClock::duration raw_transfer(const std::string& uri, std::uint64_t bytes,
                                   std::uint32_t block) {
  auto sender = bench_client(uri, "raw-sender");
  auto receiver = bench_client(uri, "raw-receiver");
  std::mutex mutex;
  std::condition_variable done;
  std::uint64_t received = 0;
  receiver->subscribe("raw/data", 1, [&](const transport::Message& m) {
    std::lock_guard lock(mutex);
    received += m.payload.size();
    if (received >= bytes) done.notify_all();
  });
  transport::MqttClient::connect_all({sender.get(), receiver.get()});
  const std::string payload(block, 'x');
  const auto start = SteadyClock::now();
  for (std::uint64_t sent = 0; sent < bytes; sent += block) {
    sender->publish("raw/data", payload.substr(0, std::min<std::uint64_t>(block, bytes - sent)), 1);
  }
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return received >= bytes; });
  return SteadyClock::now() - start;
}

// One vehicle pulling the artifact: FetchRequests out, Chunks in, each verified by Download.
class BenchVehicle {
 public:
  BenchVehicle(const std::string& uri, std::string id, const v1::ManifestBody& manifest,
               std::uint32_t window)
      : id_(std::move(id)), client_(bench_client(uri, id_)) {
    client_->subscribe(kTopics.chunk(id_), 1, [this](const transport::Message& m) {
      v1::Chunk chunk;
      if (!chunk.ParseFromString(m.payload)) return;
      std::lock_guard lock(mutex_);
      inbox_.push_back(std::move(chunk));
      arrived_.notify_one();
    });
    client_->connect();
    delivery::DownloadOptions options;
    options.window_blocks = window;
    download_ =
        std::make_unique<delivery::Download>(manifest, sink_, SystemClock::instance(), options);
  }

  // Runs to the end; returns false when the download failed.
  bool run() {
    while (download_->state() == delivery::Download::State::kActive) {
      for (auto& request : download_->next_requests()) {
        request.set_vehicle_id(id_);
        request.set_seq(++seq_);
        client_->publish(kTopics.fetch(id_), request.SerializeAsString(), 1);
      }
      std::unique_lock lock(mutex_);
      arrived_.wait_for(lock, std::chrono::milliseconds(200), [&] { return !inbox_.empty(); });
      std::deque<v1::Chunk> chunks;
      std::swap(chunks, inbox_);
      lock.unlock();
      for (const auto& c : chunks) download_->on_chunk(c);
    }
    return download_->state() == delivery::Download::State::kComplete;
  }

 private:
  std::string id_;
  std::unique_ptr<transport::MqttClient> client_;
  delivery::HashOnlySink sink_;
  std::unique_ptr<delivery::Download> download_;
  std::uint64_t seq_ = 0;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<v1::Chunk> inbox_;
};

SteadyClock::duration deliver(const std::string& uri, const v1::ManifestBody& manifest,
                              int vehicles, std::uint32_t window, int round) {
  std::vector<std::unique_ptr<BenchVehicle>> fleet;
  for (int i = 0; i < vehicles; ++i) {
    fleet.push_back(std::make_unique<BenchVehicle>(
        uri, "bench-" + std::to_string(round) + "-" + std::to_string(i), manifest, window));
  }
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  const auto start = SteadyClock::now();
  for (auto& v : fleet) {
    threads.emplace_back([&, vehicle = v.get()] {
      if (!vehicle->run()) ++failed;
    });
  }
  for (auto& t : threads) t.join();
  const auto elapsed = SteadyClock::now() - start;
  if (failed > 0) throw Error(std::to_string(failed.load()) + " downloads failed");
  return elapsed;
}

int run(const cli::Args& args) {
  const std::string model = args.str("model");
  if (args.integer("vehicles") < 1 || args.integer("repeat") < 1) {
    throw cli::UsageError("--vehicles and --repeat must be >= 1");
  }
  if (args.integer("window") < 1 || args.integer("window") > delivery::kMaxWindowBlocks) {
    throw cli::UsageError("--window: expected 1 to " + std::to_string(delivery::kMaxWindowBlocks));
  }
  const int vehicles = static_cast<int>(args.integer("vehicles"));
  const auto window = static_cast<std::uint32_t>(args.integer("window"));
  const int repeat = static_cast<int>(args.integer("repeat"));
  const std::filesystem::path zoo = args.str("zoo");

  test::MosquittoBroker broker;
  BenchCoordinator coordinator(broker.uri(), "delivery-bench");
  std::fprintf(stderr, "delivery-bench: registering %s\n", model.c_str());
  const auto registered = coordinator.get().catalog().add(
      zoo / (model + ".pt"), {model, "image-classification", 0.7, {1, 3, 224, 224}});
  v1::ManifestBody manifest;
  manifest.ParseFromString(registered.version.manifest.body());
  const double bytes = static_cast<double>(manifest.size_bytes());

  std::printf("artifact %s: %.1f MB, block %u KiB, window %u\n", model.c_str(), bytes / 1e6,
              manifest.block_size() / 1024, window);
  std::printf("%-28s %10s %10s\n", "run", "MB/s", "vs raw");
  std::vector<double> one_ratios, many_ratios;
  for (int r = 0; r < repeat; ++r) {
    std::fprintf(stderr, "delivery-bench: raw broker, 1 stream\n");
    const auto raw = raw_transfer(broker.uri(), manifest.size_bytes(), manifest.block_size());
    std::fprintf(stderr, "delivery-bench: 1 vehicle\n");
    const auto one = deliver(broker.uri(), manifest, 1, window, 2 * r + 1);
    std::fprintf(stderr, "delivery-bench: %d vehicles at once\n", vehicles);
    const auto many = deliver(broker.uri(), manifest, vehicles, window, 2 * r + 2);

    const double raw_rate = mb_per_s(bytes, raw);
    const double one_rate = mb_per_s(bytes, one);
    const double many_rate = mb_per_s(bytes * vehicles, many);
    one_ratios.push_back(one_rate / raw_rate);
    many_ratios.push_back(many_rate / raw_rate);
    std::printf("%-28s %10.1f %10.2f\n", "raw broker, 1 stream", raw_rate, 1.0);
    std::printf("%-28s %10.1f %10.2f\n", "delivery, 1 vehicle", one_rate, one_ratios.back());
    std::printf("%-28s %10.1f %10.2f  (aggregate; %.1f MB/s per vehicle)\n",
                ("delivery, " + std::to_string(vehicles) + " vehicles").c_str(), many_rate,
                many_ratios.back(), many_rate / vehicles);
  }
  print_ratio_summary("1 vehicle vs raw", one_ratios);
  print_ratio_summary(std::to_string(vehicles) + " vehicles vs raw", many_ratios);
  return 0;
}

}  // namespace
}  // namespace fleetml::bench

int main(int argc, char** argv) {
  using namespace fleetml;
  cli::Command command;
  command.summary = "delivery throughput vs the raw broker rate";
  command.declare = [](cli::Parser& p) {
    p.option("model", "ID", "zoo artifact to deliver", "resnet18");
    p.option("vehicles", "N", "vehicles downloading at once in the second run", "20");
    p.option("window", "W", "fetch requests in flight per vehicle",
             std::to_string(delivery::DownloadOptions{}.window_blocks));
    p.option("repeat", "R", "raw + delivery measurements, alternated (then min/median)", "1");
    bench::add_zoo_option(p);
  };
  command.run = bench::run;
  return cli::run_program("fleetml-delivery-bench", "delivery throughput vs the raw broker",
                          {command}, argc, argv);
}
