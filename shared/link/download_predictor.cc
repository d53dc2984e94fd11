#include "shared/link/download_predictor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "shared/common/error.h"

namespace fleetml::link {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr double kBytesPerSecondPerKbps = 1000.0 / 8.0;

// The most recent samples, oldest first, laid end to end (gaps between reports are not
// observed, so they are left out rather than counted as zero-rate time).
class History {
 public:
  History(std::span<const v1::LinkSample> samples, double max_history_s) {
    std::vector<const v1::LinkSample*> valid;
    for (const v1::LinkSample& s : samples) {
      if (s.duration_ms() > 0 && std::isfinite(s.downlink_kbps()) && s.downlink_kbps() >= 0) {
        valid.push_back(&s);
      }
    }
    std::sort(valid.begin(), valid.end(),
              [](const auto* a, const auto* b) { return a->start_unix_ms() < b->start_unix_ms(); });
    std::size_t first = valid.size();
    double kept_s = 0;
    while (first > 0 && kept_s < max_history_s) {
      --first;
      kept_s += valid[first]->duration_ms() / 1000.0;
    }
    starts_.push_back(0);
    prefix_.push_back(0);
    for (std::size_t i = first; i < valid.size(); ++i) {
      const double d = valid[i]->duration_ms() / 1000.0;
      rates_.push_back(valid[i]->downlink_kbps() * kBytesPerSecondPerKbps);
      starts_.push_back(starts_.back() + d);
      prefix_.push_back(prefix_.back() + rates_.back() * d);
    }
  }

  double duration_s() const { return starts_.back(); }
  double total_bytes() const { return prefix_.back(); }
  std::size_t size() const { return rates_.size(); }

  // Bytes delivered from the history's start to `x` in [0, 2 x duration), the history looped.
  double cumulative(double x) const {
    const double h = duration_s();
    if (x >= h) return total_bytes() + cumulative(std::min(x - h, h));
    const auto it = std::upper_bound(starts_.begin(), starts_.end(), x);
    const auto i = std::min(static_cast<std::size_t>(it - starts_.begin()) - 1, size() - 1);
    return prefix_[i] + rates_[i] * (x - starts_[i]);
  }

  // The bytes of the window of `w` seconds starting at each sample, in order:
  // cumulative(start + w) - cumulative(start), with the same arithmetic, but found by one
  // forward sweep (window ends only move forward, once per pass of the looped history)
  // instead of a binary search per window. The coordinator runs this for every model at
  // every re-plan of every vehicle, dozens of times per prediction.
  void window_bytes(double w, std::vector<double>& out) const {
    out.clear();
    const double h = duration_s();
    std::size_t j = 0;  // the sample holding the window's end, in the current pass
    bool wrapped = false;
    for (std::size_t i = 0; i < size(); ++i) {
      const double x = starts_[i] + w;
      double base = 0, y = x;
      if (x >= h) {
        if (!wrapped) {
          wrapped = true;
          j = 0;
        }
        base = total_bytes();
        y = std::min(x - h, h);
        if (y >= h) {  // a window of the whole history or more: no sweep to gain
          out.push_back(cumulative(x) - prefix_[i]);
          continue;
        }
      }
      while (j + 1 < starts_.size() && starts_[j + 1] <= y) ++j;
      const std::size_t k = std::min(j, size() - 1);
      out.push_back(base + (prefix_[k] + rates_[k] * (y - starts_[k])) - prefix_[i]);
    }
  }

 private:
  std::vector<double> rates_;   // bytes/s of each sample
  std::vector<double> starts_;  // start of each sample in the laid-out history; back() = end
  std::vector<double> prefix_;  // bytes before each sample; back() = total
};

void check_bytes(double bytes) {
  if (!std::isfinite(bytes) || bytes < 0) {
    throw Error("download prediction: bad size " + std::to_string(bytes) + " bytes");
  }
}

DownloadPrediction from_rate(double bytes, double kbps, Basis basis, double history_s) {
  const double seconds = kbps > 0 ? bytes / (kbps * kBytesPerSecondPerKbps) : kInfinity;
  return {bytes == 0 ? 0.0 : seconds, basis, history_s};
}

// The `quantile` order statistic of the bytes windows of `window_s` delivered, one window
// starting at each sample.
double window_bytes_quantile(const History& h, double window_s, double quantile,
                             std::vector<double>& scratch) {
  h.window_bytes(window_s, scratch);
  const auto k = static_cast<std::size_t>(
      std::floor(std::clamp(quantile, 0.0, 1.0) * static_cast<double>(scratch.size() - 1)));
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k),
                   scratch.end());
  return scratch[k];
}

}  // namespace

std::string to_string(Basis basis) {
  switch (basis) {
    case Basis::kSamples:
      return "samples";
    case Basis::kNominal:
      return "nominal";
    case Basis::kNone:
      break;
  }
  return "none";
}

DownloadPrediction predict_download(std::span<const v1::LinkSample> samples, double bytes,
                                    double nominal_kbps, const PredictorOptions& options) {
  check_bytes(bytes);
  const History h(samples, options.max_history_s);
  if (h.size() == 0) {
    if (nominal_kbps > 0) {
      return from_rate(bytes, nominal_kbps * options.nominal_derate, Basis::kNominal, 0);
    }
    return from_rate(bytes, 0, Basis::kNone, 0);
  }
  if (bytes == 0) return {0, Basis::kSamples, h.duration_s()};
  std::vector<double> scratch;
  const double max_window_s = std::clamp(options.max_window_fraction, 0.0, 1.0) * h.duration_s();
  const double at_max = window_bytes_quantile(h, max_window_s, options.quantile, scratch);
  if (at_max < bytes) {
    // Longer than the longest window: keep that window's low-percentile rate.
    const double seconds = at_max > 0 ? bytes / at_max * max_window_s : kInfinity;
    return {seconds, Basis::kSamples, h.duration_s()};
  }
  // The quantile of window bytes grows with the window, so bisect for the shortest window
  // whose low percentile reaches `bytes`.
  double lo = 0, hi = max_window_s;
  for (int i = 0; i < 200 && hi - lo > 1e-9 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (window_bytes_quantile(h, mid, options.quantile, scratch) >= bytes ? hi : lo) = mid;
  }
  return {hi, Basis::kSamples, h.duration_s()};
}

DownloadPrediction predict_download_mean(std::span<const v1::LinkSample> samples, double bytes,
                                         double nominal_kbps, double max_history_s) {
  check_bytes(bytes);
  const History h(samples, max_history_s);
  if (h.size() == 0) {
    return from_rate(bytes, nominal_kbps, nominal_kbps > 0 ? Basis::kNominal : Basis::kNone, 0);
  }
  const double mean_kbps = h.total_bytes() / h.duration_s() / kBytesPerSecondPerKbps;
  return from_rate(bytes, mean_kbps, Basis::kSamples, h.duration_s());
}

}  // namespace fleetml::link
