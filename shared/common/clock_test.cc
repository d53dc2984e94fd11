#include "shared/common/clock.h"

#include <gtest/gtest.h>

namespace fleetml {
namespace {

using namespace std::chrono_literals;

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock clock(from_unix_ms(1'000));
  EXPECT_EQ(clock.now_unix_ms(), 1'000);
  clock.advance(250ms);
  EXPECT_EQ(clock.now_unix_ms(), 1'250);
  clock.sleep_for(1s);
  EXPECT_EQ(clock.now_unix_ms(), 2'250);
  clock.set(from_unix_ms(5));
  EXPECT_EQ(clock.now_unix_ms(), 5);
}

TEST(ScaledClock, RunsFasterThanRealTime) {
  const auto start = from_unix_ms(0);
  ScaledClock clock(100.0, start);
  const auto real_before = std::chrono::steady_clock::now();
  clock.sleep_for(2s);  // 20 ms of real time
  const auto real_elapsed = std::chrono::steady_clock::now() - real_before;
  EXPECT_GE(clock.now() - start, 2s);
  EXPECT_LT(real_elapsed, 1s);
}

TEST(UnixMs, RoundTrips) {
  EXPECT_EQ(to_unix_ms(from_unix_ms(1'700'000'000'123)), 1'700'000'000'123);
}

TEST(Clock, SimulatedNowMatchesTheCoordinatorsFormula) {
  const auto origin = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
  const auto real = origin + std::chrono::seconds(10);
  EXPECT_EQ(simulated_now(real, origin, 10), origin + std::chrono::seconds(100));
  EXPECT_EQ(simulated_now(origin, origin, 10), origin);
}

}  // namespace
}  // namespace fleetml
