#include "shared/assignment/solver.h"

#include <algorithm>
#include <cmath>
#include <compare>
#include <stdexcept>

#include "shared/assignment/reasons.h"
#include "shared/common/error.h"

namespace fleetml::assignment {
namespace {

using reasons::kViolatesAccuracy;
using reasons::kViolatesDeadline;
using reasons::kViolatesDownload;
using reasons::kViolatesMemory;
using reasons::kViolatesUtilization;

// Quanta: every figure the solver adds up is an integer multiple of these, so sums are exact
// and the optimum does not depend on the order the search visits applications in.
constexpr double kUtilizationQuanta = 1e9;  // per unit of utilization
constexpr double kMemoryQuanta = 1e6;       // per MB (one byte)
constexpr double kAccuracyQuanta = 1e6;     // per unit of top-1
constexpr double kPowerQuanta = 1e6;        // per W (one microwatt)
// Larger than any quantized sum the search forms, small enough that adding a few never
// overflows; also where quantize() saturates absurd figures (which then fail their limit).
constexpr std::int64_t kHuge = std::int64_t{1} << 60;

// Rounds half up (the same as llround for the non-negative figures here, and inline).
std::int64_t quantize(double value, double quanta) {
  const double scaled = std::min(value * quanta, static_cast<double>(kHuge));
  const auto whole = static_cast<std::int64_t>(scaled);
  return whole + (scaled - static_cast<double>(whole) >= 0.5);
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

struct CandidateWork {
  std::int64_t u = 0;  // utilization quanta
  std::int64_t m = 0;  // memory quanta
  Key key;             // without the served weight
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
  chain.reserve(points.size());
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
  h.increments.reserve(chain.size() - 1);
  for (std::size_t i = 1; i < chain.size(); ++i) {
    h.increments.push_back({chain[i].w - chain[i - 1].w, chain[i].p - chain[i - 1].p});
  }
  return h;
}

// The LP relaxation of a suffix of applications on one resource, ready for queries.
class Relaxation {
 public:
  Relaxation() = default;
  // This application's hull joined with the relaxation of the applications after it.
  Relaxation(const Hull& first, const Relaxation& rest) : base_(first.base + rest.base_) {
    std::vector<Increment> increments(first.increments.size() + rest.increments_.size());
    std::merge(first.increments.begin(), first.increments.end(), rest.increments_.begin(),
               rest.increments_.end(), increments.begin(), steeper);
    increments_ = std::move(increments);
    cum_w_.reserve(increments_.size() + 1);
    cum_p_.reserve(increments_.size() + 1);
    cum_w_.push_back(0);
    cum_p_.push_back(0);
    for (const Increment& inc : increments_) {
      cum_w_.push_back(cum_w_.back() + inc.w);
      cum_p_.push_back(cum_p_.back() + inc.p);
    }
  }

  // Upper bound on the primary objective with `capacity` of the resource left: whole
  // increments while they fit, then a fraction of the next (rounded up).
  std::int64_t bound(std::int64_t capacity) const {
    if (increments_.empty()) return base_;
    const std::size_t k =
        std::upper_bound(cum_w_.begin(), cum_w_.end(), capacity) - cum_w_.begin() - 1;
    std::int64_t value = base_ + cum_p_[k];
    if (k < increments_.size()) {
      const Increment& next = increments_[k];
      value += static_cast<std::int64_t>(static_cast<double>(next.p) *
                                         static_cast<double>(capacity - cum_w_[k]) /
                                         static_cast<double>(next.w)) +
               1;
    }
    return value;
  }

 private:
  std::int64_t base_ = 0;
  std::vector<Increment> increments_;
  std::vector<std::int64_t> cum_w_;  // [k]: sum of the first k increments' w
  std::vector<std::int64_t> cum_p_;
};

// Least resources among kBlock consecutive options, to skip blocks where nothing fits.
constexpr std::size_t kBlock = 8;
struct Block {
  std::int64_t min_u = 0;
  std::int64_t min_m = 0;
};

struct AppWork {
  std::vector<CandidateWork> candidates;
  std::vector<Option> options;  // best key first, "no model" last
  std::vector<Block> blocks;    // [b]: options b * kBlock ..
  Hull hull_u;
  Hull hull_m;
};

bool fits(const Option& o, std::int64_t ru, std::int64_t rm) { return o.u <= ru && o.m <= rm; }

// Index of the first option that fits in (ru, rm): the best one, as options are sorted best
// first. "No model" fits always.
std::size_t first_fit(const AppWork& app, std::int64_t ru, std::int64_t rm) {
  for (std::size_t b = 0; b < app.blocks.size(); ++b) {
    if (app.blocks[b].min_u > ru || app.blocks[b].min_m > rm) continue;
    const std::size_t end = std::min(app.options.size(), (b + 1) * kBlock);
    for (std::size_t i = b * kBlock; i < end; ++i) {
      if (fits(app.options[i], ru, rm)) return i;
    }
  }
  return app.options.size() - 1;
}

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
    // Only suffixes that start after the first application are ever bounded.
    for (std::size_t d = apps.size(); d-- > 1;) {
      lp_u_[d] = Relaxation(apps[d].hull_u, lp_u_[d + 1]);
      lp_m_[d] = Relaxation(apps[d].hull_m, lp_m_[d + 1]);
    }
  }

