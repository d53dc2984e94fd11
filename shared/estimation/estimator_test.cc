#include "shared/estimation/estimator.h"

#include <gtest/gtest.h>

#include "shared/estimation/flops.h"
#include "shared/estimation/measured.h"
#include "shared/estimation/roofline.h"
#include "shared/estimation/test_support.h"

namespace fleetml::estimation {
namespace {

using testing::cnn;
using testing::device;

TEST(DeviceKey, SameForIdenticalDevicesAndIgnoresVehicleClockAndRam) {
  v1::Capability a = device();
  v1::Capability b = device();
  a.set_vehicle_id("car-1");
  b.set_vehicle_id("car-2");
  b.mutable_device()->set_clock_ghz(2.1);
  b.mutable_device()->set_ram_gb(4);
  b.mutable_calibration()->set_conv_gflops(123);
  EXPECT_EQ(device_key(a), device_key(b));
  EXPECT_EQ(device_key(a), "x86_64|Test CPU|4c|-|profile:test|libtorch-1.13.1|t1|opt");
}

TEST(DeviceKey, DiffersByConfigurationAndHardware) {
  const std::string base = device_key(device());
  EXPECT_NE(device_key(device(1.0, 2)), base);
  EXPECT_NE(device_key(device(1.0, 1, false)), base);
  EXPECT_NE(device_key(device(1.0, 1, true, "rpi4")), base);
  v1::Capability gpu = device();
  gpu.mutable_device()->add_gpus()->set_name("Maxwell");
  EXPECT_NE(device_key(gpu), base);
  gpu.mutable_device()->add_gpus()->set_name("Volta");
  EXPECT_EQ(device_key(gpu),
            "x86_64|Test CPU|4c|Maxwell+Volta|profile:test|libtorch-1.13.1|t1|opt");
  v1::Capability runtime = device();
  runtime.mutable_device()->set_runtime("libtorch-2.1.0");
  EXPECT_NE(device_key(runtime), base);
}

TEST(Flops, IsFlopsTimesBatchOverNominal) {
  const model::ModelProfile m = cnn(1);
  v1::Capability cap = device();
  cap.mutable_device()->set_nominal_gflops(4.4);  // DIGA's Raspberry Pi 4
  const Estimate e = FlopsEstimator().estimate({m, cap, 3});
  const double expected_ms = static_cast<double>(m.flops) * 3 / 4.4e9 * 1e3;
  EXPECT_DOUBLE_EQ(e.point_ms, expected_ms);
  EXPECT_DOUBLE_EQ(e.bound_ms, expected_ms);
  EXPECT_EQ(e.estimator, "flops");
}

TEST(Flops, ResNet18OnRaspberryPi4IsDigasFigure) {
  model::ModelProfile m;
  m.flops = 3'628'000'000;  // 2 x 1.814 GMACs
  v1::Capability cap = device();
  cap.mutable_device()->set_nominal_gflops(4.4);
  EXPECT_NEAR(FlopsEstimator().estimate({m, cap}).point_ms, 824.5, 0.1);
}

TEST(Flops, SaysWhyWithoutNominalGflops) {
  const model::ModelProfile m = cnn(0);
  v1::Capability cap = device();
  cap.mutable_device()->set_nominal_gflops(0);
  try {
    FlopsEstimator().estimate({m, cap});
    FAIL() << "expected Unavailable";
  } catch (const Unavailable& e) {
    EXPECT_NE(std::string(e.what()).find("nominal_gflops = 0"), std::string::npos) << e.what();
  }
}

TEST(Flops, RejectsBatchZero) {
  const model::ModelProfile m = cnn(0);
  const v1::Capability cap = device();
  EXPECT_THROW(FlopsEstimator().estimate({m, cap, 0}), Error);
}

TEST(MeasuredLatencies, KeepsMedianP50AndLargestP95PerDeviceKindModelAndBatch) {
  const model::ModelProfile m = cnn(2);
  const v1::Capability cap = device();
  auto measured = std::make_shared<MeasuredLatencies>();
  measured->add(device_key(cap), m.name, 1, 10, 12);
  measured->add(device_key(cap), m.name, 1, 11, 15);
  measured->add(device_key(cap), m.name, 1, 30, 31);
  const auto e = measured->find(device_key(cap), m.name, 1);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->reports, 3);
  EXPECT_DOUBLE_EQ(e->p50_ms, 11);
  EXPECT_DOUBLE_EQ(e->p95_ms, 31);
  EXPECT_FALSE(measured->find(device_key(cap), m.name, 2));
  EXPECT_FALSE(measured->find(device_key(device(1.0, 2)), m.name, 1));
  EXPECT_THROW(measured->add(device_key(cap), m.name, 1, 10, 9), Error);
}

}  // namespace
}  // namespace fleetml::estimation
