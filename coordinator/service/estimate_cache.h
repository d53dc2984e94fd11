#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "schemas/fleet.pb.h"
#include "shared/assignment/planner.h"

namespace fleetml::coordinator {

// Latency estimates by (device configuration and calibration, model version, batch), so that
// re-planning a vehicle whose device did not change (a link report, an assignment refresh, a
// capability that changed only its link or applications) does not run the estimator again for
// every catalog model. Pure: no I/O, not thread-safe (LatencyService guards it with its mutex).
//
// A cached estimate is returned only for the same device (every Device and Calibration field),
// the same model id and version and the same batch, and only until it is invalidated: the owner
// calls invalidate(device_key) when what is known about that device kind changes (new
// measurements: measured overrides and fitted corrections) and clear() when every estimate may
// change (a model profile replaced, a learned estimator retrained). At most `capacity` entries
// are kept; a put() beyond that starts over from empty (one planning round refills it).
class EstimateCache {
 public:
  struct Key {
    std::string device_key;  // estimation::device_key of the capability
    // The capability's Device and Calibration (serialized), model id, version and batch: one
    // string, hashed once per lookup (the planner looks up every catalog model of every plan).
    std::string rest;
  };

  // The key of estimating `entry` at `batch` on `capability`, whose device key is `device_key`.
  static Key key(const std::string& device_key, const v1::Capability& capability,
                 const assignment::CatalogEntry& entry, std::uint32_t batch);

  // Throws fleetml::Error when capacity is 0.
  explicit EstimateCache(std::size_t capacity);

  // The cached estimate, or nullptr. The pointer is valid until the next non-const call.
  const assignment::LatencyEstimate* find(const Key& key) const;
  void put(const Key& key, assignment::LatencyEstimate estimate);

  // Forgets every estimate of the device kind `device_key`.
  void invalidate(const std::string& device_key);
  // Forgets everything.
  void clear();

  std::size_t size() const { return size_; }

 private:
  std::size_t capacity_;
  std::size_t size_ = 0;
  std::unordered_map<std::string, std::unordered_map<std::string, assignment::LatencyEstimate>>
      by_device_key_;
};

}  // namespace fleetml::coordinator
