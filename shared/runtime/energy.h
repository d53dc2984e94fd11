#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

namespace fleetml::runtime {

// Energy drawn by the machine over an interval, where the platform exposes it:
//   "rapl"         Intel/AMD RAPL powercap package counters
//                  (<root>/sys/class/powercap/intel-rapl:N/energy_uj, wrap-around at
//                  max_energy_range_uj handled);
//   "jetson-sysfs" a Jetson INA3221 power monitor, sampled every `sample_period` on a
//                  background thread and integrated (iio in_power0_input in mW, or hwmon
//                  in1_input mV x curr1_input mA);
//   ""             nothing readable: every reading is 0.
// Whole-machine figures: other processes' energy is included. Never throws.
class EnergyMeter {
 public:
  // `root` is the filesystem root holding sys/ ("/" on a real machine; a fake tree in tests).
  explicit EnergyMeter(const std::filesystem::path& root = "/",
                       std::chrono::milliseconds sample_period = std::chrono::milliseconds{20});
  ~EnergyMeter();
  EnergyMeter(const EnergyMeter&) = delete;
  EnergyMeter& operator=(const EnergyMeter&) = delete;

  // "rapl", "jetson-sysfs" or "" (the values of v1::Measurement.energy_source).
  const std::string& source() const;
  // Starts (or restarts) an interval.
  void start();
  // Joules since start(); 0 without a source.
  double stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetml::runtime
