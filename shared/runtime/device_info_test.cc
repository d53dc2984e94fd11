#include "shared/runtime/device_info.h"

#include <fstream>

#include <gtest/gtest.h>

namespace fleetml::runtime {
namespace {

namespace fs = std::filesystem;

TEST(DeviceInfoTest, DescribesThisMachine) {
  const v1::Device d = detect_device();
  EXPECT_FALSE(d.arch().empty());
  EXPECT_EQ(d.arch(), machine_arch());
  EXPECT_NE(machine_arch(), "unknown");
  EXPECT_NE(d.cpu_model(), "unknown");
  EXPECT_FALSE(d.cpu_model().empty());
  EXPECT_GT(d.cores(), 0u);
  EXPECT_GT(d.clock_ghz(), 0);
  EXPECT_GT(d.ram_gb(), 0);
  EXPECT_NE(d.os(), "unknown");
  EXPECT_TRUE(d.runtime().empty());  // the caller's to set
  if (fs::exists("/sys/devices/system/cpu/cpu0/cache/index0")) {
    EXPECT_GT(d.last_level_cache_bytes(), 0u);
    EXPECT_GE(d.last_level_cache_bytes(), d.l2_cache_bytes());
  }
}

class FakeRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ =
        fs::path(::testing::TempDir()) /
        ("device_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const fs::path& relative, const std::string& text) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative, std::ios::binary) << text;
  }

  fs::path root_;
};

TEST_F(FakeRootTest, RaspberryPi4) {
  std::string cpuinfo;
  for (int i = 0; i < 4; ++i) {
    cpuinfo += "processor\t: " + std::to_string(i) + "\nBogoMIPS\t: 108.00\n\n";
  }
  cpuinfo += "Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n";
  write("proc/cpuinfo", cpuinfo);
  for (int i = 0; i < 4; ++i) {
    write("sys/devices/system/cpu/cpu" + std::to_string(i) + "/cpufreq/cpuinfo_max_freq",
          "1800000\n");
  }
  write("sys/devices/system/cpu/cpufreq/policy0/cpuinfo_max_freq", "9999999\n");  // not a cpu
  write("proc/meminfo", "MemTotal:        7998992 kB\nMemFree:  100 kB\n");
  write("etc/os-release", "NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");

  const v1::Device d = detect_device(root_);
  EXPECT_EQ(d.cpu_model(), "Raspberry Pi 4 Model B Rev 1.4");
  EXPECT_EQ(d.cores(), 4u);
  EXPECT_DOUBLE_EQ(d.clock_ghz(), 1.8);
  EXPECT_NEAR(d.ram_gb(), 7998992 * 1024.0 / 1e9, 1e-9);
  EXPECT_EQ(d.os(), "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(d.gpus_size(), 0);
  EXPECT_EQ(d.l2_cache_bytes(), 0u);  // no cache directory: unknown
  EXPECT_EQ(d.last_level_cache_bytes(), 0u);
}

TEST_F(FakeRootTest, CachesOfAnX86WithSharedL3) {
  const fs::path dir = "sys/devices/system/cpu/cpu0/cache";
  const auto index = [&](int i, const char* level, const char* type, const char* size) {
    const fs::path d = dir / ("index" + std::to_string(i));
    write(d / "level", std::string(level) + "\n");
    write(d / "type", std::string(type) + "\n");
    write(d / "size", std::string(size) + "\n");
  };
  index(0, "1", "Data", "32K");
  index(1, "1", "Instruction", "32K");
  index(2, "2", "Unified", "1024K");
  index(3, "3", "Unified", "32768K");
  write(dir / "uevent", "");  // not an index directory

  const v1::Device d = detect_device(root_);
  EXPECT_EQ(d.l2_cache_bytes(), 1024u * 1024);
  EXPECT_EQ(d.last_level_cache_bytes(), 32768u * 1024);
}

TEST_F(FakeRootTest, CachesWhereL2IsTheLastLevel) {
  const fs::path dir = "sys/devices/system/cpu/cpu0/cache";
  write(dir / "index0/level", "1\n");
  write(dir / "index0/type", "Data\n");
  write(dir / "index0/size", "32K\n");
  write(dir / "index1/level", "1\n");
  write(dir / "index1/type", "Instruction\n");
  write(dir / "index1/size", "48K\n");
  write(dir / "index2/level", "2\n");
  write(dir / "index2/type", "Unified\n");
  write(dir / "index2/size", "1M\n");
  write(dir / "index3/level", "3\n");  // an L3 whose size does not parse is skipped
  write(dir / "index3/type", "Unified\n");
  write(dir / "index3/size", "lots\n");

  const v1::Device d = detect_device(root_);
  EXPECT_EQ(d.l2_cache_bytes(), 1u << 20);
  EXPECT_EQ(d.last_level_cache_bytes(), 1u << 20);
}

TEST_F(FakeRootTest, JetsonNanoFromTheDeviceTree) {
  write("proc/cpuinfo", "processor\t: 0\nprocessor\t: 1\nprocessor\t: 2\nprocessor\t: 3\n");
  write("proc/device-tree/model", std::string("NVIDIA Jetson Nano Developer Kit") + '\0');
  write("proc/meminfo", "MemTotal:        4051104 kB\n");
  write("sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "1479000\n");
  write("sys/class/devfreq/57000000.gpu/max_freq", "921600000\n");

  const v1::Device d = detect_device(root_);
  EXPECT_EQ(d.cpu_model(), "NVIDIA Jetson Nano Developer Kit");
  EXPECT_EQ(d.cores(), 4u);
  EXPECT_DOUBLE_EQ(d.clock_ghz(), 1.479);
  ASSERT_EQ(d.gpus_size(), 1);
  EXPECT_EQ(d.gpus(0).name(), "NVIDIA Jetson Nano Developer Kit integrated GPU");
  EXPECT_EQ(d.gpus(0).cores(), 128u);
  EXPECT_DOUBLE_EQ(d.gpus(0).clock_ghz(), 0.9216);
  EXPECT_DOUBLE_EQ(d.gpus(0).memory_gb(), d.ram_gb());
  EXPECT_EQ(d.os(), "unknown");
}

TEST_F(FakeRootTest, X86PcWithNvidiaDriverAndNoCpufreq) {
  write("proc/cpuinfo",
        "processor\t: 0\nmodel name\t: Intel(R) Core(TM) i9-10900K CPU @ 3.70GHz\n"
        "cpu MHz\t\t: 3700.000\n\nprocessor\t: 1\nmodel name\t: Intel(R) Core(TM) i9-10900K "
        "CPU @ 3.70GHz\ncpu MHz\t\t: 4900.123\n");
  write("proc/driver/nvidia/gpus/0000:01:00.0/information",
        "Model: \t\t NVIDIA GeForce RTX 3060\nIRQ:   \t\t 140\n");
  const v1::Device d = detect_device(root_);
  EXPECT_EQ(d.cpu_model(), "Intel(R) Core(TM) i9-10900K CPU @ 3.70GHz");
  EXPECT_EQ(d.cores(), 2u);
  EXPECT_NEAR(d.clock_ghz(), 4.900123, 1e-9);
  ASSERT_EQ(d.gpus_size(), 1);
  EXPECT_EQ(d.gpus(0).name(), "NVIDIA GeForce RTX 3060");
}

}  // namespace
}  // namespace fleetml::runtime
