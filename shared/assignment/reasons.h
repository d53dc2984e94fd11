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

// Every constraint `c` fails alone, "; "-separated: "bound 143.2 ms > deadline 100 ms".
std::string violations(const Problem& problem, const AppProblem& app, const Candidate& c,
                       std::uint8_t violations);

// `c` fits alone but not beside the other applications' choices, which use `others`.
std::string joint_utilization(const Problem& problem, const AppProblem& app, const Candidate& c,
                              double others_utilization);
std::string joint_memory(const Problem& problem, const Candidate& c, double others_memory_mb);

// `c` fits beside the other choices but lost to `chosen` (code kLowerAccuracy or
// kHysteresis); says on what: accuracy, hysteresis, power, download or model id.
std::string lost(const Problem& problem, const AppProblem& app, const Candidate& c,
                 const Candidate& chosen, RejectCode code);

// Why `chosen` was picked, given the other candidates' rejections.
std::string chosen(const Problem& problem, const AppProblem& app, const Candidate& chosen,
                   const std::vector<Rejection>& rejected);

// "none feasible: " and the rejections summarized by cause.
std::string none(const Problem& problem, const AppProblem& app,
                 const std::vector<Rejection>& rejected, double others_utilization,
                 double others_memory_mb);

}  // namespace fleetml::assignment::reasons
