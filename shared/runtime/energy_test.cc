#include "shared/runtime/energy.h"

#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

namespace fleetml::runtime {
namespace {

namespace fs = std::filesystem;

class EnergyMeterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ =
        fs::path(::testing::TempDir()) /
        ("energy_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const fs::path& relative, const std::string& text) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << text << "\n";
  }

  fs::path root_;
};

TEST_F(EnergyMeterTest, NoSourceReadsZero) {
  EnergyMeter meter(root_);
  EXPECT_EQ(meter.source(), "");
  meter.start();
  EXPECT_EQ(meter.stop(), 0.0);
}

// Two packages, one of which wraps; subdomains (intel-rapl:0:0) are inside their package's
// count and must not be added again.
TEST_F(EnergyMeterTest, RaplSumsPackagesAndHandlesWrapAround) {
  const std::string p0 = "sys/class/powercap/intel-rapl:0/";
  const std::string p1 = "sys/class/powercap/intel-rapl:1/";
  const std::string sub = "sys/class/powercap/intel-rapl:0:0/";
  write(p0 + "energy_uj", "1000");
  write(p0 + "max_energy_range_uj", "1000000");
  write(p1 + "energy_uj", "999000");
  write(p1 + "max_energy_range_uj", "1000000");
  write(sub + "energy_uj", "5");
  write(sub + "max_energy_range_uj", "1000000");

  EnergyMeter meter(root_);
  EXPECT_EQ(meter.source(), "rapl");
  meter.start();
  write(p0 + "energy_uj", "2501000");  // 2.5 J later (no wrap within one reading)
  write(p1 + "energy_uj", "500");      // wrapped: 1000 + 500 uJ
  write(sub + "energy_uj", "900000");
  EXPECT_NEAR(meter.stop(), 2.5 + 0.0015, 1e-9);
}

TEST_F(EnergyMeterTest, UnreadableRaplCounterIsNoSource) {
  write("sys/class/powercap/intel-rapl:0/max_energy_range_uj", "1000000");
  EXPECT_EQ(EnergyMeter(root_).source(), "");
}

// Constant 5 W on a Jetson Nano's INA3221 (iio driver): the integral over the interval is at
// most 5 W x the wall time around start()..stop(), and positive.
TEST_F(EnergyMeterTest, JetsonPowerRailIsIntegrated) {
  write("sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_power0_input", "5000");
  EnergyMeter meter(root_, std::chrono::milliseconds{2});
  EXPECT_EQ(meter.source(), "jetson-sysfs");
  const auto before = std::chrono::steady_clock::now();
  meter.start();
  std::this_thread::sleep_for(std::chrono::milliseconds{30});
  const double joules = meter.stop();
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
  EXPECT_GT(joules, 0);
  EXPECT_LE(joules, 5.0 * wall_s + 1e-9);
}

// Orin-style hwmon channel: power = mV x mA.
TEST_F(EnergyMeterTest, JetsonHwmonChannelIsFound) {
  write("sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/in1_input", "5000");
  write("sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/curr1_input", "1200");
  EnergyMeter meter(root_, std::chrono::milliseconds{2});
  EXPECT_EQ(meter.source(), "jetson-sysfs");
  meter.start();
  std::this_thread::sleep_for(std::chrono::milliseconds{10});
  EXPECT_GT(meter.stop(), 0);
}

}  // namespace
}  // namespace fleetml::runtime
