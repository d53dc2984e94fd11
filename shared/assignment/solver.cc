#include "shared/assignment/solver.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <compare>
#include <stdexcept>

#include "shared/common/error.h"

namespace fleetml::assignment {
namespace {

// Quanta: every figure the solver adds up is an integer multiple of these, so sums are exact
// and the optimum does not depend on the order the search visits applications in.
constexpr double kUtilizationQuanta = 1e9;  // per unit of utilization
constexpr double kMemoryQuanta = 1e6;       // per MB (one byte)
constexpr double kAccuracyQuanta = 1e6;     // per unit of top-1
constexpr double kPowerQuanta = 1e6;        // per W (one microwatt)
// Larger than any quantized sum the search forms, small enough that adding a few never
// overflows; also where quantize() saturates absurd figures (which then fail their limit).
constexpr std::int64_t kHuge = std::int64_t{1} << 60;

std::int64_t quantize(double value, double quanta) {
  return std::llround(std::min(value * quanta, static_cast<double>(kHuge)));
}

// The objective of one choice, or of a set of choices (keys add up), compared
// lexicographically: member order is priority order, larger is better.
struct Key {
  std::int64_t primary = 0;       // served x S + accuracy + incumbent bonus (accuracy quanta)
  std::int64_t kept = 0;          // incumbents kept
  std::int64_t neg_power = 0;     // -(rate / batch x energy per call), microwatts
  std::int64_t neg_download = 0;  // -bytes to download

  friend auto operator<=>(const Key&, const Key&) = default;
  friend Key operator+(Key a, const Key& b) {
    a.primary += b.primary;
    a.kept += b.kept;
    a.neg_power += b.neg_power;
    a.neg_download += b.neg_download;
    return a;
  }
};

// Constraints a candidate violates on its own, one bit each, in reporting priority order.
enum Violation : std::uint8_t {
  kViolatesDeadline = 1,
  kViolatesAccuracy = 2,
  kViolatesDownload = 4,
  kViolatesUtilization = 8,
  kViolatesMemory = 16,
};

struct CandidateWork {
  std::int64_t u = 0;  // utilization quanta
  std::int64_t m = 0;  // memory quanta
  Key key;
  std::uint8_t violations = 0;
};

constexpr std::int32_t kNone = -1;

// A choice the search considers for one application: a feasible, non-dominated candidate, or
// "no model" (kNone, zero key, zero resources), which always comes last.
struct Option {
  std::int32_t candidate = kNone;
  std::int64_t u = 0;
  std::int64_t m = 0;
  Key key;
};

// One step of the upper concave hull of (resource, primary) points of one application: the
// LP relaxation of the multiple-choice knapsack buys these in order of decreasing slope.
struct Increment {
  std::int64_t w = 0;  // resource quanta, > 0
  std::int64_t p = 0;  // primary objective, > 0
};

bool steeper(const Increment& a, const Increment& b) {
  return static_cast<__int128>(a.p) * b.w > static_cast<__int128>(b.p) * a.w;
}

// The LP relaxation of one or more applications on one resource: the best primary at zero
// resource ("no model", or a model that needs none of it) plus increments by decreasing slope.
struct Hull {
  std::int64_t base = 0;
  std::vector<Increment> increments;
};

// Upper bound on the primary objective with `capacity` of the resource left.
std::int64_t lp_bound(const Hull& hull, std::int64_t capacity) {
  __int128 value = hull.base;
  for (const Increment& inc : hull.increments) {
    if (inc.w <= capacity) {
      value += inc.p;
      capacity -= inc.w;
    } else {
      value += static_cast<__int128>(inc.p) * capacity / inc.w;
      break;
    }
  }
  return static_cast<std::int64_t>(value);
}

// Upper concave hull of the options' (weight, primary) points. "No model" is among the
// options, so the lightest point has weight 0.
template <typename Weight>
Hull hull(const std::vector<Option>& options, Weight weight) {
  std::vector<Increment> points;
  points.reserve(options.size());
  for (const Option& o : options) points.push_back({weight(o), o.key.primary});
  std::sort(points.begin(), points.end(), [](const Increment& a, const Increment& b) {
    return a.w != b.w ? a.w < b.w : a.p > b.p;
  });
  std::vector<Increment> chain;
  for (const Increment& pt : points) {
    if (!chain.empty() && pt.p <= chain.back().p) continue;  // heavier and no better
    while (chain.size() >= 2) {
      const Increment& a = chain[chain.size() - 2];
      const Increment& b = chain.back();
      // Drop b when it lies on or under the segment a -> pt.
      if (static_cast<__int128>(b.p - a.p) * (pt.w - b.w) >
          static_cast<__int128>(pt.p - b.p) * (b.w - a.w)) {
        break;
      }
      chain.pop_back();
    }
    chain.push_back(pt);
  }
  Hull h{chain.front().p, {}};
  for (std::size_t i = 1; i < chain.size(); ++i) {
    h.increments.push_back({chain[i].w - chain[i - 1].w, chain[i].p - chain[i - 1].p});
  }
  return h;
}

// The relaxation of two sets of applications together.
Hull combined(const Hull& a, const Hull& b) {
  Hull out{a.base + b.base, std::vector<Increment>(a.increments.size() + b.increments.size())};
  std::merge(a.increments.begin(), a.increments.end(), b.increments.begin(), b.increments.end(),
             out.increments.begin(), steeper);
  return out;
}

struct AppWork {
  std::vector<CandidateWork> candidates;
  std::vector<Option> options;  // best key first
  Hull hull_u;
  Hull hull_m;
};

// Depth-first branch and bound over applications in input order; options are tried best key
// first, so the first leaf is the greedy solution and later ones must beat it.
class Search {
 public:
  Search(const Problem& problem, const std::vector<AppWork>& apps, std::int64_t cap_u,
         std::int64_t cap_m)
      : problem_(problem),
        apps_(apps),
        cap_u_(cap_u),
        cap_m_(cap_m),
        lp_u_(apps.size() + 1),
        lp_m_(apps.size() + 1),
        choice_(apps.size(), 0),
        best_(apps.size(), 0) {
    for (std::size_t d = apps.size(); d-- > 0;) {
      lp_u_[d] = combined(apps[d].hull_u, lp_u_[d + 1]);
      lp_m_[d] = combined(apps[d].hull_m, lp_m_[d + 1]);
    }
  }

