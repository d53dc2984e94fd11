#include "coordinator/service/latency_service.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "coordinator/storage/database.h"
#include "shared/common/log.h"
#include "shared/estimation/flops.h"
#include "shared/estimation/roofline.h"

namespace fleetml::coordinator {
namespace {

constexpr const char* kLog = "latency";

std::string versioned(const std::string& model_id, std::uint64_t version) {
  return model_id + "@" + std::to_string(version);
}

assignment::LatencyEstimate to_latency(const estimation::Estimate& e) {
  return {e.point_ms, std::max(e.point_ms, e.bound_ms), e.estimator, std::nullopt};
}

}  // namespace

LatencyService::LatencyService(LatencyServiceOptions options,
                               std::vector<storage::MeasurementRecord> stored)
    : options_(std::move(options)) {
  const std::string& e = options_.estimator;
  if (e != "roofline" && e != "flops" && e != "learned" && e != "llm") {
    throw Error("latency: unknown estimator " + e + " (roofline, flops, learned or llm)");
  }
  if (e == "llm" && options_.llm.url.empty()) throw Error("latency: estimator llm needs a URL");
  for (const auto& m : stored) add_locked(m);
}

std::string LatencyService::device_key(const v1::Capability& capability) const {
  return estimation::device_key(capability);
}

// Flushes the fits a locked section made once the section (and its lock_guard, declared
// after this) has ended.
class LatencyService::FlushOnExit {
 public:
  explicit FlushOnExit(LatencyService& service) : service_(service) {}
  ~FlushOnExit() {
    try {
      service_.flush_writes();
    } catch (const Error& e) {
      log::warn(kLog, "estimator state not persisted", {{"error", e.what()}});
    }
  }
  FlushOnExit(const FlushOnExit&) = delete;
  FlushOnExit& operator=(const FlushOnExit&) = delete;

