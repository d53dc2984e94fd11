#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "shared/common/clock.h"

namespace fleetml {

// A single-threaded event loop on a Clock: tasks run one at a time, in time order (FIFO among
// equal times), on the scheduler's own thread. Event-driven components (a vehicle agent, a
// thousand simulated vehicles) post their MQTT callbacks and timers here, so their state needs
// no locks and virtual time can run faster than real time with a ScaledClock.
//
// Tests that use a ManualClock do not start the thread; they call run_due() after advancing
// the clock.
class Scheduler {
 public:
  using Task = std::function<void()>;

  explicit Scheduler(const Clock& clock);
  ~Scheduler();  // stops the thread; tasks not yet run are dropped
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Thread-safe. A task that throws is logged and dropped; the loop goes on.
  void post(Task task);
  void post_at(Clock::TimePoint when, Task task);
  void post_after(Clock::Duration delay, Task task);

  void start();
  void stop();

  // Runs every task due at the clock's current time (and tasks they post that are due),
  // on the caller's thread. Returns how many ran. Must not be mixed with start().
  std::size_t run_due();

  std::size_t pending() const;
  const Clock& clock() const { return clock_; }

  // How late tasks started, in the clock's time: the largest lag seen and the mean. A
  // simulation that keeps up at its speed has small lags.
  struct LagStats {
    double max_ms = 0;
    double mean_ms = 0;
    std::uint64_t tasks = 0;
  };
  LagStats lag() const;
  // lag(), then starts the statistics afresh (e.g. to leave out a start-up backlog).
  LagStats take_lag();

 private:
  struct Entry {
    Clock::TimePoint when;
    std::uint64_t order;
    Task task;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.when != b.when ? a.when > b.when : a.order > b.order;
    }
  };

  void loop();
  Entry pop_top();  // with mutex_ held, queue_ not empty
  void run(Entry& entry);

  const Clock& clock_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::priority_queue<Entry, std::vector<Entry>, Later> queue_;
  std::uint64_t next_order_ = 0;
  bool stopping_ = false;
  std::thread thread_;
  double lag_max_ms_ = 0;
  double lag_sum_ms_ = 0;
  std::uint64_t lag_count_ = 0;
};

}  // namespace fleetml