  // Returns, per application, the index of the optimal option.
  const std::vector<std::size_t>& run() {
    if (!apps_.empty()) dfs(0, cap_u_, cap_m_, Key{});
    return best_;
  }

  std::uint64_t nodes() const { return nodes_; }

 private:
  static bool fits(const Option& o, std::int64_t ru, std::int64_t rm) {
    return o.u <= ru && o.m <= rm;
  }

  // Upper bound on the key of applications d.. given the resources left: the better of (a)
  // each application's best option that fits alone (valid for every level of the key) and
  // (b) the LP relaxations on utilization and on memory (valid for the primary level only).
  Key bound(std::size_t d, std::int64_t ru, std::int64_t rm) const {
    Key sum;
    for (std::size_t k = d; k < apps_.size(); ++k) {
      for (const Option& o : apps_[k].options) {
        if (fits(o, ru, rm)) {
          sum = sum + o.key;
          break;
        }
      }
    }
    const std::int64_t lp = std::min(lp_bound(lp_u_[d], ru), lp_bound(lp_m_[d], rm));
    if (lp < sum.primary) return Key{lp, kHuge, kHuge, kHuge};
    return sum;
  }

  void dfs(std::size_t d, std::int64_t ru, std::int64_t rm, const Key& partial) {
    ++nodes_;
    const std::vector<Option>& options = apps_[d].options;
    if (d + 1 == apps_.size()) {
      // Options are sorted best first (ties by model id): the first that fits is optimal.
      for (std::size_t i = 0; i < options.size(); ++i) {
        if (fits(options[i], ru, rm)) {
          choice_[d] = i;
          consider(partial + options[i].key);
          return;
        }
      }
      return;
    }
    const Key rest = bound(d + 1, ru, rm);
    for (std::size_t i = 0; i < options.size(); ++i) {
      const Option& o = options[i];
      if (!fits(o, ru, rm)) continue;
      const Key head = partial + o.key;
      // Keys only decrease along `options` and `rest` bounds every later sibling too.
      if (head + rest < best_key_) break;
      if (head + bound(d + 1, ru - o.u, rm - o.m) < best_key_) continue;
      choice_[d] = i;
      dfs(d + 1, ru - o.u, rm - o.m, head);
    }
  }

