#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "schemas/fleet.pb.h"
#include "simulation/rng.h"
#include "simulation/trace/trace.h"

namespace fleetml::sim {

// A simulated downlink that replays a trace, looping, from an offset: link time t (seconds)
// is trace position offset_s() + t. Delivery is fluid: during trace second i bytes flow at
// that second's constant rate, so a zero-rate second delivers nothing and a transfer can
// finish at any real time (docs/simulation.md compares this with mahimahi). Link times may
// be negative (the trace before the start, e.g. the history a vehicle reported). Pure: the
// link has no clock; the caller maps link time to its own (possibly scaled) clock.
class TraceLink {
 public:
  // Throws fleetml::Error when `trace` is null or `offset_s` is not finite.
  TraceLink(std::shared_ptr<const Trace> trace, double offset_s);

  // A link starting at a whole second drawn uniformly from [0, duration).
  static TraceLink at_random_offset(std::shared_ptr<const Trace> trace, Rng& rng);

  // A link at a whole second drawn uniformly from all seconds of the scenario's traces (a
  // trace is chosen with probability proportional to its duration). Throws fleetml::Error
  // for a scenario without traces.
  static TraceLink at_random_point(const Scenario& scenario, Rng& rng);

  const Trace& trace() const { return *trace_; }
  double offset_s() const { return offset_s_; }

  // The rate at link time t, kbit/s.
  double rate_kbps(double t_s) const;

  // Bytes delivered during [t0_s, t1_s]. Throws fleetml::Error when t1_s < t0_s.
  double delivered_bytes(double t0_s, double t1_s) const;

  // The exact link time at which a transfer of `bytes` that starts at `start_s` has received
  // them all: the earliest t with delivered_bytes(start_s, t) >= bytes (start_s for 0 bytes).
  // Throws fleetml::Error for negative or non-finite `bytes`, and when the trace delivers
  // nothing at all (the transfer would never finish).
  double finish_time_s(double start_s, double bytes) const;

  // What a vehicle on this link would report for the `count` whole seconds starting at link
  // time `from_s`: one v1::LinkSample per second with the goodput over that second (kbit/s),
  // the trace's network mode at the second's start, and start_unix_ms = zero_unix_ms +
  // 1000 * t (zero_unix_ms is the wall-clock time of link time 0).
  std::vector<v1::LinkSample> samples(double from_s, std::size_t count,
                                      std::int64_t zero_unix_ms) const;

 private:
  std::shared_ptr<const Trace> trace_;
  double offset_s_;
};

}  // namespace fleetml::sim
