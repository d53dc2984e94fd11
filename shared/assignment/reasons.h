#pragma once

// Human reasons for the solver's verdicts, with the numbers that decided them. Internal to
// fleetml_assignment (solver.cc and planner.cc); the wording is shown to operators by
// `fleetctl explain`.

#include <cstdint>
#include <string>
#include <vector>

#include "shared/assignment/solver.h"

namespace fleetml::assignment::reasons {

// Constraints a candidate violates on its own, one bit each, in reporting priority order.
enum Violation : std::uint8_t {
  kViolatesDeadline = 1,
  kViolatesAccuracy = 2,
  kViolatesDownload = 4,
  kViolatesUtilization = 8,
  kViolatesMemory = 16,
};

// The code of the first violation in priority order; `violations` must not be 0.
RejectCode first_violation(std::uint8_t violations);

// Fixed notation with at most `decimals` decimals, trailing zeros dropped: 143.2, 100, 0.76.
std::string number(double v, int decimals);

// Writes the reasons for one application once the other applications' choices are known.
// The application's own limits are formatted once, not once per candidate: there are
// hundreds of rejections per vehicle.
class AppReasons {
 public:
  // `others_*`: what the other applications' chosen models use together.
  AppReasons(const Problem& problem, const AppProblem& app, const Candidate* chosen,
             double others_utilization, double others_memory_mb);

  // Every constraint `c` fails alone, "; "-separated: "bound 143.2 ms > deadline 100 ms".
  std::string violations(const Candidate& c, std::uint8_t violations) const;
  // `c` fits alone but not beside the other applications' choices.
  std::string joint_utilization(const Candidate& c) const;
  std::string joint_memory(const Candidate& c) const;
  // `c` fits beside the other choices but lost to the chosen model (code kLowerAccuracy or
  // kHysteresis); says on what: accuracy, hysteresis, power, download or model id.
  std::string lost(const Candidate& c, RejectCode code) const;
  // Why the chosen model was picked, given the other candidates' rejections.
  std::string chosen(const std::vector<Rejection>& rejected) const;
  // "none feasible: " and the rejections summarized by cause.
  std::string none(const std::vector<Rejection>& rejected) const;

 private:
  const Problem& problem_;
  const AppProblem& app_;
  const Candidate* chosen_;
  double others_utilization_;
  double others_memory_mb_;
  // Fixed tails of the frequent reasons, e.g. " > deadline 100 ms".
  std::string deadline_, floor_, download_budget_, rate_, cap_, memory_budget_;
  std::string joint_utilization_, joint_memory_, below_chosen_;
};

}  // namespace fleetml::assignment::reasons