  void consider(const Key& key) {
    if (key > best_key_ || (key == best_key_ && ids_before(choice_, best_))) {
      best_key_ = key;
      best_ = choice_;
    }
  }

  // Final tie-break between solutions of equal key: model ids in application order, "no
  // model" after every id; then candidate indices (only matters for duplicate ids).
  bool ids_before(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) const {
    for (std::size_t k = 0; k < apps_.size(); ++k) {
      const std::int32_t ca = apps_[k].options[a[k]].candidate;
      const std::int32_t cb = apps_[k].options[b[k]].candidate;
      if (ca == cb) continue;
      if (ca == kNone || cb == kNone) return cb == kNone;
      const auto& candidates = problem_.apps[k].candidates;
      const int order = candidates[ca].model_id.compare(candidates[cb].model_id);
      if (order != 0) return order < 0;
    }
    for (std::size_t k = 0; k < apps_.size(); ++k) {
      const std::int32_t ca = apps_[k].options[a[k]].candidate;
      const std::int32_t cb = apps_[k].options[b[k]].candidate;
      if (ca != cb) return ca < cb;
    }
    return false;
  }

  const Problem& problem_;
  const std::vector<AppWork>& apps_;
  std::int64_t cap_u_;
  std::int64_t cap_m_;
  std::vector<Hull> lp_u_;  // [d]: applications d.. together
  std::vector<Hull> lp_m_;
  std::vector<std::size_t> choice_;
  std::vector<std::size_t> best_;
  Key best_key_{-1, 0, 0, 0};  // below every solution, "no model" everywhere included
  std::uint64_t nodes_ = 0;
};

// ---- reasons ------------------------------------------------------------------------------

// Fixed notation with at most `decimals` decimals, trailing zeros dropped: 143.2, 100, 0.76.
std::string num(double v, int decimals) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::array<char, 64> buf;
  auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed, decimals);
  if (ec != std::errc()) {  // too long for fixed notation: shortest form instead
    end = std::to_chars(buf.data(), buf.data() + buf.size(), v).ptr;
    return std::string(buf.data(), end);
  }
  std::string_view s(buf.data(), end - buf.data());
  if (s.find('.') != std::string_view::npos) {
    s = s.substr(0, s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.remove_suffix(1);
  }
  return s == "-0" ? "0" : std::string(s);
}

std::string ms(double v) { return num(v, 1) + " ms"; }
std::string acc(double v) { return num(v, 3); }
std::string util(double v) { return num(v, 3); }
std::string mb(double v) { return num(v, 1) + " MB"; }
std::string sec(double v) { return num(v, 1) + " s"; }

RejectCode first_violation(std::uint8_t v) {
  if (v & kViolatesDeadline) return RejectCode::kDeadline;
  if (v & kViolatesAccuracy) return RejectCode::kAccuracyFloor;
  if (v & kViolatesDownload) return RejectCode::kDownload;
  if (v & kViolatesUtilization) return RejectCode::kUtilization;
  return RejectCode::kMemory;
}

// ---- input checks -----------------------------------------------------------------------

[[noreturn]] void fail(const AppProblem* app, const Candidate* c, const std::string& what) {
  std::string where = "assignment";
  if (app != nullptr) where += " app " + app->id;
  if (c != nullptr) where += " model " + c->model_id;
  throw Error(where + ": " + what);
}

void check_nonnegative(const AppProblem* app, const Candidate* c, const char* name, double v,
                       bool allow_infinite) {
  if (std::isnan(v) || v < 0 || (!allow_infinite && std::isinf(v))) {
    fail(app, c,
         std::string(name) + " must be a " + (allow_infinite ? "" : "finite ") +
             "number >= 0, got " + num(v, 6));
  }
}

void validate(const Problem& problem) {
  if (!(problem.utilization_cap > 0) || std::isinf(problem.utilization_cap)) {
    fail(nullptr, nullptr, "utilization cap must be a finite number > 0");
  }
  check_nonnegative(nullptr, nullptr, "memory budget", problem.memory_budget_mb, false);
  check_nonnegative(nullptr, nullptr, "hysteresis", problem.hysteresis, false);
  for (const AppProblem& app : problem.apps) {
    if (app.batch == 0) fail(&app, nullptr, "batch must be >= 1");
    if (!(app.deadline_ms > 0)) fail(&app, nullptr, "deadline must be > 0 (kNoLimit for none)");
    check_nonnegative(&app, nullptr, "rate", app.rate_hz, false);
    check_nonnegative(&app, nullptr, "download budget", app.download_budget_s, true);
    if (std::isnan(app.min_accuracy)) fail(&app, nullptr, "accuracy floor is NaN");
    int current = 0;
    for (const Candidate& c : app.candidates) {
      if (c.model_id.empty()) fail(&app, nullptr, "candidate with an empty model id");
      if (!(c.accuracy >= 0 && c.accuracy <= 1)) fail(&app, &c, "accuracy must be in [0, 1]");
      check_nonnegative(&app, &c, "point latency", c.point_ms, false);
      check_nonnegative(&app, &c, "bound latency", c.bound_ms, false);
      check_nonnegative(&app, &c, "memory", c.memory_mb, false);
      check_nonnegative(&app, &c, "download time", c.download_s, true);
      check_nonnegative(&app, &c, "energy", c.energy_j, false);
      current += c.current ? 1 : 0;
    }
    if (current > 1) fail(&app, nullptr, "more than one current model");
  }
}

// Explains results; holds what every reason refers to.
class Explainer {
 public:
  Explainer(const Problem& problem, const AppProblem& app, const AppWork& work,
            const std::optional<std::size_t>& chosen, double others_utilization,
            double others_memory_mb)
      : problem_(problem),
        app_(app),
        work_(work),
        chosen_(chosen),
        others_u_(others_utilization),
        others_m_(others_memory_mb) {}

