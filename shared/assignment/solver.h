#pragma once

// The exact per-vehicle model-selection solver (see docs/assignment.md).
//
// For each application of one vehicle it picks one candidate model or none, subject to
//   - per candidate: latency bound <= deadline, accuracy >= floor, download <= budget (unless
//     installed);
//   - per vehicle, on one compute unit: sum of (rate / batch) x bound / 1000 <= utilization cap;
//   - per vehicle: sum of memory <= memory budget;
// maximizing, lexicographically: applications served, then the sum of accuracy (with an
// incumbent bonus, the hysteresis), then incumbents kept, then lower power (energy x calls per
// second), then fewer bytes to download; remaining ties go to the smaller model ids.
// Pure: no I/O, no clock, no global state; safe to call from several threads at once.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetml::assignment {

// One model the solver may choose for one application. Figures refer to this vehicle and to
// the application's batch.
struct Candidate {
  std::string model_id;          // should be unique within the application
  double accuracy = 0;           // top-1 in [0, 1]
  double point_ms = 0;           // predicted latency of one call (reported, not constrained)
  double bound_ms = 0;           // conservative upper bound of the same; what is constrained
  double memory_mb = 0;          // peak memory while loaded and running
  double download_s = 0;         // predicted download time; ignored when `installed`
  std::uint64_t size_bytes = 0;  // artifact size; bytes to download unless `installed`
  double energy_j = 0;           // per call (may be a proxy); only breaks accuracy ties
  bool installed = false;        // this exact artifact is already on the vehicle
  bool current = false;          // the application's current model (hysteresis incumbent)
};

inline constexpr double kNoLimit = std::numeric_limits<double>::infinity();

struct AppProblem {
  std::string id;
  double deadline_ms = kNoLimit;        // per call; > 0
  double rate_hz = 0;                   // samples per second; >= 0
  std::uint32_t batch = 1;              // samples per call; >= 1
  double min_accuracy = 0;              // accuracy floor
  double download_budget_s = kNoLimit;  // longest acceptable download of a new artifact; >= 0
  std::vector<Candidate> candidates;
};

struct Problem {
  double utilization_cap = 0.9;  // share of the one compute unit the models may use; > 0
  double memory_budget_mb = 0;   // >= 0
  // Accuracy (top-1, absolute) an alternative must gain over an application's current model,
  // strictly, before the vehicle switches; >= 0. Applied inside the optimization as a bonus
  // on the incumbent, so a switch happens only if it pays off for the vehicle as a whole.
  double hysteresis = 0;
  std::vector<AppProblem> apps;
};

// Why a candidate was not chosen. code_name() gives the v1::Rejection.code string.
enum class RejectCode {
  kTask,              // (planner) the model serves another task
  kEstimator,         // (planner) no latency estimate for this model on this vehicle
  kDeadline,          // alone: bound > deadline
  kAccuracyFloor,     // alone: accuracy < floor
  kDownload,          // alone: not installed and download > budget
  kUtilization,       // alone: (rate / batch) x bound / 1000 > cap
  kMemory,            // alone: memory > budget
  kJointUtilization,  // feasible alone, over the cap with the other applications' choices
  kJointMemory,       // feasible alone, over the budget with the other applications' choices
  kLowerAccuracy,     // fits with the chosen set, but the chosen model is better
  kHysteresis,        // more accurate than the kept current model, by no more than the threshold
};

// "task", "estimator", "deadline", "accuracy_floor", "download", "utilization", "memory",
// "joint_utilization", "joint_memory", "lower_accuracy", "hysteresis".
std::string_view code_name(RejectCode code);

struct Rejection {
  std::size_t candidate = 0;  // index into AppProblem::candidates
  RejectCode code = RejectCode::kLowerAccuracy;
  // Human reason with the numbers, e.g. "bound 143.2 ms > deadline 100 ms"; a candidate that
  // fails several constraints alone lists them all, and `code` names the first of deadline,
  // accuracy_floor, download, utilization, memory. Empty unless SolveOptions::explain.
  std::string reason;
};

struct AppSolution {
  std::optional<std::size_t> chosen;  // index into AppProblem::candidates; empty: none feasible
  double utilization = 0;             // of the chosen model: (rate / batch) x bound / 1000
  double memory_mb = 0;               // of the chosen model
  // Why this model ("most accurate feasible: ..."), or "none feasible: " with the rejections
  // summarized by cause. Empty unless SolveOptions::explain.
  std::string reason;
  std::vector<Rejection> rejected;  // every candidate but the chosen one, in candidate order
};

struct SolveStats {
  std::size_t options = 0;  // candidates left after feasibility and dominance pruning
  std::uint64_t nodes = 0;  // branch-and-bound nodes visited
};

struct Solution {
  std::vector<AppSolution> apps;  // in Problem::apps order
  std::size_t served = 0;         // applications with a model
  double utilization = 0;         // sum over the chosen models
  double memory_mb = 0;           // sum over the chosen models
  SolveStats stats;
};

struct SolveOptions {
  bool explain = true;  // write the human reasons (codes are always set)
};

// Solves one vehicle exactly. Constraints are checked on quantized values (utilization in
// 1e-9, memory in 1e-6 MB, accuracy in 1e-6) so that sums are exact and the result does not
// depend on summation order. Throws fleetml::Error naming the application and model on
// malformed input: NaN or negative figures (infinite only where a limit or a download time
// may be), accuracy outside [0, 1], batch 0, an empty model id, two current models for one
// application. Duplicate ids within an application are allowed; their ties go to the
// earlier candidate.
Solution solve(const Problem& problem, const SolveOptions& options = {});

// Share of the compute unit an application uses with a model: (rate / batch) x bound / 1000.
inline double utilization(double rate_hz, std::uint32_t batch, double bound_ms) {
  return rate_hz / batch * bound_ms / 1000.0;
}

}  // namespace fleetml::assignment
