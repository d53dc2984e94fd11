#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace fleetml {

// Source of wall-clock time. Everything that stamps, expires or schedules by time takes a
// Clock, so tests can drive time by hand and simulations can run faster than real time.
class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  using Duration = std::chrono::nanoseconds;

  virtual ~Clock() = default;

  virtual TimePoint now() const = 0;

  // Blocks the caller for `d` of this clock's time (scaled or simulated clocks may return
  // sooner in real time).
  virtual void sleep_for(Duration d) const = 0;

  // Real time that passes while this clock advances by `d` (what a timed wait must block).
  virtual std::chrono::steady_clock::duration real_duration(Duration d) const = 0;

  // Milliseconds since the Unix epoch, the representation used on the wire (*_unix_ms).
  std::int64_t now_unix_ms() const;
};

// Real time.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
  void sleep_for(Duration d) const override;
  std::chrono::steady_clock::duration real_duration(Duration d) const override;

  static const SystemClock& instance();
};

// Virtual time that starts at `start` and runs `speed` times faster than real time.
class ScaledClock final : public Clock {
 public:
  explicit ScaledClock(double speed, TimePoint start = std::chrono::system_clock::now());

  TimePoint now() const override;
  void sleep_for(Duration d) const override;
  std::chrono::steady_clock::duration real_duration(Duration d) const override;
  double speed() const { return speed_; }

 private:
  double speed_;
  TimePoint start_;
  std::chrono::steady_clock::time_point real_start_;
};

// Time that moves only when told to; sleep_for advances it instantly and no real time passes
// (real_duration is zero). For tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{std::chrono::seconds{1'700'000'000}});

  TimePoint now() const override;
  void sleep_for(Duration d) const override;
  std::chrono::steady_clock::duration real_duration(Duration d) const override;
  void advance(Duration d);
  void set(TimePoint t);

 private:
  mutable std::mutex mutex_;
  mutable TimePoint now_;
};

std::int64_t to_unix_ms(Clock::TimePoint t);

// Simulated time as every process of one simulation computes it (fleet-coordinator, fleet-sim
// and fleet-vehicle with --speed X --time-origin-ms T): origin + (real_now - origin) x speed,
// so processes given the same origin agree.
Clock::TimePoint simulated_now(std::chrono::system_clock::time_point real_now,
                               std::chrono::system_clock::time_point origin, double speed);
// A ScaledClock at `speed` that reads simulated_now from now on.
ScaledClock simulated_clock(double speed, std::chrono::system_clock::time_point origin);
Clock::TimePoint from_unix_ms(std::int64_t ms);

}  // namespace fleetml
