#include "coordinator/service/estimate_cache.h"

#include "shared/common/error.h"

namespace fleetml::coordinator {

EstimateCache::Key EstimateCache::key(const std::string& device_key,
                                      const v1::Capability& capability,
                                      const assignment::CatalogEntry& entry, std::uint32_t batch) {
  // Serialized fields compare equal exactly when the fields do (neither message has a map);
  // the lengths keep the concatenation unambiguous.
  Key key{device_key, {}};
  std::string& rest = key.rest;
  const auto append = [&](const std::string& part) {
    rest += std::to_string(part.size());
    rest += ':';
    rest += part;
  };
  append(capability.device().SerializeAsString());
  append(capability.calibration().SerializeAsString());
  append(entry.model_id);
  rest += std::to_string(entry.version);
  rest += ':';
  rest += std::to_string(batch);
  return key;
}

EstimateCache::EstimateCache(std::size_t capacity) : capacity_(capacity) {
  if (capacity_ == 0) throw Error("estimate cache: capacity must be >= 1");
}

const assignment::LatencyEstimate* EstimateCache::find(const Key& key) const {
  const auto device = by_device_key_.find(key.device_key);
  if (device == by_device_key_.end()) return nullptr;
  const auto it = device->second.find(key.rest);
  return it == device->second.end() ? nullptr : &it->second;
}

void EstimateCache::put(const Key& key, assignment::LatencyEstimate estimate) {
  if (size_ >= capacity_) clear();
  if (by_device_key_[key.device_key].insert_or_assign(key.rest, std::move(estimate)).second) {
    ++size_;
  }
}

void EstimateCache::invalidate(const std::string& device_key) {
  const auto device = by_device_key_.find(device_key);
  if (device == by_device_key_.end()) return;
  size_ -= device->second.size();
  by_device_key_.erase(device);
}

void EstimateCache::clear() {
  by_device_key_.clear();
  size_ = 0;
}

}  // namespace fleetml::coordinator