  double util_of(const Candidate& c) const {
    return utilization(app_.rate_hz, app_.batch, c.bound_ms);
  }

  // Every constraint candidate `i` fails alone, "; "-separated.
  std::string violations(std::size_t i) const {
    const Candidate& c = app_.candidates[i];
    const std::uint8_t v = work_.candidates[i].violations;
    std::string out;
    auto add = [&out](const std::string& s) { out += out.empty() ? s : "; " + s; };
    if (v & kViolatesDeadline)
      add("bound " + ms(c.bound_ms) + " > deadline " + ms(app_.deadline_ms));
    if (v & kViolatesAccuracy) {
      add("accuracy " + acc(c.accuracy) + " < floor " + acc(app_.min_accuracy));
    }
    if (v & kViolatesDownload) {
      add("download " + sec(c.download_s) + " > budget " + sec(app_.download_budget_s));
    }
    if (v & kViolatesUtilization) {
      add("utilization " + util(util_of(c)) + " (" + num(app_.rate_hz, 2) + " Hz / batch " +
          std::to_string(app_.batch) + " x bound " + ms(c.bound_ms) + ") > cap " +
          util(problem_.utilization_cap));
    }
    if (v & kViolatesMemory) {
      add("memory " + mb(c.memory_mb) + " > budget " + mb(problem_.memory_budget_mb));
    }
    return out;
  }

  std::string joint_utilization(const Candidate& c) const {
    return "utilization " + util(util_of(c)) + " + " + util(others_u_) +
           " of the other applications' models > cap " + util(problem_.utilization_cap);
  }

  std::string joint_memory(const Candidate& c) const {
    return "memory " + mb(c.memory_mb) + " + " + mb(others_m_) +
           " of the other applications' models > budget " + mb(problem_.memory_budget_mb);
  }

