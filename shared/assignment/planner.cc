#include "shared/assignment/planner.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <utility>
#include <variant>
#include <vector>

#include "shared/assignment/reasons.h"
#include "shared/common/error.h"

namespace fleetml::assignment {
namespace {

constexpr double kMb = 1e6;

// What estimating one model at one batch gave: figures, or why not.
using EstimateResult = std::variant<LatencyEstimate, std::string>;

EstimateResult run_estimate(const EstimateFn& estimate, const CatalogEntry& entry,
                            std::uint32_t batch) {
  std::optional<LatencyEstimate> e;
  try {
    e = estimate(entry, batch);
  } catch (const std::exception& error) {
    return std::string("no estimate: ") + error.what();
  }
  if (!e) return std::string("no estimate for this device");
  const bool valid = std::isfinite(e->point_ms) && std::isfinite(e->bound_ms) && e->point_ms >= 0 &&
                     e->bound_ms >= e->point_ms &&
                     (!e->energy_j || (std::isfinite(*e->energy_j) && *e->energy_j >= 0));
  if (!valid) {
    return "estimator " + e->estimator + " returned invalid figures: point " +
           reasons::number(e->point_ms, 3) + " ms, bound " + reasons::number(e->bound_ms, 3) +
           " ms";
  }
  return *std::move(e);
}

// Estimates per (catalog index, batch), each computed once per plan.
class EstimateCache {
 public:
  EstimateCache(std::span<const CatalogEntry> catalog, const EstimateFn& estimate)
      : catalog_(catalog), estimate_(estimate) {}

  const EstimateResult& get(std::size_t k, std::uint32_t batch) {
    auto it = std::find_if(by_batch_.begin(), by_batch_.end(),
                           [batch](const auto& b) { return b.first == batch; });
    if (it == by_batch_.end()) {
      by_batch_.emplace_back(batch, std::vector<std::optional<EstimateResult>>(catalog_.size()));
      it = std::prev(by_batch_.end());
    }
    std::optional<EstimateResult>& slot = it->second[k];
    if (!slot) slot = run_estimate(estimate_, catalog_[k], batch);
    return *slot;
  }

