#include "shared/assignment/reasons.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <string_view>

namespace fleetml::assignment::reasons {
namespace {

// A figure to print: value, decimals, unit.
struct Num {
  double v;
  int decimals;
  std::string_view unit = "";
};

Num ms(double v) { return {v, 1, " ms"}; }
Num acc(double v) { return {v, 3}; }
Num util(double v) { return {v, 3}; }
Num mb(double v) { return {v, 1, " MB"}; }
Num sec(double v) { return {v, 1, " s"}; }
Num watts(double v) { return {v, 3, " W"}; }

// Appends to one string; a reason costs one allocation, which matters at hundreds of
// rejections per vehicle.
class Text {
 public:
  Text() { s_.reserve(120); }
  Text& operator<<(std::string_view v) {
    s_.append(v);
    return *this;
  }
  Text& operator<<(std::size_t v) {
    std::array<char, 24> buf;
    s_.append(buf.data(), std::to_chars(buf.data(), buf.data() + buf.size(), v).ptr);
    return *this;
  }
  Text& operator<<(const Num& n) {
    append_number(n.v, n.decimals);
    s_.append(n.unit);
    return *this;
  }
  // Starts a new clause: "; " unless this is the first.
  Text& clause() {
    if (!s_.empty()) s_.append("; ");
    return *this;
  }
  bool empty() const { return s_.empty(); }
  std::string take() { return std::move(s_); }

  // Rounds to `decimals` (<= 6) in integer arithmetic, much faster than to_chars' precision
  // formatting; numbers beyond 1e12 get the shortest form instead.
  void append_number(double v, int decimals) {
    static constexpr double kScale[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};
    std::array<char, 32> buf;
    if (std::isinf(v)) {
      s_.append(v > 0 ? "inf" : "-inf");
      return;
    }
    if (!(std::fabs(v) < 1e12)) {
      s_.append(buf.data(), std::to_chars(buf.data(), buf.data() + buf.size(), v).ptr);
      return;
    }
    const double scaled = std::fabs(v) * kScale[decimals];
    auto q = static_cast<std::int64_t>(scaled);
    q += scaled - static_cast<double>(q) >= 0.5;  // half up, like llround
    if (q == 0) {
      s_.push_back('0');
      return;
    }
    if (v < 0) s_.push_back('-');
    // Digits of q with a decimal point `decimals` from the right, trailing zeros dropped.
    char* end = std::to_chars(buf.data(), buf.data() + buf.size(), q).ptr;
    const auto digits = static_cast<int>(end - buf.data());
    int fraction = decimals;
    while (fraction > 0 && end[-1] == '0') {
      --end;
      --fraction;
    }
    const int integer_digits = digits - decimals;
    if (integer_digits <= 0) {
      s_.append("0.");
      s_.append(static_cast<std::size_t>(-integer_digits), '0');
      s_.append(buf.data(), end);
      return;
    }
    s_.append(buf.data(), static_cast<std::size_t>(integer_digits));
    if (fraction > 0) {
      s_.push_back('.');
      s_.append(buf.data() + integer_digits, end);
    }
  }

