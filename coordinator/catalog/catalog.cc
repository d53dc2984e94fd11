#include "coordinator/catalog/catalog.h"

#include <cmath>

#include "shared/characterization/characterization.h"
#include "shared/common/error.h"
#include "shared/common/log.h"
#include "shared/crypto/envelope.h"
#include "shared/messages/topics.h"

namespace fleetml::catalog {
namespace {

constexpr const char* kLog = "catalog";

void check(const Catalog::Registration& r) {
  if (!messages::is_valid_model_id(r.model_id)) {
    throw Error("model id '" + r.model_id + "' is not [A-Za-z0-9_-]{1,64}");
  }
  if (!messages::is_valid_id(r.task)) {
    throw Error("task '" + r.task + "' is not [A-Za-z0-9_-]{1,64}");
  }
  if (!std::isfinite(r.accuracy) || r.accuracy < 0 || r.accuracy > 1) {
    throw Error("accuracy must be a top-1 fraction in [0, 1]");
  }
  if (r.input_shape.empty()) throw Error("input shape is missing");
}

bool same(const storage::ModelVersion& v, const std::string& sha256,
          const Catalog::Registration& r) {
  const auto& a = v.artifact;
  return a.sha256 == sha256 && a.task == r.task && a.accuracy == r.accuracy &&
         a.profile.input_shape == r.input_shape;
}

}  // namespace

assignment::CatalogEntry to_entry(const storage::ModelVersion& version) {
  const auto& a = version.artifact;
  assignment::CatalogEntry entry;
  entry.model_id = a.model_id;
  entry.version = version.version;
  entry.sha256 = a.sha256;
  entry.size_bytes = static_cast<std::uint64_t>(a.profile.size_bytes);
  entry.task = a.task;
  entry.accuracy = a.accuracy;
  entry.input_shape = a.profile.input_shape;
  entry.profile = a.profile;
  entry.profile.name = a.model_id;
  return entry;
}

Catalog::Catalog(storage::Database& db, delivery::ContentStore& store,
                 const crypto::PrivateKey& release_key, const Clock& clock, Options options)
    : db_(db), store_(store), release_key_(release_key), clock_(clock), options_(options) {
  std::lock_guard lock(mutex_);
  for (const auto& latest : db_.latest_model_versions()) {
    for (const auto& version : db_.model_versions(latest.artifact.model_id)) index(version);
  }
  log::info(kLog, "catalog loaded", {{"models", latest_.size()}, {"versions", bodies_.size()}});
}

void Catalog::index(const storage::ModelVersion& version) {
  v1::ManifestBody body;
  if (!body.ParseFromString(version.manifest.body())) {
    throw Error("stored manifest of " + version.artifact.model_id + " v" +
                std::to_string(version.version) + " does not parse");
  }
  bodies_[{version.artifact.model_id, version.version}] = std::move(body);
  auto& latest = latest_[version.artifact.model_id];
  if (version.version >= latest.version) latest = version;
  auto entries = std::make_shared<std::vector<assignment::CatalogEntry>>();
  for (const auto& [id, v] : latest_) entries->push_back(to_entry(v));
  entries_ = std::move(entries);
}

Catalog::Registered Catalog::add(const std::filesystem::path& file,
                                 const Registration& registration) {
  check(registration);
  std::lock_guard registering(register_mutex_);
  // Characterize first: a file LibTorch cannot run never enters the store.
  model::ModelProfile profile = characterization::characterize(file, registration.input_shape);
  profile.name = registration.model_id;
  const delivery::StoredArtifact stored = store_.put(file, options_.block_size);
  {
    std::lock_guard lock(mutex_);
    auto it = latest_.find(registration.model_id);
    if (it != latest_.end() && same(it->second, stored.sha256, registration)) {
      return {it->second, false};
    }
  }
  storage::ModelArtifact artifact{registration.model_id, stored.sha256, registration.task,
                                  registration.accuracy, profile};
  const auto now = clock_.now();
  const storage::ModelVersion version = db_.add_model_version(artifact, [&](std::uint64_t number) {
    v1::ManifestBody body;
    delivery::describe_artifact(stored, body);
    body.set_model_id(registration.model_id);
    body.set_version(number);
    body.set_task(registration.task);
    body.set_accuracy(registration.accuracy);
    for (auto d : registration.input_shape) body.add_input_shape(d);
    body.set_created_unix_ms(to_unix_ms(now));
    body.set_expires_unix_ms(to_unix_ms(now + options_.manifest_ttl));
    body.set_macs(static_cast<std::uint64_t>(profile.macs));
    body.set_params(static_cast<std::uint64_t>(profile.params));
    return crypto::sign_manifest(body, release_key_);
  });
  {
    std::lock_guard lock(mutex_);
    index(version);
  }
  log::info(kLog, "model registered",
            {{"model", registration.model_id},
             {"version", version.version},
             {"macs", profile.macs},
             {"size_bytes", profile.size_bytes}});
  return {version, true};
}

std::shared_ptr<const std::vector<assignment::CatalogEntry>> Catalog::entries() const {
  std::lock_guard lock(mutex_);
  if (!entries_) return std::make_shared<const std::vector<assignment::CatalogEntry>>();
  return entries_;
}

std::optional<v1::ManifestBody> Catalog::manifest_body(const std::string& model_id,
                                                       std::uint64_t version) const {
  std::lock_guard lock(mutex_);
  auto it = bodies_.find({model_id, version});
  if (it == bodies_.end()) return std::nullopt;
  return it->second;
}

std::vector<v1::Manifest> Catalog::latest_manifests() const {
  std::lock_guard lock(mutex_);
  std::vector<v1::Manifest> out;
  for (const auto& [id, v] : latest_) out.push_back(v.manifest);
  return out;
}

}  // namespace fleetml::catalog