  // Returns, per application, the index of the optimal option.
  const std::vector<std::size_t>& run() {
    if (!apps_.empty()) dfs(0, cap_u_, cap_m_, Key{});
    return best_;
  }

  std::uint64_t nodes() const { return nodes_; }

 private:
  // Upper bound on the key of applications d.. given the resources left: the tighter of
  // (a) the sum over applications of the best option that fits alone, valid for every level
  // of the key, and (b) the LP relaxations on utilization and on memory, valid for the
  // primary level.
  Key bound(std::size_t d, std::int64_t ru, std::int64_t rm) const {
    Key sum;
    for (std::size_t k = d; k < apps_.size(); ++k) {
      sum = sum + apps_[k].options[first_fit(apps_[k], ru, rm)].key;
    }
    const std::int64_t lp = std::min(lp_u_[d].bound(ru), lp_m_[d].bound(rm));
    if (lp < sum.primary) return Key{lp, kHuge, kHuge, kHuge};
    return sum;
  }

  void dfs(std::size_t d, std::int64_t ru, std::int64_t rm, const Key& partial) {
    ++nodes_;
    const std::vector<Option>& options = apps_[d].options;
    if (d + 1 == apps_.size()) {
      // The best option that fits completes this branch optimally (ties by model id).
      choice_[d] = first_fit(apps_[d], ru, rm);
      consider(partial + options[choice_[d]].key);
      return;
    }
    const Key rest = bound(d + 1, ru, rm);
    for (std::size_t i = 0; i < options.size(); ++i) {
      const Option& o = options[i];
      if (!fits(o, ru, rm)) continue;
      const Key head = partial + o.key;
      // Keys only decrease along `options` and `rest` bounds every later sibling too.
      if (head + rest < best_key_) break;
      // Before the last application the child is a leaf, as cheap as its bound.
      if (d + 2 < apps_.size() && head + bound(d + 1, ru - o.u, rm - o.m) < best_key_) continue;
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
  std::vector<Relaxation> lp_u_;  // [d]: applications d.. together
  std::vector<Relaxation> lp_m_;
  std::vector<std::size_t> choice_;
  std::vector<std::size_t> best_;
  Key best_key_{-1, 0, 0, 0};  // below every solution, "no model" everywhere included
  std::uint64_t nodes_ = 0;
};

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
             "number >= 0, got " + reasons::number(v, 6));
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
// id); an optimal solution never needs j. Sorted best first, only earlier options can
// dominate a later one, and only undominated ones need checking (dominance is transitive):
// a staircase of them by utilization, with memory strictly falling, answers each check with
// one binary search.
void prepare_options(const AppProblem& app, std::int64_t served, AppWork& work) {
  std::vector<Option>& options = work.options;
  options.clear();
  for (std::size_t i = 0; i < work.candidates.size(); ++i) {
    const CandidateWork& w = work.candidates[i];
    if (w.violations != 0) continue;
    Key key = w.key;
    key.primary += served;
    options.push_back({static_cast<std::int32_t>(i), w.u, w.m, key});
  }
  std::sort(options.begin(), options.end(), [&app](const Option& a, const Option& b) {
    if (a.key != b.key) return a.key > b.key;
    const int order =
        app.candidates[a.candidate].model_id.compare(app.candidates[b.candidate].model_id);
    return order != 0 ? order < 0 : a.candidate < b.candidate;
  });
  struct Step {
    std::int64_t u, m;
  };
  std::vector<Step> staircase;
  std::size_t kept = 0;
  for (const Option& o : options) {
    // The step with the largest u <= o.u has the least memory among steps with u <= o.u.
    auto after = std::upper_bound(staircase.begin(), staircase.end(), o.u,
                                  [](std::int64_t u, const Step& s) { return u < s.u; });
    if (after != staircase.begin() && std::prev(after)->m <= o.m) continue;
    // o stays; steps it now dominates (u >= o.u, m >= o.m) are contiguous from `after`.
    auto first = after;
    if (first != staircase.begin() && std::prev(first)->u == o.u) --first;
    auto last = first;
    while (last != staircase.end() && last->m >= o.m) ++last;
    staircase.insert(staircase.erase(first, last), Step{o.u, o.m});
    options[kept++] = o;
  }
  options.resize(kept);
  options.push_back(Option{});
  work.blocks.clear();
  for (std::size_t b = 0; b < options.size(); b += kBlock) {
    Block block{kHuge, kHuge};
    for (std::size_t i = b; i < std::min(options.size(), b + kBlock); ++i) {
      block.min_u = std::min(block.min_u, options[i].u);
      block.min_m = std::min(block.min_m, options[i].m);
    }
    work.blocks.push_back(block);
  }
  work.hull_u = hull(options, [](const Option& o) { return o.u; });
  work.hull_m = hull(options, [](const Option& o) { return o.m; });
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

  // Every other candidate: why not. The first matching cause wins.
  for (std::size_t a = 0; a < problem.apps.size(); ++a) {
    const AppProblem& app = problem.apps[a];
    const AppWork& w = work[a];
    AppSolution& s = solution.apps[a];
    const Option& own = w.options[best[a]];
    const std::int64_t others_u = used_u - own.u;
    const std::int64_t others_m = used_m - own.m;
    const double others_utilization = solution.utilization - s.utilization;
    const double others_memory_mb = solution.memory_mb - s.memory_mb;
    const Candidate* chosen = s.chosen ? &app.candidates[*s.chosen] : nullptr;
    std::optional<reasons::AppReasons> why;
    if (options.explain) why.emplace(problem, app, chosen, others_utilization, others_memory_mb);
    s.rejected.reserve(app.candidates.size());
    for (std::size_t i = 0; i < app.candidates.size(); ++i) {
      if (s.chosen == i) continue;
      const CandidateWork& cw = w.candidates[i];
      const Candidate& c = app.candidates[i];
      Rejection r{i, RejectCode::kLowerAccuracy, {}};
      if (cw.violations != 0) {
        r.code = reasons::first_violation(cw.violations);
        if (why) r.reason = why->violations(c, cw.violations);
      } else if (cw.u + others_u > cap_u) {
        r.code = RejectCode::kJointUtilization;
        if (why) r.reason = why->joint_utilization(c);
      } else if (cw.m + others_m > cap_m) {
        r.code = RejectCode::kJointMemory;
        if (why) r.reason = why->joint_memory(c);
      } else {
        // It fits beside the other choices, so it must have lost to this application's
        // choice on the key; with nothing chosen it would have served one more application.
        if (chosen == nullptr) {
          throw std::logic_error("assignment solver: app " + app.id + " left unserved though " +
                                 c.model_id + " fits");
        }
        if (chosen->current && c.accuracy > chosen->accuracy) r.code = RejectCode::kHysteresis;
        if (why) r.reason = why->lost(c, r.code);
      }
      s.rejected.push_back(std::move(r));
    }
    if (why) s.reason = chosen != nullptr ? why->chosen(s.rejected) : why->none(s.rejected);
  }
  return solution;
}

}  // namespace fleetml::assignment
