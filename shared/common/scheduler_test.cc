#include "shared/common/scheduler.h"

#include <atomic>
#include <future>
#include <stdexcept>

#include <gtest/gtest.h>

namespace fleetml {
namespace {

using namespace std::chrono_literals;

TEST(Scheduler, RunsDueTasksInTimeThenPostingOrder) {
  ManualClock clock;
  Scheduler s(clock);
  std::vector<int> ran;
  s.post_after(2s, [&] { ran.push_back(3); });
  s.post_after(1s, [&] { ran.push_back(2); });
  s.post([&] { ran.push_back(0); });
  s.post([&] { ran.push_back(1); });
  EXPECT_EQ(s.run_due(), 2u);
  EXPECT_EQ(ran, (std::vector<int>{0, 1}));
  clock.advance(1500ms);
  EXPECT_EQ(s.run_due(), 1u);
  clock.advance(1s);
  EXPECT_EQ(s.run_due(), 1u);
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(s.pending(), 0u);
}

TEST(Scheduler, TasksPostedByDueTasksRunInTheSamePass) {
  ManualClock clock;
  Scheduler s(clock);
  int count = 0;
  s.post([&] {
    ++count;
    s.post([&] { ++count; });
  });
  EXPECT_EQ(s.run_due(), 2u);
  EXPECT_EQ(count, 2);
}

TEST(Scheduler, AThrowingTaskDoesNotStopTheLoop) {
  ManualClock clock;
  Scheduler s(clock);
  bool after = false;
  s.post([] { throw std::runtime_error("boom"); });
  s.post([&] { after = true; });
  s.run_due();
  EXPECT_TRUE(after);
}

TEST(Scheduler, ThreadRunsTimersOnAScaledClock) {
  ScaledClock clock(1000.0);  // 10 virtual seconds take 10 ms
  Scheduler s(clock);
  s.start();
  std::promise<Clock::TimePoint> fired;
  const auto start = clock.now();
  s.post_after(10s, [&] { fired.set_value(clock.now()); });
  auto future = fired.get_future();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  EXPECT_GE(future.get() - start, 10s);
  s.stop();
}

}  // namespace
}  // namespace fleetml
