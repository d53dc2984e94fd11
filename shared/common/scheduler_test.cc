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

TEST(Scheduler, LagIsHowLateTasksRanAndTakeLagStartsAfresh) {
  ManualClock clock;
  Scheduler s(clock);
  s.post([] {});
  s.post_after(1s, [] {});
  clock.advance(1250ms);  // the first task is 1250 ms late, the second 250 ms
  EXPECT_EQ(s.run_due(), 2u);
  const Scheduler::LagStats start = s.take_lag();
  EXPECT_DOUBLE_EQ(start.max_ms, 1250);
  EXPECT_DOUBLE_EQ(start.mean_ms, 750);
  EXPECT_EQ(start.tasks, 2u);
  EXPECT_EQ(s.lag().tasks, 0u);
}

// Counts the copies of what a task captured (a simulated vehicle's tasks capture 256 KiB chunks).
struct CopyCounter {
  explicit CopyCounter(int* copies) : copies(copies) {}
  CopyCounter(const CopyCounter& other) : copies(other.copies) { ++*copies; }
  CopyCounter(CopyCounter&&) = default;
  int* copies;
};

TEST(Scheduler, TasksAreMovedNotCopied) {
  ManualClock clock;
  Scheduler s(clock);
  int copies = 0;
  bool ran = false;
  s.post_after(1s, [&ran, c = CopyCounter(&copies)] { ran = c.copies != nullptr; });
  s.post([] {});  // a second entry, so the heap reorders
  clock.advance(1s);
  EXPECT_EQ(s.run_due(), 2u);
  EXPECT_TRUE(ran);
  EXPECT_EQ(copies, 0);
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