 private:
  LatencyService& service_;
};

void LatencyService::persist_in(storage::Database& db) {
  std::map<std::string, nlohmann::json> corrections = db.device_corrections();
  std::optional<std::string> learned_bytes = db.blob(kLearnedBlob);
  std::lock_guard lock(mutex_);
  db_ = &db;
  for (const auto& [key, json] : corrections) {
    try {
      estimation::DeviceCorrections c = estimation::corrections_from_json(json);
      if (c.device_key != key) throw Error("stored under " + key + " but for " + c.device_key);
      corrections_.put(std::move(c));
      restored_corrections_.insert(key);
    } catch (const Error& e) {
      log::warn(kLog, "stored device corrections ignored",
                {{"device_key", key}, {"error", e.what()}});
    }
  }
  if (learned_bytes) {
    try {
      learned_ = estimation::LearnedModel::from_bytes(*learned_bytes);
      learned_restored_ = true;
    } catch (const Error& e) {
      log::warn(kLog, "stored learned model ignored", {{"error", e.what()}});
    }
  }
  log::info(kLog, "estimator state restored",
            {{"device_corrections", restored_corrections_.size()}, {"learned", learned_restored_}});
}

void LatencyService::flush_writes() {
  std::vector<estimation::DeviceCorrections> corrections;
  std::shared_ptr<const estimation::LearnedModel> learned;
  storage::Database* db = nullptr;
  {
    std::lock_guard lock(mutex_);
    corrections.swap(unwritten_corrections_);
    learned.swap(unwritten_learned_);
    db = db_;
  }
  if (db == nullptr) return;
  for (const auto& c : corrections) db->put_device_correction(c.device_key, to_json(c));
  if (learned) db->put_blob(kLearnedBlob, learned->to_bytes());
}

void LatencyService::add_measurement(const storage::MeasurementRecord& measurement) {
  std::lock_guard lock(mutex_);
  add_locked(measurement);
}

void LatencyService::add_locked(const storage::MeasurementRecord& m) {
  measured_.add(m.device_key, versioned(m.model_id, m.model_version), static_cast<int>(m.batch),
                m.p50_ms, m.p95_ms);
  records_[m.device_key].push_back(m);
  stale_corrections_.insert(m.device_key);
  learned_stale_ = true;
}

const LatencyService::Profile& LatencyService::remember(const std::string& key,
                                                        const v1::Capability& capability,
                                                        const assignment::CatalogEntry& entry) {
  // The first capability of a device kind stands for all of its vehicles: their calibrations
  // differ by measurement noise only, and refitting whenever another vehicle is planned would
  // cost a fit per vehicle. Copy only what is new: this runs for every (vehicle, model, batch).
  if (capabilities_.try_emplace(key, capability).second && records_.contains(key)) {
    stale_corrections_.insert(key);
    learned_stale_ = true;
  }
  Profile& p = profiles_[entry.model_id];
  if (!p.profile || p.version != entry.version) {
    p = {entry.version, std::make_shared<model::ModelProfile>(entry.profile),
         std::make_shared<estimation::RooflineModel>(entry.profile)};
    for (const auto& [k, records] : records_) stale_corrections_.insert(k);
    learned_stale_ = learned_stale_ || !records_.empty();
  }
  return p;
}

// The device kind's measurements that can be fitted: capability known, model in the catalog
// at the measured version.
std::vector<estimation::Sample> LatencyService::fittable(const std::string& key) const {
  std::vector<estimation::Sample> samples;
  const auto cap = capabilities_.find(key);
  const auto records = records_.find(key);
  if (cap == capabilities_.end() || records == records_.end()) return samples;
  for (const auto& m : records->second) {
    const auto p = profiles_.find(m.model_id);
    if (p == profiles_.end() || p->second.version != m.model_version) continue;
    estimation::Sample s;
    s.model_id = m.model_id;
    s.model = p->second.profile;
    s.input_shape = s.model->input_shape;
    s.capability = cap->second;
    s.batch = static_cast<int>(m.batch);
    s.p50_ms = m.p50_ms;
    s.p95_ms = m.p95_ms;
    s.mean_ms = m.mean_ms;
    s.peak_rss_mb = m.peak_rss_mb;
    samples.push_back(std::move(s));
  }
  return samples;
}

const estimation::DeviceCorrections* LatencyService::corrections_for(const std::string& key) {
  if (stale_corrections_.erase(key) > 0) {
    const auto samples = fittable(key);
    const auto* current = corrections_.find(key);
    const bool keep_restored = restored_corrections_.contains(key) && current != nullptr &&
                               samples.size() < static_cast<std::size_t>(current->samples);
    if (!samples.empty() && !keep_restored) {
      estimation::DeviceCorrections c = estimation::fit_corrections(samples);
      restored_corrections_.erase(key);
      if (db_ != nullptr) unwritten_corrections_.push_back(c);
      corrections_.put(std::move(c));
      log::info(kLog, "device corrections refitted",
                {{"device_key", key}, {"samples", samples.size()}});
    }
  }
  return corrections_.find(key);
}

std::shared_ptr<const estimation::LearnedModel> LatencyService::learned() {
  if (learned_stale_) {
    learned_stale_ = false;
    std::vector<estimation::Sample> samples;
    for (const auto& [key, records] : records_) {
      auto more = fittable(key);
      samples.insert(samples.end(), more.begin(), more.end());
    }
    const bool keep_restored = learned_restored_ && learned_ &&
                               samples.size() < static_cast<std::size_t>(learned_->samples());
    if (!samples.empty() && !keep_restored) {
      learned_ = estimation::LearnedModel::train(samples);
      learned_restored_ = false;
      if (db_ != nullptr) unwritten_learned_ = learned_;
      log::info(kLog, "learned estimator retrained", {{"samples", samples.size()}});
    }
  }
  return learned_;
}

std::optional<estimation::DeviceCorrections> LatencyService::corrections(
    const v1::Capability& capability) {
  FlushOnExit flush(*this);
  std::lock_guard lock(mutex_);
  const std::string key = device_key(capability);
  if (capabilities_.try_emplace(key, capability).second) stale_corrections_.insert(key);
  const auto* c = corrections_for(key);
  return c ? std::optional(*c) : std::nullopt;
}

std::optional<assignment::LatencyEstimate> LatencyService::estimate(
    const v1::Capability& capability, const assignment::CatalogEntry& entry, std::uint32_t batch) {
  const std::string key = device_key(capability);
  const estimation::Query query{entry.profile, capability, static_cast<int>(batch), entry.model_id};
  estimation::check_batch(options_.estimator, query.batch);
  {
    FlushOnExit flush(*this);
    std::lock_guard lock(mutex_);
    const Profile& profile = remember(key, capability, entry);
    if (const auto m = measured_.find(key, versioned(entry.model_id, entry.version), query.batch)) {
      std::optional<double> energy;
      for (const auto& r : records_[key]) {
        if (r.model_id == entry.model_id && r.model_version == entry.version && r.batch == batch &&
            r.energy_j > 0) {
          energy = r.energy_j;  // the latest report that measured it
        }
      }
      return assignment::LatencyEstimate{m->p50_ms, m->p95_ms, "measured", energy, true};
    }
    try {
      if (options_.estimator == "flops")
        return to_latency(estimation::FlopsEstimator().estimate(query));
      const estimation::RooflineEstimator roofline;
      if (options_.estimator == "roofline") {
        return to_latency(
            roofline.estimate_with(query, *profile.roofline, corrections_for(key), false));
      }
      if (options_.estimator == "learned") {
        if (const auto model = learned()) {
          return to_latency(estimation::LearnedEstimator(model).estimate(query));
        }
        // Nothing measured yet to learn from: the adapted roofline, named as such.
        return to_latency(
            roofline.estimate_with(query, *profile.roofline, corrections_for(key), false));
      }
      const auto cached = llm_cache_.find({key, entry.model_id, batch});
      if (cached != llm_cache_.end()) return to_latency(cached->second);
    } catch (const estimation::Unavailable& e) {
      log::warn(kLog, "no estimate", {{"model", entry.model_id}, {"error", e.what()}});
      return std::nullopt;
    }
  }
  // llm, not yet asked: the request runs unlocked (seconds to minutes on a CPU-only server).
  try {
    const estimation::Estimate e = estimation::LlmEstimator(options_.llm).estimate(query);
    std::lock_guard lock(mutex_);
    llm_cache_[{key, entry.model_id, batch}] = e;
    return to_latency(e);
  } catch (const estimation::Unavailable& e) {
    log::warn(kLog, "no llm estimate", {{"model", entry.model_id}, {"error", e.what()}});
    return std::nullopt;
  }
}

}  // namespace fleetml::coordinator
