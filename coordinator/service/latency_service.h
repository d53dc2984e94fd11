#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coordinator/service/latency_model.h"
#include "shared/estimation/adaptation.h"
#include "shared/estimation/learned.h"
#include "shared/estimation/llm.h"
#include "shared/estimation/measured.h"

namespace fleetml::coordinator {

struct LatencyServiceOptions {
  // "roofline" (the default, adapted per device kind), "flops" (DIGA's proxy), "learned"
  // (XGBoost on the stored measurements) or "llm" (needs llm.url).
  std::string estimator = "roofline";
  estimation::LlmConfig llm;
};

// The coordinator's LatencyModel (docs/estimation.md, "closed loop"):
//  1. a (device kind, model id and version, batch) that vehicles have measured is answered by
//     its measurements: point = median reported p50, bound = largest reported p95, estimator
//     "measured";
//  2. anything else goes to the configured estimator; roofline is scaled by the device kind's
//     corrections, refitted from its measurements of other models (few-shot adaptation), and
//     learned is retrained on all measurements.
// A MeasurementRecord names only its device_key, so fitting needs that device kind's
// Capability and the measured model's profile: the service keeps the first capability of each
// device kind and the latest profile of each model that estimate() has been asked about, and fits
// lazily, at the first estimate for the device kind after new measurements arrived. Measurements of
// model versions other than the catalog's current one are kept for the override of that version but
// not fitted on.
//
// Persistence (persist_in): every refit of a device kind's corrections is written to the
// database's device_corrections (to_json of DeviceCorrections) and every retrained learned
// model to the blob kLearnedBlob. After a restart they answer at once: a restored fit is kept
// until the planner has shown the service at least as many of the device kind's measurements
// as it was fitted on (the catalog's profiles arrive one estimate at a time, and a refit on the
// first few would be worse than the restored one); then it is refitted as usual.
//
// Thread-safe: estimate() (planning thread) and add_measurement() (ingest thread) share one
// mutex; an llm request and the database writes run outside it (the ingest thread may hold
// the database while it adds a measurement), so that ingest never waits for an LLM.
class LatencyService : public LatencyModel {
 public:
  // `stored` are the measurements already in the database (Database::all_measurements()).
  // Throws fleetml::Error on an unknown estimator name, llm without a URL, or a stored
  // measurement with a non-positive or inverted (p95 < p50) latency or batch 0.
  LatencyService(LatencyServiceOptions options, std::vector<storage::MeasurementRecord> stored);

  // The configured estimator's name; individual estimates may say "measured" (and "roofline"
  // for a learned estimator that has no measurement to learn from yet).
  std::string name() const override { return options_.estimator; }
  std::string device_key(const v1::Capability& capability) const override;

  // Throws fleetml::Error on a malformed calibration (rates not positive) or batch 0; nullopt
  // when the estimator has no answer (flops without nominal GFLOPS, a failed llm request).
  std::optional<assignment::LatencyEstimate> estimate(const v1::Capability& capability,
                                                      const assignment::CatalogEntry& entry,
                                                      std::uint32_t batch) override;

  // Throws fleetml::Error as the constructor does for a stored one.
  void add_measurement(const storage::MeasurementRecord& measurement) override;

  // Restores and from now on persists corrections and the learned model (see above). A stored
  // document that does not parse is logged and ignored (it is refitted). Throws fleetml::Error
  // when the database cannot be read.
  void persist_in(storage::Database& db) override;
  static constexpr const char* kLearnedBlob = "estimation/learned";

  // The device kind's current corrections (fitted on demand); nullopt when it has none yet.
  std::optional<estimation::DeviceCorrections> corrections(const v1::Capability& capability);

 private:
  struct Profile {
    std::uint64_t version = 0;
    std::shared_ptr<const model::ModelProfile> profile;
    std::shared_ptr<const estimation::RooflineModel> roofline;  // the profile, priced once
  };

  // Callers hold mutex_.
  void add_locked(const storage::MeasurementRecord& m);
  // Returns the entry's model as remembered.
  const Profile& remember(const std::string& key, const v1::Capability& capability,
                          const assignment::CatalogEntry& entry);
  std::vector<estimation::Sample> fittable(const std::string& key) const;
  const estimation::DeviceCorrections* corrections_for(const std::string& key);
  std::shared_ptr<const estimation::LearnedModel> learned();
  // Writes what corrections_for() and learned() fitted since the last call; called without
  // mutex_ held.
  void flush_writes();
  class FlushOnExit;

  LatencyServiceOptions options_;
  std::mutex mutex_;
  estimation::MeasuredLatencies measured_;  // model field: "<id>@<version>"
  std::map<std::string, std::vector<storage::MeasurementRecord>> records_;  // by device_key
  std::map<std::string, v1::Capability> capabilities_;                      // by device_key
  std::map<std::string, Profile> profiles_;                                 // by model id
  estimation::CorrectionTable corrections_;
  std::set<std::string> stale_corrections_;  // device keys measured since their last fit
  std::shared_ptr<const estimation::LearnedModel> learned_;
  bool learned_stale_ = true;
  // Persistence: the database, what was restored from it and not yet refitted, and fits not
  // yet written.
  storage::Database* db_ = nullptr;
  std::set<std::string> restored_corrections_;
  bool learned_restored_ = false;
  std::vector<estimation::DeviceCorrections> unwritten_corrections_;
  std::shared_ptr<const estimation::LearnedModel> unwritten_learned_;
  // llm answers by (device_key, model id, batch): each costs an LLM request.
  std::map<std::tuple<std::string, std::string, std::uint32_t>, estimation::Estimate> llm_cache_;
};

}  // namespace fleetml::coordinator
