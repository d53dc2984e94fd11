#include "shared/runtime/energy.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace fleetml::runtime {
namespace {

namespace fs = std::filesystem;

std::optional<double> read_number(const fs::path& file) {
  std::ifstream in(file);
  double value = 0;
  if (!(in >> value)) return std::nullopt;
  return value;
}

// Subdirectories of `dir` (sorted), empty when it is missing or unreadable.
std::vector<fs::path> children(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct RaplDomain {
  fs::path energy_file;
  double range_uj = 0;
  double start_uj = 0;
};

// Package-level RAPL domains ("intel-rapl:0", not the "intel-rapl:0:0" subdomains they
// contain) whose counter this process may read (recent kernels restrict it to root).
std::vector<RaplDomain> find_rapl(const fs::path& root) {
  std::vector<RaplDomain> domains;
  for (const fs::path& dir : children(root / "sys/class/powercap")) {
    const std::string name = dir.filename().string();
    if (!name.starts_with("intel-rapl:") || name.find(':') != name.rfind(':')) continue;
    const auto energy = read_number(dir / "energy_uj");
    const auto range = read_number(dir / "max_energy_range_uj");
    if (energy && range && *range > 0) domains.push_back({dir / "energy_uj", *range, 0});
  }
  return domains;
}

// A Jetson INA3221 rail giving the board's total input power in mW.
struct PowerRail {
  fs::path power_mw;    // iio: power in mW
  fs::path voltage_mv;  // hwmon: voltage in mV ...
  fs::path current_ma;  // ... and current in mA

  std::optional<double> read_mw() const {
    if (!power_mw.empty()) return read_number(power_mw);
    const auto mv = read_number(voltage_mv);
    const auto ma = read_number(current_ma);
    if (!mv || !ma) return std::nullopt;
    return *mv * *ma / 1000.0;
  }
};

std::optional<PowerRail> find_jetson_rail(const fs::path& root) {
  // L4T 32 (Jetson Nano, TX2): ina3221x iio driver, rail 0 is the main input.
  for (const fs::path& dev : children(root / "sys/bus/i2c/drivers/ina3221x")) {
    for (const fs::path& iio : children(dev)) {
      if (!iio.filename().string().starts_with("iio:device")) continue;
      PowerRail rail{iio / "in_power0_input", {}, {}};
      if (rail.read_mw()) return rail;
    }
  }
  // L4T 34+ (Orin): mainline ina3221 hwmon driver, channel 1.
  for (const fs::path& dev : children(root / "sys/bus/i2c/drivers/ina3221")) {
    for (const fs::path& hwmon : children(dev / "hwmon")) {
      PowerRail rail{{}, hwmon / "in1_input", hwmon / "curr1_input"};
      if (rail.read_mw()) return rail;
    }
  }
  return std::nullopt;
}

}  // namespace

struct EnergyMeter::Impl {
  std::string source;
  std::chrono::milliseconds period{20};
  std::vector<RaplDomain> rapl;
  std::optional<PowerRail> rail;

  // Jetson sampling thread: integrates power between start() and stop().
  std::thread sampler;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  double joules = 0;

  void sample_loop() {
    using Clock = std::chrono::steady_clock;
    auto last_time = Clock::now();
    double last_w = rail->read_mw().value_or(0) / 1000.0;
    std::unique_lock lock(mutex);
    while (true) {
      const bool done = wake.wait_for(lock, period, [this] { return stopping; });
      const auto now = Clock::now();
      const double w = rail->read_mw().value_or(last_w * 1000.0) / 1000.0;
      joules += (w + last_w) / 2.0 * std::chrono::duration<double>(now - last_time).count();
      last_time = now;
      last_w = w;
      if (done) return;
    }
  }

  void stop_sampler() {
    if (!sampler.joinable()) return;
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    sampler.join();
  }
};

EnergyMeter::EnergyMeter(const fs::path& root, std::chrono::milliseconds sample_period)
    : impl_(std::make_unique<Impl>()) {
  impl_->period = sample_period;
  impl_->rapl = find_rapl(root);
  if (!impl_->rapl.empty()) {
    impl_->source = "rapl";
  } else if ((impl_->rail = find_jetson_rail(root))) {
    impl_->source = "jetson-sysfs";
  }
}

EnergyMeter::~EnergyMeter() { impl_->stop_sampler(); }

const std::string& EnergyMeter::source() const { return impl_->source; }

void EnergyMeter::start() {
  for (RaplDomain& d : impl_->rapl) d.start_uj = read_number(d.energy_file).value_or(0);
  if (impl_->rail) {
    impl_->stop_sampler();
    impl_->stopping = false;
    impl_->joules = 0;
    impl_->sampler = std::thread([this] { impl_->sample_loop(); });
  }
}

double EnergyMeter::stop() {
  double joules = 0;
  for (const RaplDomain& d : impl_->rapl) {
    const double end = read_number(d.energy_file).value_or(d.start_uj);
    // The counter wraps to 0 after max_energy_range_uj.
    const double delta = end >= d.start_uj ? end - d.start_uj : end + d.range_uj - d.start_uj;
    joules += delta / 1e6;
  }
  if (impl_->rail) {
    impl_->stop_sampler();
    joules += impl_->joules;
  }
  return joules;
}

}  // namespace fleetml::runtime