  // A candidate that fits with the chosen set yet lost to the chosen model.
  std::string lost(const Candidate& c, RejectCode code) const {
    const Candidate& ch = app_.candidates[*chosen_];
    if (code == RejectCode::kHysteresis) {
      return "accuracy " + acc(c.accuracy) + " gains " + acc(c.accuracy - ch.accuracy) +
             " over current " + ch.model_id + " (" + acc(ch.accuracy) +
             "), switching needs more than " + acc(problem_.hysteresis);
    }
    if (c.current) {
      return "current model; " + ch.model_id + " gains " + acc(ch.accuracy - c.accuracy) +
             " accuracy, more than hysteresis " + acc(problem_.hysteresis);
    }
    if (c.accuracy != ch.accuracy) {
      return "accuracy " + acc(c.accuracy) + " < " + acc(ch.accuracy) + " of chosen " + ch.model_id;
    }
    const double c_power = app_.rate_hz / app_.batch * c.energy_j;
    const double ch_power = app_.rate_hz / app_.batch * ch.energy_j;
    std::string why = "same accuracy as chosen " + ch.model_id + ", ";
    if (c_power != ch_power) {
      return why + "higher power " + num(c_power, 3) + " W > " + num(ch_power, 3) + " W";
    }
    const std::uint64_t c_bytes = c.installed ? 0 : c.size_bytes;
    const std::uint64_t ch_bytes = ch.installed ? 0 : ch.size_bytes;
    if (c_bytes != ch_bytes) {
      return why + "larger download " + mb(c_bytes / 1e6) + " > " + mb(ch_bytes / 1e6);
    }
    return why + "power and download; the tie goes to the smaller model id";
  }

  std::string chosen_reason(const std::vector<Rejection>& rejected) const {
    const Candidate& c = app_.candidates[*chosen_];
    std::string lead = "most accurate feasible";
    double best_gain = -1;
    bool better_elsewhere = false;
    for (const Rejection& r : rejected) {
      const Candidate& o = app_.candidates[r.candidate];
      if (r.code == RejectCode::kHysteresis)
        best_gain = std::max(best_gain, o.accuracy - c.accuracy);
      if ((r.code == RejectCode::kJointUtilization || r.code == RejectCode::kJointMemory) &&
          o.accuracy > c.accuracy) {
        better_elsewhere = true;
      }
    }
    if (c.current && best_gain >= 0) {
      lead = "current model kept: best alternative gains " + acc(best_gain) +
             ", not more than hysteresis " + acc(problem_.hysteresis);
    } else if (c.current) {
      lead = "current model, still the best";
    } else if (better_elsewhere) {
      lead = "most accurate that fits with the other applications' models";
    }
    std::string deadline =
        std::isinf(app_.deadline_ms) ? "" : " <= deadline " + ms(app_.deadline_ms);
    return lead + ": accuracy " + acc(c.accuracy) + ", bound " + ms(c.bound_ms) + deadline +
           ", utilization " + util(util_of(c)) + ", memory " + mb(c.memory_mb) +
           (c.installed ? ", installed" : ", download " + sec(c.download_s));
  }

  std::string none_reason(const std::vector<Rejection>& rejected) const {
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
      best_util = std::min(best_util, util_of(c));
      best_memory = std::min(best_memory, c.memory_mb);
    }
    auto n = [&count](RejectCode code) { return count[static_cast<std::size_t>(code)]; };
    std::string out;
    auto add = [&out](std::size_t k, const std::string& s) {
      if (k > 0) out += (out.empty() ? "" : "; ") + std::to_string(k) + " " + s;
    };
    add(n(RejectCode::kDeadline),
        "over deadline " + ms(app_.deadline_ms) + " (fastest bound " + ms(best_bound) + ")");
    add(n(RejectCode::kAccuracyFloor),
        "below accuracy floor " + acc(app_.min_accuracy) + " (best " + acc(best_acc) + ")");
    add(n(RejectCode::kDownload), "download over budget " + sec(app_.download_budget_s) +
                                      " (fastest " + sec(best_download) + ")");
    add(n(RejectCode::kUtilization), "alone over utilization cap " +
                                         util(problem_.utilization_cap) + " (lowest " +
                                         util(best_util) + ")");
    add(n(RejectCode::kMemory), "alone over memory budget " + mb(problem_.memory_budget_mb) +
                                    " (smallest " + mb(best_memory) + ")");
    add(n(RejectCode::kJointUtilization),
        "fit alone but not within the utilization left by the other applications' models (" +
            util(problem_.utilization_cap - others_u_) + ")");
    add(n(RejectCode::kJointMemory),
        "fit alone but not within the memory left by the other applications' models (" +
            mb(problem_.memory_budget_mb - others_m_) + ")");
    return "none feasible: " + out;
  }

