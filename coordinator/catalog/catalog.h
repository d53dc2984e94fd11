#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/storage/database.h"
#include "schemas/fleet.pb.h"
#include "shared/assignment/planner.h"
#include "shared/common/clock.h"
#include "shared/crypto/keys.h"
#include "shared/delivery/content_store.h"

namespace fleetml::catalog {

// The coordinator's model catalog: registers TorchScript artifacts (characterized from the
// file itself, stored content-addressed, described by a Manifest signed with the release key,
// versioned in the database) and answers what the planner and the chunk server need.
// Thread-safe: registration is serialized; readers get immutable snapshots.
class Catalog {
 public:
  struct Options {
    std::chrono::seconds manifest_ttl{std::chrono::hours(24 * 365)};
    std::uint32_t block_size = 256u << 10;  // manifest block size: one verified fetch each
  };

  struct Registration {
    std::string model_id;
    std::string task;
    double accuracy = 0;  // top-1 in [0, 1]
    model::Shape input_shape;
  };

  struct Registered {
    storage::ModelVersion version;
    bool created = false;  // false: the same artifact and metadata were already the latest
  };

  // Loads every stored version. The references must outlive the Catalog.
  Catalog(storage::Database& db, delivery::ContentStore& store,
          const crypto::PrivateKey& release_key, const Clock& clock, Options options);

  // Registers `file` as the next version of the model (or returns the latest version when it
  // has the same bytes and metadata). Throws fleetml::Error with a one-line reason for an
  // invalid id, task, accuracy or shape, or a file that is not TorchScript runnable on the
  // shape; nothing is stored then.
  Registered add(const std::filesystem::path& file, const Registration& registration);

  // Latest version of every model, for the planner. Cheap: a shared immutable snapshot.
  std::shared_ptr<const std::vector<assignment::CatalogEntry>> entries() const;

  // The manifest of one version (any stored version, so a download in progress can finish
  // after a newer version appears); nullopt when unknown.
  std::optional<v1::ManifestBody> manifest_body(const std::string& model_id,
                                                std::uint64_t version) const;

  // The signed manifest of the latest version of every model (what is retained on
  // models/{id}/manifest).
  std::vector<v1::Manifest> latest_manifests() const;

  const delivery::ContentStore& store() const { return store_; }

 private:
  void index(const storage::ModelVersion& version);  // caller holds mutex_

  storage::Database& db_;
  delivery::ContentStore& store_;
  const crypto::PrivateKey& release_key_;
  const Clock& clock_;
  Options options_;

  std::mutex register_mutex_;  // one registration at a time
  mutable std::mutex mutex_;   // guards the indexes below
  std::map<std::pair<std::string, std::uint64_t>, v1::ManifestBody> bodies_;
  std::map<std::string, storage::ModelVersion> latest_;
  std::shared_ptr<const std::vector<assignment::CatalogEntry>> entries_;
};

// The catalog entry the planner sees for a stored version.
assignment::CatalogEntry to_entry(const storage::ModelVersion& version);

}  // namespace fleetml::catalog