 private:
  std::span<const CatalogEntry> catalog_;
  const EstimateFn& estimate_;
  std::vector<std::pair<std::uint32_t, std::vector<std::optional<EstimateResult>>>> by_batch_;
};

bool is_installed(const v1::Capability& capability, const CatalogEntry& entry) {
  return std::any_of(
      capability.installed().begin(), capability.installed().end(),
      [&entry](const v1::InstalledModel& m) {
        return m.model_id() == entry.model_id && m.version() == entry.version &&
               (m.sha256().empty() || entry.sha256.empty() || m.sha256() == entry.sha256);
      });
}

std::string current_model(const v1::Capability& capability, const v1::AssignmentBody* current,
                          const std::string& app_id) {
  if (current != nullptr) {
    for (const v1::AppAssignment& a : current->applications()) {
      if (a.application_id() == app_id && !a.model_id().empty()) return a.model_id();
    }
  }
  for (const v1::InstalledModel& m : capability.installed()) {
    if (m.application_id() == app_id) return m.model_id();
  }
  return "";
}

// Where a catalog model went for one application.
struct Slot {
  enum Kind { kOtherTask, kNoEstimate, kCandidate } kind = kOtherTask;
  std::size_t candidate = 0;  // kCandidate: index into AppProblem::candidates
};

struct AppPlan {
  std::vector<Slot> slots;              // per catalog entry
  std::vector<std::string> failures;    // per catalog entry, kNoEstimate only
  std::vector<std::string> estimators;  // per candidate
  std::vector<bool> measured;           // per candidate
  std::size_t same_task = 0;
  std::size_t not_estimated = 0;
};

void set_figures(v1::Rejection& r, const Candidate& c) {
  r.set_predicted_point_ms(c.point_ms);
  r.set_predicted_bound_ms(c.bound_ms);
  r.set_predicted_download_s(c.installed ? 0 : c.download_s);
  r.set_accuracy(c.accuracy);
}

// Trials (planner.h): solves again with application `a` restricted to its unmeasured
// candidates whose point estimate meets the deadline, judged by that point, and every other
// application held to its choice in `solution`. On success the trial replaces application
// a's empty choice in `solution` and true is returned.
bool add_trial(const Problem& problem, const AppPlan& plan, std::size_t a, bool explain,
               Solution& solution) {
  Problem retry = problem;
  std::vector<std::size_t> original;  // retry's candidates of `a` -> problem's
  for (std::size_t b = 0; b < retry.apps.size(); ++b) {
    std::vector<Candidate>& candidates = retry.apps[b].candidates;
    if (b != a) {
      const auto chosen = solution.apps[b].chosen;
      candidates = chosen ? std::vector<Candidate>{candidates[*chosen]} : std::vector<Candidate>{};
      continue;
    }
    std::vector<Candidate> eligible;
    for (std::size_t k = 0; k < candidates.size(); ++k) {
      if (plan.measured[k] || !(candidates[k].point_ms <= retry.apps[b].deadline_ms)) continue;
      eligible.push_back(candidates[k]);
      eligible.back().bound_ms = candidates[k].point_ms;
      original.push_back(k);
    }
    candidates = std::move(eligible);
  }
  if (original.empty()) return false;
  const Solution found = solve(retry, {.explain = false});  // only its choice is kept
  const AppSolution& tried = found.apps[a];
  if (!tried.chosen) return false;

  const std::size_t k = original[*tried.chosen];
  const Candidate& c = problem.apps[a].candidates[k];
  AppSolution& out = solution.apps[a];
  out.chosen = k;
  out.utilization = tried.utilization;
  out.memory_mb = tried.memory_mb;
  if (explain) {
    out.reason = "trial: no model's bound meets the deadline of " +
                 reasons::number(problem.apps[a].deadline_ms, 1) + " ms; " + c.model_id +
                 " (point " + reasons::number(c.point_ms, 1) + " ms, bound " +
                 reasons::number(c.bound_ms, 1) +
                 " ms) has not been measured on this device kind and is assigned to be measured";
  }
  std::erase_if(out.rejected, [k](const Rejection& r) { return r.candidate == k; });
  solution.utilization = found.utilization;
  solution.memory_mb = found.memory_mb;
  ++solution.served;
  return true;
}

}  // namespace

double model_memory_mb(const CatalogEntry& entry, std::uint32_t batch,
                       const PlannerOptions& options) {
  const double weights = entry.profile.param_bytes > 0
                             ? static_cast<double>(entry.profile.param_bytes)
                             : static_cast<double>(entry.size_bytes);
  const double activations = static_cast<double>(entry.profile.peak_activation_bytes) * batch;
  return (weights + activations) / kMb + options.runtime_overhead_mb;
}

double ram_budget_mb(const v1::Device& device, const PlannerOptions& options) {
  if (!(device.ram_gb() > 0) || !std::isfinite(device.ram_gb())) {
    throw Error("device ram_gb must be > 0, got " + reasons::number(device.ram_gb(), 3));
  }
  const double fraction = device.ram_budget_fraction() != 0 ? device.ram_budget_fraction()
                                                            : options.default_ram_budget_fraction;
  if (!(fraction > 0 && fraction <= 1)) {
    throw Error("device ram_budget_fraction must be in (0, 1], got " +
                reasons::number(fraction, 3));
  }
  return device.ram_gb() * 1000 * fraction;
}

v1::AssignmentBody plan(const v1::Capability& capability, std::span<const CatalogEntry> catalog,
                        const EstimateFn& estimate, const DownloadFn& download_seconds,
                        const v1::AssignmentBody* current, const PlannerOptions& options) {
  const std::string& vid = capability.vehicle_id();
  Problem problem;
  problem.utilization_cap = options.utilization_cap;
  problem.hysteresis = options.hysteresis;
  try {
    problem.memory_budget_mb = ram_budget_mb(capability.device(), options);
  } catch (const Error& e) {
    throw Error("capability " + vid + ": " + e.what());
  }

  EstimateCache estimates(catalog, estimate);
  std::vector<AppPlan> plans(capability.applications_size());
  for (int a = 0; a < capability.applications_size(); ++a) {
    const v1::Application& in = capability.applications(a);
    if (in.deadline_ms() < 0 || in.download_budget_s() < 0) {
      throw Error("capability " + vid + " app " + in.id() +
                  ": deadline_ms and download_budget_s must be >= 0");
    }
    AppProblem& app = problem.apps.emplace_back();
    app.id = in.id();
    app.deadline_ms = in.deadline_ms() > 0 ? in.deadline_ms() : kNoLimit;
    app.rate_hz = in.rate_hz();
    app.batch = std::max<std::uint32_t>(in.batch(), 1);
    app.min_accuracy = in.min_accuracy();
    app.download_budget_s = in.download_budget_s() > 0 ? in.download_budget_s() : kNoLimit;
    const std::string incumbent = current_model(capability, current, app.id);

    AppPlan& plan = plans[a];
    plan.slots.resize(catalog.size());
    plan.failures.resize(catalog.size());
    for (std::size_t k = 0; k < catalog.size(); ++k) {
      const CatalogEntry& entry = catalog[k];
      if (entry.task != in.task()) continue;  // kOtherTask
      ++plan.same_task;
      const EstimateResult& result = estimates.get(k, app.batch);
      if (const auto* why = std::get_if<std::string>(&result)) {
        plan.slots[k].kind = Slot::kNoEstimate;
        plan.failures[k] = *why;
        ++plan.not_estimated;
        continue;
      }
      const LatencyEstimate& e = std::get<LatencyEstimate>(result);
      Candidate& c = app.candidates.emplace_back();
      c.model_id = entry.model_id;
      c.accuracy = entry.accuracy;
      c.point_ms = e.point_ms;
      c.bound_ms = e.bound_ms;
      c.memory_mb = model_memory_mb(entry, app.batch, options);
      c.installed = is_installed(capability, entry);
      c.download_s = c.installed ? 0 : download_seconds(entry.size_bytes);
      c.size_bytes = entry.size_bytes;
      c.energy_j = e.energy_j.value_or(e.point_ms / 1000 * options.proxy_power_w);
      c.current = entry.model_id == incumbent;
      plan.slots[k] = {Slot::kCandidate, app.candidates.size() - 1};
      plan.estimators.push_back(e.estimator);
      plan.measured.push_back(e.measured);
    }
  }

  Solution solution;
  std::vector<bool> trial(problem.apps.size(), false);
  try {
    solution = solve(problem, {.explain = options.explain});
    for (std::size_t a = 0; options.trials && a < problem.apps.size(); ++a) {
      if (!solution.apps[a].chosen) {
        trial[a] = add_trial(problem, plans[a], a, options.explain, solution);
      }
    }
  } catch (const Error& e) {
    throw Error("capability " + vid + ": " + e.what());
  }

  v1::AssignmentBody body;
  body.set_vehicle_id(vid);
  body.set_utilization(solution.utilization);
  body.set_memory_mb(solution.memory_mb);
  std::vector<std::string> estimators;
  for (std::size_t a = 0; a < problem.apps.size(); ++a) {
    const v1::Application& in = capability.applications(static_cast<int>(a));
    const AppProblem& app = problem.apps[a];
    AppSolution& s = solution.apps[a];  // reasons are moved into the body
    const AppPlan& plan = plans[a];
    v1::AppAssignment& out = *body.add_applications();
    out.set_application_id(app.id);
    out.set_deadline_ms(in.deadline_ms());

    std::vector<Rejection*> rejection_of(app.candidates.size(), nullptr);
    for (Rejection& r : s.rejected) rejection_of[r.candidate] = &r;

    for (std::size_t k = 0; k < catalog.size(); ++k) {
      const CatalogEntry& entry = catalog[k];
      const Slot& slot = plan.slots[k];
      if (slot.kind == Slot::kCandidate && s.chosen == slot.candidate) {
        const Candidate& c = app.candidates[slot.candidate];
        out.set_model_id(entry.model_id);
        out.set_model_version(entry.version);
        out.set_sha256(entry.sha256);
        out.set_size_bytes(entry.size_bytes);
        out.set_accuracy(entry.accuracy);
        out.set_predicted_point_ms(c.point_ms);
        out.set_predicted_bound_ms(c.bound_ms);
        out.set_predicted_download_s(c.installed ? 0 : c.download_s);
        out.set_estimator(plan.estimators[slot.candidate]);
        out.set_utilization(s.utilization);
        out.set_memory_mb(s.memory_mb);
        out.set_trial(trial[a]);
        estimators.push_back(plan.estimators[slot.candidate]);
        continue;
      }
      v1::Rejection& r = *out.add_rejected();
      r.set_model_id(entry.model_id);
      r.set_accuracy(entry.accuracy);
      switch (slot.kind) {
        case Slot::kOtherTask:
          r.set_code(std::string(code_name(RejectCode::kTask)));
          if (options.explain) {
            r.set_reason("task " + entry.task + ", application needs " + in.task());
          }
          break;
        case Slot::kNoEstimate:
          r.set_code(std::string(code_name(RejectCode::kEstimator)));
          if (options.explain) r.set_reason(plan.failures[k]);
          break;
        case Slot::kCandidate: {
          Rejection& why = *rejection_of[slot.candidate];
          r.set_code(std::string(code_name(why.code)));
          r.set_reason(std::move(why.reason));
          set_figures(r, app.candidates[slot.candidate]);
          break;
        }
      }
    }

    if (!options.explain) continue;
    if (s.chosen) {
      out.set_reason(std::move(s.reason));
    } else if (plan.same_task == 0) {
      out.set_reason("none feasible: no catalog model for task " + in.task());
    } else if (app.candidates.empty()) {
      out.set_reason("none feasible: " + std::to_string(plan.not_estimated) +
                     " could not be estimated");
    } else if (plan.not_estimated > 0) {
      out.set_reason(s.reason + "; " + std::to_string(plan.not_estimated) +
                     " could not be estimated");
    } else {
      out.set_reason(std::move(s.reason));
    }
  }
  std::sort(estimators.begin(), estimators.end());
  estimators.erase(std::unique(estimators.begin(), estimators.end()), estimators.end());
  std::string joined;
  for (const std::string& e : estimators) joined += (joined.empty() ? "" : ",") + e;
  body.set_estimator(joined);
  return body;
}

}  // namespace fleetml::assignment