 private:
  const Problem& problem_;
  const AppProblem& app_;
  const AppWork& work_;
  const std::optional<std::size_t>& chosen_;
  double others_u_;
  double others_m_;
};

// ---- preparation ------------------------------------------------------------------------

// Quantized figures and individual feasibility of every candidate of `app`.
void prepare_candidates(const AppProblem& app, std::int64_t cap_u, std::int64_t cap_m,
                        std::int64_t bonus, AppWork& work) {
  work.candidates.resize(app.candidates.size());
  for (std::size_t i = 0; i < app.candidates.size(); ++i) {
    const Candidate& c = app.candidates[i];
    CandidateWork& w = work.candidates[i];
    w.u = quantize(utilization(app.rate_hz, app.batch, c.bound_ms), kUtilizationQuanta);
    w.m = quantize(c.memory_mb, kMemoryQuanta);
    w.key.primary = quantize(c.accuracy, kAccuracyQuanta) + (c.current ? bonus : 0);
    w.key.kept = c.current ? 1 : 0;
    w.key.neg_power = -quantize(app.rate_hz / app.batch * c.energy_j, kPowerQuanta);
    w.key.neg_download = c.installed ? 0 : -static_cast<std::int64_t>(c.size_bytes);
    std::uint8_t v = 0;
    if (c.bound_ms > app.deadline_ms) v |= kViolatesDeadline;
    if (c.accuracy < app.min_accuracy) v |= kViolatesAccuracy;
    if (!c.installed && c.download_s > app.download_budget_s) v |= kViolatesDownload;
    if (w.u > cap_u) v |= kViolatesUtilization;
    if (w.m > cap_m) v |= kViolatesMemory;
    w.violations = v;
  }
}

// Feasible candidates minus dominated ones, best key first, then "no model". Candidate j is
// dominated by k when k needs no more of either resource and replacing j by k in any
// solution gives a key at least as good (k's key is larger, or equal with a smaller model
// id); an optimal solution never needs j. Sorting best first means only earlier options can
// dominate, and only undominated ones need checking (dominance is transitive).
void prepare_options(const AppProblem& app, std::int64_t served, AppWork& work) {
  work.options.clear();
  for (std::size_t i = 0; i < work.candidates.size(); ++i) {
    const CandidateWork& w = work.candidates[i];
    if (w.violations != 0) continue;
    Key key = w.key;
    key.primary += served;
    work.options.push_back({static_cast<std::int32_t>(i), w.u, w.m, key});
  }
  std::sort(work.options.begin(), work.options.end(), [&app](const Option& a, const Option& b) {
    if (a.key != b.key) return a.key > b.key;
    const int order =
        app.candidates[a.candidate].model_id.compare(app.candidates[b.candidate].model_id);
    return order != 0 ? order < 0 : a.candidate < b.candidate;
  });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < work.options.size(); ++i) {
    const Option& o = work.options[i];
    bool dominated = false;
    for (std::size_t k = 0; k < kept && !dominated; ++k) {
      dominated = work.options[k].u <= o.u && work.options[k].m <= o.m;
    }
    if (!dominated) work.options[kept++] = o;
  }
  work.options.resize(kept);
  work.options.push_back(Option{});
  work.hull_u = hull(work.options, [](const Option& o) { return o.u; });
  work.hull_m = hull(work.options, [](const Option& o) { return o.m; });
}

}  // namespace

std::string_view code_name(RejectCode code) {
  switch (code) {
    case RejectCode::kTask:
      return "task";
    case RejectCode::kEstimator:
      return "estimator";
    case RejectCode::kDeadline:
      return "deadline";
    case RejectCode::kAccuracyFloor:
      return "accuracy_floor";
    case RejectCode::kDownload:
      return "download";
    case RejectCode::kUtilization:
      return "utilization";
    case RejectCode::kMemory:
      return "memory";
    case RejectCode::kJointUtilization:
      return "joint_utilization";
    case RejectCode::kJointMemory:
      return "joint_memory";
    case RejectCode::kLowerAccuracy:
      return "lower_accuracy";
    case RejectCode::kHysteresis:
      return "hysteresis";
  }
  return "unknown";
}

