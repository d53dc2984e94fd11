#include "simulation/fleet/sim_platform.h"

#include <algorithm>
#include <cmath>

#include "shared/common/error.h"
#include "shared/delivery/sinks.h"

namespace fleetml::sim {
namespace {

constexpr int kRepeats = 20;

}  // namespace

// The agent's sink for a simulated vehicle: hashes the verified stream, stores nothing, and
// records the download on the platform. There is no file, so artifact_path() is empty (the
// Installer is metadata-only).
class SimPlatform::Sink final : public vehicle::ArtifactSink {
 public:
  explicit Sink(SimPlatform& platform) : platform_(platform) {}

  std::uint64_t open(const v1::ManifestBody& manifest) override {
    const double start = platform_.link_time_s(platform_.clock_.now());
    index_ = platform_.downloads_.size();
    platform_.downloads_.push_back(
        {manifest.model_id(), manifest.version(), manifest.size_bytes(), start, -1,
         platform_.link_.finish_time_s(start, static_cast<double>(manifest.size_bytes())) - start});
    return sink_.open(manifest);
  }
  void append(std::string_view data) override { sink_.append(data); }
  void commit() override {}
  crypto::FileDigest digest() override { return sink_.digest(); }
  void complete() override {
    // The agent takes a chunk when the broker hands it over, before the link delivers it:
    // the last byte arrives when the link's last chunk does.
    platform_.downloads_.at(index_).end_s =
        std::max(platform_.link_time_s(platform_.clock_.now()), platform_.busy_until_s_);
  }
  std::filesystem::path artifact_path() const override { return {}; }
  void discard() override {}  // nothing kept: the next open() starts from zero anyway

 private:
  SimPlatform& platform_;
  std::size_t index_ = 0;
  delivery::HashOnlySink sink_;
};

SimPlatform::SimPlatform(const SimulatedDevice& device, TraceLink link,
                         const ModelStructures& models, const Clock& clock,
                         Clock::TimePoint link_zero, std::uint64_t seed, double history_s)
    : device_(device),
      link_(std::move(link)),
      models_(models),
      clock_(clock),
      link_zero_(link_zero),
      rng_(seed),
      busy_until_s_(0),
      next_sample_s_(-std::floor(history_s)) {}

double SimPlatform::link_time_s(Clock::TimePoint t) const {
  return std::chrono::duration<double>(t - link_zero_).count();
}

Clock::TimePoint SimPlatform::clock_time(double link_s) const {
  return link_zero_ +
         std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(link_s));
}

v1::Device SimPlatform::describe_device() { return device_.device(); }

v1::Calibration SimPlatform::calibrate() {
  v1::Calibration calibration = device_.calibration(rng_);
  calibration.set_measured_unix_ms(clock_.now_unix_ms());
  return calibration;
}

const model::ModelProfile& SimPlatform::structure(const std::string& model_id) const {
  const auto it = models_.find(model_id);
  if (it == models_.end()) {
    throw Error("simulated device: no characterization of model '" + model_id + "' in the zoo");
  }
  return it->second;
}

delivery::SmokeResult SimPlatform::smoke_test(const std::filesystem::path&,
                                              const v1::ManifestBody& manifest) {
  const double need_mb = device_.peak_memory_mb(structure(manifest.model_id()), 1);
  const double have_mb = device_.device().ram_gb() * 1000;
  if (need_mb > have_mb) {
    return {false, "out of memory: needs " + std::to_string(static_cast<long>(need_mb)) +
                       " MB, the device has " + std::to_string(static_cast<long>(have_mb)) + " MB"};
  }
  return {true, ""};
}

v1::Measurement SimPlatform::benchmark(const std::filesystem::path&,
                                       const v1::ManifestBody& manifest,
                                       const v1::Application& app) {
  const int batch = static_cast<int>(std::max<std::uint32_t>(app.batch(), 1));
  v1::Measurement m = device_.measure(structure(manifest.model_id()), batch, kRepeats, rng_);
  m.set_energy_source("simulated");
  return m;
}

std::unique_ptr<vehicle::ArtifactSink> SimPlatform::open_sink(const std::filesystem::path&) {
  return std::make_unique<Sink>(*this);
}

Clock::TimePoint SimPlatform::chunk_arrival(Clock::TimePoint received, std::size_t bytes) {
  const double start = std::max(link_time_s(received), busy_until_s_);
  busy_until_s_ = link_.finish_time_s(start, static_cast<double>(bytes));
  return clock_time(busy_until_s_);
}

std::optional<std::vector<v1::LinkSample>> SimPlatform::link_samples(Clock::TimePoint,
                                                                     Clock::TimePoint to) {
  // Whole seconds only, each once: `from` is where the agent's previous call ended, and the
  // seconds between are still owed when a call falls inside a second.
  const double end = std::floor(link_time_s(to));
  if (end <= next_sample_s_) return std::vector<v1::LinkSample>{};
  const auto count = static_cast<std::size_t>(end - next_sample_s_);
  std::vector<v1::LinkSample> samples =
      link_.samples(next_sample_s_, count, to_unix_ms(link_zero_));
  next_sample_s_ = end;
  return samples;
}

}  // namespace fleetml::sim