 private:
  std::string s_;
};

double utilization_of(const AppProblem& app, const Candidate& c) {
  return utilization(app.rate_hz, app.batch, c.bound_ms);
}

}  // namespace

RejectCode first_violation(std::uint8_t v) {
  if (v & kViolatesDeadline) return RejectCode::kDeadline;
  if (v & kViolatesAccuracy) return RejectCode::kAccuracyFloor;
  if (v & kViolatesDownload) return RejectCode::kDownload;
  if (v & kViolatesUtilization) return RejectCode::kUtilization;
  return RejectCode::kMemory;
}

std::string number(double v, int decimals) {
  Text t;
  t.append_number(v, decimals);
  return t.take();
}

AppReasons::AppReasons(const Problem& problem, const AppProblem& app, const Candidate* chosen,
                       double others_utilization, double others_memory_mb)
    : problem_(problem),
      app_(app),
      chosen_(chosen),
      others_utilization_(others_utilization),
      others_memory_mb_(others_memory_mb) {
  auto text = [](auto&&... parts) {
    Text t;
    (t << ... << parts);
    return t.take();
  };
  deadline_ = text(" > deadline ", ms(app.deadline_ms));
  floor_ = text(" < floor ", acc(app.min_accuracy));
  download_budget_ = text(" > budget ", sec(app.download_budget_s));
  rate_ = text(" (", Num{app.rate_hz, 2}, " Hz / batch ", std::size_t{app.batch}, " x bound ");
  cap_ = text(") > cap ", util(problem.utilization_cap));
  memory_budget_ = text(" > budget ", mb(problem.memory_budget_mb));
  joint_utilization_ =
      text(" + ", util(others_utilization), " of the other applications' models > cap ",
           util(problem.utilization_cap));
  joint_memory_ = text(" + ", mb(others_memory_mb), " of the other applications' models > budget ",
                       mb(problem.memory_budget_mb));
  if (chosen != nullptr) {
    below_chosen_ = text(" < ", acc(chosen->accuracy), " of chosen ", chosen->model_id);
  }
}

std::string AppReasons::violations(const Candidate& c, std::uint8_t v) const {
  Text t;
  if (v & kViolatesDeadline) t.clause() << "bound " << ms(c.bound_ms) << deadline_;
  if (v & kViolatesAccuracy) t.clause() << "accuracy " << acc(c.accuracy) << floor_;
  if (v & kViolatesDownload) t.clause() << "download " << sec(c.download_s) << download_budget_;
  if (v & kViolatesUtilization) {
    t.clause() << "utilization " << util(utilization_of(app_, c)) << rate_ << ms(c.bound_ms)
               << cap_;
  }
  if (v & kViolatesMemory) t.clause() << "memory " << mb(c.memory_mb) << memory_budget_;
  return t.take();
}

std::string AppReasons::joint_utilization(const Candidate& c) const {
  Text t;
  t << "utilization " << util(utilization_of(app_, c)) << joint_utilization_;
  return t.take();
}

std::string AppReasons::joint_memory(const Candidate& c) const {
  Text t;
  t << "memory " << mb(c.memory_mb) << joint_memory_;
  return t.take();
}

std::string AppReasons::lost(const Candidate& c, RejectCode code) const {
  const Candidate& ch = *chosen_;
  Text t;
  if (code == RejectCode::kHysteresis) {
    t << "accuracy " << acc(c.accuracy) << " gains " << acc(c.accuracy - ch.accuracy)
      << " over current " << ch.model_id << " (" << acc(ch.accuracy)
      << "), switching needs more than " << acc(problem_.hysteresis);
  } else if (c.current) {
    t << "current model; " << ch.model_id << " gains " << acc(ch.accuracy - c.accuracy)
      << " accuracy, more than hysteresis " << acc(problem_.hysteresis);
  } else if (c.accuracy != ch.accuracy) {
    t << "accuracy " << acc(c.accuracy) << below_chosen_;
  } else {
    t << "same accuracy as chosen " << ch.model_id << ", ";
    const double c_power = app_.rate_hz / app_.batch * c.energy_j;
    const double ch_power = app_.rate_hz / app_.batch * ch.energy_j;
    const std::uint64_t c_bytes = c.installed ? 0 : c.size_bytes;
    const std::uint64_t ch_bytes = ch.installed ? 0 : ch.size_bytes;
    if (c_power != ch_power) {
      t << "higher power " << watts(c_power) << " > " << watts(ch_power);
    } else if (c_bytes != ch_bytes) {
      t << "larger download " << mb(c_bytes / 1e6) << " > " << mb(ch_bytes / 1e6);
    } else {
      t << "power and download; the tie goes to the smaller model id";
    }
  }
  return t.take();
}

std::string AppReasons::chosen(const std::vector<Rejection>& rejected) const {
  const Candidate& c = *chosen_;
  double best_gain = -1;
  bool better_elsewhere = false;
  for (const Rejection& r : rejected) {
    const Candidate& o = app_.candidates[r.candidate];
    if (r.code == RejectCode::kHysteresis) best_gain = std::max(best_gain, o.accuracy - c.accuracy);
    better_elsewhere =
        better_elsewhere ||
        ((r.code == RejectCode::kJointUtilization || r.code == RejectCode::kJointMemory) &&
         o.accuracy > c.accuracy);
  }
  Text t;
  if (c.current && best_gain >= 0) {
    t << "current model kept: best alternative gains " << acc(best_gain)
      << ", not more than hysteresis " << acc(problem_.hysteresis);
  } else if (c.current) {
    t << "current model, still the best";
  } else if (better_elsewhere) {
    t << "most accurate that fits with the other applications' models";
  } else {
    t << "most accurate feasible";
  }
  t << ": accuracy " << acc(c.accuracy) << ", bound " << ms(c.bound_ms);
  if (!std::isinf(app_.deadline_ms)) t << " <= deadline " << ms(app_.deadline_ms);
  t << ", utilization " << util(utilization_of(app_, c)) << ", memory " << mb(c.memory_mb);
  if (c.installed) {
    t << ", installed";
  } else {
    t << ", download " << sec(c.download_s);
  }
  return t.take();
}

std::string AppReasons::none(const std::vector<Rejection>& rejected) const {
  if (app_.candidates.empty()) return "none feasible: no candidate models";
  std::array<std::size_t, 16> count{};
  double best_bound = kNoLimit, best_acc = 0, best_download = kNoLimit;
  double best_util = kNoLimit, best_memory = kNoLimit;
  for (const Rejection& r : rejected) {
    const Candidate& c = app_.candidates[r.candidate];
    ++count[static_cast<std::size_t>(r.code)];
    best_bound = std::min(best_bound, c.bound_ms);
    best_acc = std::max(best_acc, c.accuracy);
    if (!c.installed) best_download = std::min(best_download, c.download_s);
    best_util = std::min(best_util, utilization_of(app_, c));
    best_memory = std::min(best_memory, c.memory_mb);
  }
  auto n = [&count](RejectCode code) { return count[static_cast<std::size_t>(code)]; };
  Text t;
  if (n(RejectCode::kDeadline) > 0) {
    t.clause() << n(RejectCode::kDeadline) << " over deadline " << ms(app_.deadline_ms)
               << " (fastest bound " << ms(best_bound) << ")";
  }
  if (n(RejectCode::kAccuracyFloor) > 0) {
    t.clause() << n(RejectCode::kAccuracyFloor) << " below accuracy floor "
               << acc(app_.min_accuracy) << " (best " << acc(best_acc) << ")";
  }
  if (n(RejectCode::kDownload) > 0) {
    t.clause() << n(RejectCode::kDownload) << " download over budget "
               << sec(app_.download_budget_s) << " (fastest " << sec(best_download) << ")";
  }
  if (n(RejectCode::kUtilization) > 0) {
    t.clause() << n(RejectCode::kUtilization) << " alone over utilization cap "
               << util(problem_.utilization_cap) << " (lowest " << util(best_util) << ")";
  }
  if (n(RejectCode::kMemory) > 0) {
    t.clause() << n(RejectCode::kMemory) << " alone over memory budget "
               << mb(problem_.memory_budget_mb) << " (smallest " << mb(best_memory) << ")";
  }
  if (n(RejectCode::kJointUtilization) > 0) {
    t.clause() << n(RejectCode::kJointUtilization)
               << " fit alone but not within the utilization left by the other applications' "
                  "models ("
               << util(problem_.utilization_cap - others_utilization_) << ")";
  }
  if (n(RejectCode::kJointMemory) > 0) {
    t.clause() << n(RejectCode::kJointMemory)
               << " fit alone but not within the memory left by the other applications' models ("
               << mb(problem_.memory_budget_mb - others_memory_mb_) << ")";
  }
  return "none feasible: " + t.take();
}

}  // namespace fleetml::assignment::reasons
