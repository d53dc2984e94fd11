#include "simulation/trace/trace_link.h"

#include <cmath>

#include "shared/common/error.h"

namespace fleetml::sim {

TraceLink::TraceLink(std::shared_ptr<const Trace> trace, double offset_s)
    : trace_(std::move(trace)), offset_s_(offset_s) {
  if (trace_ == nullptr) throw Error("trace link: no trace");
  if (!std::isfinite(offset_s_)) throw Error("trace link " + trace_->name() + ": bad offset");
}

TraceLink TraceLink::at_random_offset(std::shared_ptr<const Trace> trace, Rng& rng) {
  if (trace == nullptr) throw Error("trace link: no trace");
  std::uniform_int_distribution<std::size_t> second(0, trace->duration_s() - 1);
  const auto offset = static_cast<double>(second(rng));
  return TraceLink(std::move(trace), offset);
}

TraceLink TraceLink::at_random_point(const Scenario& scenario, Rng& rng) {
  const std::size_t total = scenario.duration_s();
  if (total == 0) throw Error("scenario " + scenario.name + ": no traces");
  std::size_t second = std::uniform_int_distribution<std::size_t>(0, total - 1)(rng);
  for (const auto& trace : scenario.traces) {
    if (second < trace->duration_s()) return TraceLink(trace, static_cast<double>(second));
    second -= trace->duration_s();
  }
  throw Error("scenario " + scenario.name + ": inconsistent durations");
}

double TraceLink::rate_kbps(double t_s) const {
  return trace_->downlink_kbps(trace_->second_at(offset_s_ + t_s));
}

double TraceLink::delivered_bytes(double t0_s, double t1_s) const {
  if (!(t1_s >= t0_s)) {
    throw Error("trace link " + trace_->name() + ": interval [" + std::to_string(t0_s) + ", " +
                std::to_string(t1_s) + "] ends before it starts");
  }
  return trace_->cumulative_bytes(offset_s_ + t1_s) - trace_->cumulative_bytes(offset_s_ + t0_s);
}

double TraceLink::finish_time_s(double start_s, double bytes) const {
  if (!std::isfinite(bytes) || bytes < 0) {
    throw Error("trace link " + trace_->name() + ": cannot transfer " + std::to_string(bytes) +
                " bytes");
  }
  if (bytes == 0) return start_s;
  const double target = trace_->cumulative_bytes(offset_s_ + start_s) + bytes;
  // Rounding in the cumulative sums must not put the finish before the start.
  return std::max(start_s, trace_->position_reaching(target) - offset_s_);
}

std::vector<v1::LinkSample> TraceLink::samples(double from_s, std::size_t count,
                                               std::int64_t zero_unix_ms) const {
  std::vector<v1::LinkSample> out;
  out.reserve(count);
  for (std::size_t k = 0; k < count; ++k) {
    const double t = from_s + static_cast<double>(k);
    v1::LinkSample sample;
    sample.set_start_unix_ms(zero_unix_ms + std::llround(t * 1000.0));
    sample.set_duration_ms(1000);
    sample.set_downlink_kbps(delivered_bytes(t, t + 1.0) * 8.0 / 1000.0);
    sample.set_network(trace_->network(trace_->second_at(offset_s_ + t)));
    out.push_back(std::move(sample));
  }
  return out;
}

}  // namespace fleetml::sim
