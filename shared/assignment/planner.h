#pragma once

// The planner: turns what a vehicle reported (v1::Capability), the model catalog and the
// vehicle's current assignment into the solver's input, solves it and writes the result as
// a v1::AssignmentBody (see docs/assignment.md). Pure: estimation and link prediction come in
// as callbacks, so it has no I/O of its own.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "schemas/fleet.pb.h"
#include "shared/assignment/solver.h"
#include "shared/model/model_profile.h"

namespace fleetml::assignment {

// One model of the catalog, latest version.
struct CatalogEntry {
  std::string model_id;
  std::uint64_t version = 0;
  std::string sha256;  // hex, of the artifact
  std::uint64_t size_bytes = 0;
  std::string task;     // e.g. "image-classification"
  double accuracy = 0;  // top-1 in [0, 1]
  model::Shape input_shape;
  model::ModelProfile profile;
};

// Predicted latency of one inference call.
struct LatencyEstimate {
  double point_ms = 0;
  double bound_ms = 0;  // conservative upper bound, >= point_ms
  std::string estimator;
  std::optional<double> energy_j;  // per call, when the estimator knows it
  // Measured on this device kind (not predicted): such a model is never given as a trial.
  bool measured = false;
};

// Estimates `entry` running a call of `batch` samples on the vehicle being planned. Returns
// nothing, or throws, when it cannot; the model is then rejected with code "estimator".
using EstimateFn =
    std::function<std::optional<LatencyEstimate>(const CatalogEntry& entry, std::uint32_t batch)>;

// Predicted time to download `bytes` over the vehicle's link, in seconds; conservative (e.g.
// from a low percentile of recent throughput), +infinity when nothing can be downloaded.
using DownloadFn = std::function<double(std::uint64_t bytes)>;

struct PlannerOptions {
  double utilization_cap = 0.9;  // share of the compute unit models may use
  double hysteresis = 0.01;      // accuracy an alternative must gain, strictly, to replace
  // Share of Device.ram_gb models may use when the capability leaves ram_budget_fraction 0.
  double default_ram_budget_fraction = 0.5;
  double runtime_overhead_mb = 64;  // per loaded model: interpreter, graph, allocator slack
  // Energy proxy when the estimator has none: the point latency at this constant power.
  double proxy_power_w = 5;
  // Trials (see plan()): an application no model's bound serves may get an unmeasured model
  // whose point estimate meets the deadline, so that the vehicle measures it. Off by default:
  // the product contract (SPEC) requires bound <= deadline, and a trial breaks that on purpose.
  bool trials = false;
  // Write the human reasons (the choice's and every rejection's); codes and figures are always
  // set. Formatting them is a large share of a plan, and a coordinator re-planning a vehicle
  // only needs them when the choice changed, i.e. when it publishes.
  bool explain = true;
};

// Memory a model needs while it runs calls of `batch` samples, in MB (1e6 bytes):
//   weights (profile.param_bytes, or the artifact size when the profile has none)
//   + peak activations (profile.peak_activation_bytes, batch 1) x batch
//   + runtime_overhead_mb.
double model_memory_mb(const CatalogEntry& entry, std::uint32_t batch,
                       const PlannerOptions& options = {});

// RAM models may use on `device`, in MB: ram_gb x 1000 x ram_budget_fraction (or the default
// fraction when 0). Throws fleetml::Error when ram_gb is not > 0 or the fraction is outside
// (0, 1].
double ram_budget_mb(const v1::Device& device, const PlannerOptions& options = {});

// Plans one vehicle. For each application in `capability`, the candidates are the catalog
// models of the application's task; each is estimated at the application's batch (once per
// model and batch), sized with model_memory_mb, and its download predicted unless
// `capability.installed` holds the same model id and version (and sha256, when both sides
// know it). The current model of an
// application (the hysteresis incumbent) is the one `current` assigns to it, or, without
// that, the installed model active for it. Proto3 zeros mean "unset": deadline_ms and
// download_budget_s 0 are no limit, batch 0 is 1.
//
// Returns every AssignmentBody field except seq, issued_unix_ms and expires_unix_ms (the
// coordinator's): per application the choice with its predicted figures, estimator,
// utilization, memory and reason, or an empty model_id and "none feasible: ..." with the
// causes; and every other catalog model as a rejection (codes as in solver.h, plus "task"
// and "estimator"), in catalog order. Throws fleetml::Error on malformed input (see
// ram_budget_mb and solve(): negative figures, accuracy outside [0, 1], ...). Without
// options.explain, every reason is left empty.
//
// Trials (options.trials): an estimate's bound must be conservative for a device kind that
// has measured nothing, so such a vehicle may be left with no model although some would
// meet the deadline. For each application left without a model, the vehicle is solved again
// with that application restricted to candidates that are not `measured` and whose point
// estimate meets the deadline (judged by the point) and every other application held to its
// choice; a model found this way is assigned with `trial` set and a reason that says so. The
// vehicle installs and benchmarks it like any other; its measured p95 then replaces the
// estimate, so the next plan confirms it or drops it (and may try the next).

v1::AssignmentBody plan(const v1::Capability& capability, std::span<const CatalogEntry> catalog,
                        const EstimateFn& estimate, const DownloadFn& download_seconds,
                        const v1::AssignmentBody* current, const PlannerOptions& options = {});

}  // namespace fleetml::assignment
