#include "shared/common/clock.h"

#include <thread>

namespace fleetml {

std::int64_t to_unix_ms(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Clock::TimePoint from_unix_ms(std::int64_t ms) {
  return Clock::TimePoint{std::chrono::milliseconds{ms}};
}

std::int64_t Clock::now_unix_ms() const { return to_unix_ms(now()); }

Clock::TimePoint SystemClock::now() const { return std::chrono::system_clock::now(); }

void SystemClock::sleep_for(Duration d) const { std::this_thread::sleep_for(d); }

std::chrono::steady_clock::duration SystemClock::real_duration(Duration d) const {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

ScaledClock::ScaledClock(double speed, TimePoint start)
    : speed_(speed), start_(start), real_start_(std::chrono::steady_clock::now()) {}

Clock::TimePoint ScaledClock::now() const {
  const auto real_elapsed = std::chrono::steady_clock::now() - real_start_;
  const auto virtual_elapsed = std::chrono::duration<double, std::nano>(real_elapsed) * speed_;
  return start_ + std::chrono::duration_cast<Duration>(virtual_elapsed);
}

void ScaledClock::sleep_for(Duration d) const { std::this_thread::sleep_for(real_duration(d)); }

std::chrono::steady_clock::duration ScaledClock::real_duration(Duration d) const {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double, std::nano>(d) / speed_);
}

ManualClock::ManualClock(TimePoint start) : now_(start) {}

Clock::TimePoint ManualClock::now() const {
  std::lock_guard lock(mutex_);
  return now_;
}

void ManualClock::sleep_for(Duration d) const {
  std::lock_guard lock(mutex_);
  now_ += std::chrono::duration_cast<TimePoint::duration>(d);
}

std::chrono::steady_clock::duration ManualClock::real_duration(Duration) const { return {}; }

void ManualClock::advance(Duration d) { sleep_for(d); }

void ManualClock::set(TimePoint t) {
  std::lock_guard lock(mutex_);
  now_ = t;
}

Clock::TimePoint simulated_now(std::chrono::system_clock::time_point real_now,
                               std::chrono::system_clock::time_point origin, double speed) {
  return origin + std::chrono::duration_cast<Clock::Duration>((real_now - origin) * speed);
}

ScaledClock simulated_clock(double speed, std::chrono::system_clock::time_point origin) {
  return ScaledClock(speed, simulated_now(std::chrono::system_clock::now(), origin, speed));
}

}  // namespace fleetml
