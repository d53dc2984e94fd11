#include "shared/common/scheduler.h"

#include <exception>

#include "shared/common/log.h"

namespace fleetml {

Scheduler::Scheduler(const Clock& clock) : clock_(clock) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::post(Task task) { post_at(clock_.now(), std::move(task)); }

void Scheduler::post_after(Clock::Duration delay, Task task) {
  post_at(clock_.now() + std::chrono::duration_cast<Clock::TimePoint::duration>(delay),
          std::move(task));
}

void Scheduler::post_at(Clock::TimePoint when, Task task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push(Entry{when, next_order_++, std::move(task)});
  }
  wake_.notify_one();
}

void Scheduler::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::size_t Scheduler::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

Scheduler::LagStats Scheduler::lag() const {
  std::lock_guard lock(mutex_);
  return {lag_max_ms_, lag_count_ ? lag_sum_ms_ / static_cast<double>(lag_count_) : 0.0,
          lag_count_};
}

Scheduler::LagStats Scheduler::take_lag() {
  const LagStats stats = lag();
  std::lock_guard lock(mutex_);
  lag_max_ms_ = lag_sum_ms_ = 0;
  lag_count_ = 0;
  return stats;
}

Scheduler::Entry Scheduler::pop_top() {
  // top() is const: moving the task out (when and order stay, so the heap's order holds for
  // pop()) saves copying it, and with it everything it captured (a 256 KiB chunk).
  Entry entry = std::move(const_cast<Entry&>(queue_.top()));
  queue_.pop();
  return entry;
}

void Scheduler::run(Entry& entry) {
  const double lag_ms =
      std::chrono::duration<double, std::milli>(clock_.now() - entry.when).count();
  {
    std::lock_guard lock(mutex_);
    if (lag_ms > lag_max_ms_) lag_max_ms_ = lag_ms;
    lag_sum_ms_ += lag_ms > 0 ? lag_ms : 0;
    ++lag_count_;
  }
  try {
    entry.task();
  } catch (const std::exception& e) {
    log::error("scheduler", "task failed", {{"error", e.what()}});
  }
}

std::size_t Scheduler::run_due() {
  std::size_t ran = 0;
  for (;;) {
    Entry entry;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty() || queue_.top().when > clock_.now()) return ran;
      entry = pop_top();
    }
    run(entry);
    ++ran;
  }
}

void Scheduler::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (queue_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto now = clock_.now();
    const auto when = queue_.top().when;
    if (when > now) {
      wake_.wait_for(lock, clock_.real_duration(when - now));
      continue;
    }
    Entry entry = pop_top();
    lock.unlock();
    run(entry);
    lock.lock();
  }
}

}  // namespace fleetml
