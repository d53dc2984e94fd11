#include "bench/bench_fleet.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "shared/common/cli.h"
#include "shared/common/error.h"
#include "shared/crypto/key_dir.h"
#include "simulation/report/stats.h"
#include "simulation/report/zoo.h"

namespace fleetml::bench {

namespace {

std::filesystem::path scratch_dir(const std::string& name) {
  std::string pattern = "/tmp/fleetml-" + name + ".XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw Error("cannot create " + pattern);
  return pattern;
}

}  // namespace

BenchCoordinator::BenchCoordinator(const std::string& broker_uri, const std::string& name)
    : dir_(scratch_dir(name)), latency_(coordinator::LatencyServiceOptions{}, {}) {
  const std::filesystem::path& dir = dir_;
  crypto::init_keys(dir / "keys");
  coordinator::CoordinatorOptions options;
  options.mqtt.broker_uri = broker_uri;
  options.mqtt.client_id = "bench-coordinator";
  options.mqtt.clean_start = true;
  options.data_dir = dir / "data";
  options.keys_dir = dir / "keys";
  std::filesystem::create_directories(options.data_dir);
  coordinator_ =
      std::make_unique<coordinator::Coordinator>(options, SystemClock::instance(), latency_);
  coordinator_->start();
}

BenchCoordinator::~BenchCoordinator() {
  coordinator_->stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void add_zoo_option(cli::Parser& parser) {
  parser.option("zoo", "DIR", "exported zoo", sim::default_zoo_dir().string());
}

std::unique_ptr<transport::MqttClient> bench_client(const std::string& broker_uri,
                                                    const std::string& id) {
  transport::ClientOptions options;
  options.broker_uri = broker_uri;
  options.client_id = id;
  options.clean_start = true;
  options.session_expiry = std::chrono::seconds(0);
  options.max_buffered = 1'000'000;
  return std::make_unique<transport::MqttClient>(options);
}

double mb_per_s(double bytes, std::chrono::steady_clock::duration elapsed) {
  return bytes / 1e6 / std::chrono::duration<double>(elapsed).count();
}

void print_ratio_summary(const std::string& what, const std::vector<double>& ratios) {
  if (ratios.size() < 2) return;
  const auto [lowest, highest] = std::minmax_element(ratios.begin(), ratios.end());
  std::string interval;
  if (const auto ci = sim::median_interval(ratios)) {
    char text[48];
    std::snprintf(text, sizeof text, " (95%% CI %.2f-%.2f)", ci->first, ci->second);
    interval = text;
  }
  std::printf("%s over %zu repetitions: min %.2f, median %.2f%s, max %.2f\n", what.c_str(),
              ratios.size(), *lowest, sim::percentile(ratios, 0.5), interval.c_str(), *highest);
}

}  // namespace fleetml::bench
