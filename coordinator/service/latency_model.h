#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "coordinator/storage/records.h"
#include "schemas/fleet.pb.h"
#include "shared/assignment/planner.h"

namespace fleetml::storage {
class Database;
}

namespace fleetml::coordinator {

// What the coordinator's planner asks about latency, and where measurements go. The
// implementation (latency_service.h) combines the configured estimator, per-device adaptation
// and measured overrides; tests may plug in their own.
class LatencyModel {
 public:
  virtual ~LatencyModel() = default;

  // The estimator's name, as recorded in assignments.
  virtual std::string name() const = 0;

  // Key of the device kind and runtime configuration in `capability`: measurements made on one
  // vehicle apply to every vehicle with the same key.
  virtual std::string device_key(const v1::Capability& capability) const = 0;

  // Latency of one call of `batch` samples of `entry` on the device; nullopt (or an
  // exception) when it cannot be estimated. Called from the planning thread only.
  virtual std::optional<assignment::LatencyEstimate> estimate(const v1::Capability& capability,
                                                              const assignment::CatalogEntry& entry,
                                                              std::uint32_t batch) = 0;

  // A measurement reported by a vehicle (already stored). Called from the ingest thread; the
  // implementation synchronizes with estimate().
  virtual void add_measurement(const storage::MeasurementRecord& measurement) = 0;

  // Restores the state an earlier run fitted and persisted in `db` (per-device corrections,
  // the learned model) and persists what this one fits there from now on. Called once by the
  // coordinator at start, after the stored measurements were added; `db` outlives this
  // object. The default keeps nothing.
  virtual void persist_in(storage::Database& /*db*/) {}
};

}  // namespace fleetml::coordinator
