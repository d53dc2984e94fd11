#include "vehicle_client/agent/vehicle_state.h"

#include <gtest/gtest.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "tests/support/test_env.h"

namespace fleetml::vehicle {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

TEST(VehicleStateTest, SeqStartsAtTheClockAndGrows) {
  test::TestDir dir;
  VehicleState state(dir / "vehicle.json", kNow);
  const std::uint64_t first = state.next_seq();
  EXPECT_EQ(first, static_cast<std::uint64_t>(kNow) * 1000);
  EXPECT_EQ(state.next_seq(), first + 1);
}

TEST(VehicleStateTest, SeqGrowsAcrossRestartsEvenWhenTheClockWentBack) {
  test::TestDir dir;
  std::uint64_t last = 0;
  {
    VehicleState state(dir / "vehicle.json", kNow);
    for (int i = 0; i < 5000; ++i) last = state.next_seq();  // crosses a reservation
  }
  VehicleState again(dir / "vehicle.json", kNow - 3'600'000);
  EXPECT_GT(again.next_seq(), last);
}

TEST(VehicleStateTest, MeasurementsSurviveARestart) {
  test::TestDir dir;
  v1::Measurement m;
  m.set_p50_ms(12.5);
  m.set_batch(4);
  VehicleState(dir / "vehicle.json", kNow).set_measurement("resnet18", 3, "cam", m);
  VehicleState again(dir / "vehicle.json", kNow);
  const auto loaded = again.measurement("resnet18", 3, "cam");
  ASSERT_TRUE(loaded);
  EXPECT_DOUBLE_EQ(loaded->p50_ms(), 12.5);
  EXPECT_EQ(loaded->batch(), 4u);
  EXPECT_FALSE(again.measurement("resnet18", 2, "cam"));
}

TEST(VehicleStateTest, AnUnreadableFileStopsTheAgent) {
  test::TestDir dir;
  file::write_atomic(dir / "vehicle.json", "{not json");
  EXPECT_THROW(VehicleState(dir / "vehicle.json", kNow), Error);
}

}  // namespace
}  // namespace fleetml::vehicle
