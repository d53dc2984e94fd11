// The model catalog: versions of each model id, with profile and signed manifest.

#include <algorithm>
#include <cmath>
#include <string>

#include "coordinator/storage/connection.h"
#include "coordinator/storage/database.h"
#include "shared/common/error.h"

namespace fleetml::storage {

using internal::bind_blob;
using internal::reject;
using internal::require_non_empty;
using internal::Stmt;
using internal::to_sql_int;

namespace {

const std::string kSelectVersions =
    "SELECT model_id, version, sha256, task, accuracy, profile_json, manifest, created_unix_ms "
    "FROM model_versions mv ";
const std::string kSelectOneVersion = kSelectVersions + "WHERE model_id = ? AND version = ?";
const std::string kSelectLatestOfModel =
    kSelectVersions + "WHERE model_id = ? ORDER BY version DESC LIMIT 1";
const std::string kSelectLatestOfEach =
    kSelectVersions +
    "WHERE version = (SELECT max(version) FROM model_versions WHERE model_id = mv.model_id) "
    "ORDER BY model_id";
const std::string kSelectAllOfModel = kSelectVersions + "WHERE model_id = ? ORDER BY version";

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

void validate(std::string_view what, const ModelArtifact& a) {
  require_non_empty(what, "model id", a.model_id);
  require_non_empty(what, "task", a.task);
  if (!is_sha256_hex(a.sha256)) reject(what, "sha256 is not 64 lowercase hex digits");
  if (!std::isfinite(a.accuracy) || a.accuracy < 0 || a.accuracy > 1) {
    reject(what, "accuracy " + std::to_string(a.accuracy) + " is not in [0, 1]");
  }
  if (a.profile.size_bytes <= 0) reject(what, "profile size_bytes is not positive");
  if (a.profile.input_shape.empty()) reject(what, "profile input_shape is empty");
  for (const auto d : a.profile.input_shape) {
    if (d <= 0) reject(what, "profile input_shape has a non-positive dimension");
  }
}

// The stored manifest must describe the row it is stored with.
void check_manifest(std::string_view what, const ModelArtifact& a, std::uint64_t version,
                    const v1::Manifest& manifest) {
  v1::ManifestBody body;
  if (!body.ParseFromString(manifest.body())) reject(what, "manifest body does not parse");
  if (!internal::carries_signature(manifest.signature())) reject(what, "manifest is not signed");
  const auto mismatch = [&](const char* field) {
    reject(what, std::string("manifest ") + field + " disagrees with the catalog entry");
  };
  if (body.model_id() != a.model_id) mismatch("model_id");
  if (body.version() != version) mismatch("version");
  if (body.sha256() != a.sha256) mismatch("sha256");
  if (body.size_bytes() != static_cast<std::uint64_t>(a.profile.size_bytes)) {
    mismatch("size_bytes");
  }
  if (body.task() != a.task) mismatch("task");
  if (body.accuracy() != a.accuracy) mismatch("accuracy");
  if (!std::equal(body.input_shape().begin(), body.input_shape().end(),
                  a.profile.input_shape.begin(), a.profile.input_shape.end())) {
    mismatch("input_shape");
  }
}

ModelVersion version_from_row(Stmt& row) {
  ModelVersion v;
  v.artifact.model_id = row->getColumn(0).getString();
  v.version = static_cast<std::uint64_t>(row->getColumn(1).getInt64());
  const std::string what =
      "model '" + v.artifact.model_id + "' version " + std::to_string(v.version);
  v.artifact.sha256 = row->getColumn(2).getString();
  v.artifact.task = row->getColumn(3).getString();
  v.artifact.accuracy = row->getColumn(4).getDouble();
  try {
    v.artifact.profile =
        model::profile_from_json(nlohmann::json::parse(row->getColumn(5).getString()));
  } catch (const nlohmann::json::exception& e) {
    throw Error("storage: " + what + ": stored profile is not JSON: " + e.what());
  } catch (const Error& e) {
    throw Error("storage: " + what + ": stored profile: " + e.what());
  }
  internal::parse_column(what, row->getColumn(6), v.manifest);
  v.created_unix_ms = row->getColumn(7).getInt64();
  return v;
}

std::vector<ModelVersion> versions_from_rows(Stmt& rows) {
  std::vector<ModelVersion> result;
  while (rows->executeStep()) result.push_back(version_from_row(rows));
  return result;
}

}  // namespace

ModelVersion Database::add_model_version(const ModelArtifact& artifact,
                                         const std::function<v1::Manifest(std::uint64_t)>& sign) {
  const std::string what = "add model '" + artifact.model_id + "'";
  validate(what, artifact);
  const std::string shape = model::format_shape(artifact.profile.input_shape);
  const std::string profile_json = model::to_json(artifact.profile).dump();
  return connection_->write(what, [&] {
    std::uint64_t version = 1;
    {
      auto latest =
          connection_->prepare("SELECT max(version) FROM model_versions WHERE model_id = ?");
      latest->bind(1, artifact.model_id);
      latest->executeStep();
      if (!latest->isColumnNull(0)) version += latest->getColumn(0).getInt64();
    }
    ModelVersion stored{.artifact = artifact,
                        .version = version,
                        .manifest = sign(version),
                        .created_unix_ms = clock_.now_unix_ms()};
    const std::string version_what = what + " version " + std::to_string(version);
    check_manifest(version_what, artifact, version, stored.manifest);
    auto insert = connection_->prepare(
        "INSERT INTO model_versions (model_id, version, sha256, size_bytes, task, accuracy, "
        "input_shape, profile_json, manifest, created_unix_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert->bind(1, artifact.model_id);
    insert->bind(2, to_sql_int(version_what, "version", version));
    insert->bind(3, artifact.sha256);
    insert->bind(4, artifact.profile.size_bytes);
    insert->bind(5, artifact.task);
    insert->bind(6, artifact.accuracy);
    insert->bind(7, shape);
    insert->bind(8, profile_json);
    bind_blob(*insert, 9, internal::serialize(version_what, stored.manifest));
    insert->bind(10, stored.created_unix_ms);
    insert->exec();
    return stored;
  });
}

std::optional<ModelVersion> Database::model_version(std::string_view model_id,
                                                    std::uint64_t version) {
  const std::string id(model_id);
  const std::string what = "read model '" + id + "' version " + std::to_string(version);
  return connection_->read(what, [&]() -> std::optional<ModelVersion> {
    if (version > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    auto row = connection_->prepare(kSelectOneVersion.c_str());
    row->bind(1, id);
    row->bind(2, static_cast<std::int64_t>(version));
    if (!row->executeStep()) return std::nullopt;
    return version_from_row(row);
  });
}

std::optional<ModelVersion> Database::latest_model_version(std::string_view model_id) {
  const std::string id(model_id);
  return connection_->read("read latest version of model '" + id + "'",
                           [&]() -> std::optional<ModelVersion> {
                             auto row = connection_->prepare(kSelectLatestOfModel.c_str());
                             row->bind(1, id);
                             if (!row->executeStep()) return std::nullopt;
                             return version_from_row(row);
                           });
}

std::vector<ModelVersion> Database::latest_model_versions() {
  return connection_->read("list models", [&] {
    auto rows = connection_->prepare(kSelectLatestOfEach.c_str());
    return versions_from_rows(rows);
  });
}

std::vector<ModelVersion> Database::model_versions(std::string_view model_id) {
  const std::string id(model_id);
  return connection_->read("list versions of model '" + id + "'", [&] {
    auto rows = connection_->prepare(kSelectAllOfModel.c_str());
    rows->bind(1, id);
    return versions_from_rows(rows);
  });
}

}  // namespace fleetml::storage