Solution solve(const Problem& problem, const SolveOptions& options) {
  validate(problem);
  const std::int64_t cap_u = quantize(problem.utilization_cap, kUtilizationQuanta);
  const std::int64_t cap_m = quantize(problem.memory_budget_mb, kMemoryQuanta);
  const std::int64_t bonus = quantize(problem.hysteresis, kAccuracyQuanta);

  std::vector<AppWork> work(problem.apps.size());
  // One more application served must outweigh any accuracy sum: S exceeds the largest.
  std::int64_t served_weight = 1;
  for (std::size_t a = 0; a < problem.apps.size(); ++a) {
    prepare_candidates(problem.apps[a], cap_u, cap_m, bonus, work[a]);
    std::int64_t best = 0;
    for (const CandidateWork& w : work[a].candidates) best = std::max(best, w.key.primary);
    served_weight += best;
  }
  Solution solution;
  for (std::size_t a = 0; a < problem.apps.size(); ++a) {
    prepare_options(problem.apps[a], served_weight, work[a]);
    solution.stats.options += work[a].options.size() - 1;
  }

  Search search(problem, work, cap_u, cap_m);
  const std::vector<std::size_t>& best = search.run();
  solution.stats.nodes = search.nodes();

  std::int64_t used_u = 0, used_m = 0;
  solution.apps.resize(problem.apps.size());
  for (std::size_t a = 0; a < problem.apps.size(); ++a) {
    const Option& o = work[a].options[best[a]];
    if (o.candidate == kNone) continue;
    const AppProblem& app = problem.apps[a];
    const Candidate& c = app.candidates[o.candidate];
    AppSolution& s = solution.apps[a];
    s.chosen = static_cast<std::size_t>(o.candidate);
    s.utilization = utilization(app.rate_hz, app.batch, c.bound_ms);
    s.memory_mb = c.memory_mb;
    ++solution.served;
    solution.utilization += s.utilization;
    solution.memory_mb += s.memory_mb;
    used_u += o.u;
    used_m += o.m;
  }

  for (std::size_t a = 0; a < problem.apps.size(); ++a) {
    const AppProblem& app = problem.apps[a];
    const AppWork& w = work[a];
    AppSolution& s = solution.apps[a];
    const Option& chosen = w.options[best[a]];
    const std::int64_t others_u = used_u - chosen.u;
    const std::int64_t others_m = used_m - chosen.m;
    const Explainer explain(problem, app, w, s.chosen, solution.utilization - s.utilization,
                            solution.memory_mb - s.memory_mb);
    s.rejected.reserve(app.candidates.size());
    for (std::size_t i = 0; i < app.candidates.size(); ++i) {
      if (s.chosen == i) continue;
      const CandidateWork& cw = w.candidates[i];
      const Candidate& c = app.candidates[i];
      Rejection r{i, RejectCode::kLowerAccuracy, {}};
      if (cw.violations != 0) {
        r.code = first_violation(cw.violations);
        if (options.explain) r.reason = explain.violations(i);
      } else if (cw.u + others_u > cap_u) {
        r.code = RejectCode::kJointUtilization;
        if (options.explain) r.reason = explain.joint_utilization(c);
      } else if (cw.m + others_m > cap_m) {
        r.code = RejectCode::kJointMemory;
        if (options.explain) r.reason = explain.joint_memory(c);
      } else {
        // It fits beside the other choices, so it must have lost to this application's
        // choice on the key; with nothing chosen it would have served one more application.
        if (!s.chosen) {
          throw std::logic_error("assignment solver: app " + app.id + " left unserved though " +
                                 c.model_id + " fits");
        }
        const Candidate& ch = app.candidates[*s.chosen];
        if (ch.current && c.accuracy > ch.accuracy) r.code = RejectCode::kHysteresis;
        if (options.explain) r.reason = explain.lost(c, r.code);
      }
      s.rejected.push_back(std::move(r));
    }
    if (options.explain) {
      s.reason = s.chosen ? explain.chosen_reason(s.rejected) : explain.none_reason(s.rejected);
    }
  }
  return solution;
}

}  // namespace fleetml::assignment
