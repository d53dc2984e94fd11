#include "shared/delivery/verifier.h"

#include "shared/crypto/hex.h"
#include "shared/crypto/sha256.h"

namespace fleetml::delivery {
namespace {

namespace reason = crypto::reason;

std::string model_label(const v1::ManifestBody& body) {
  return "manifest " + printable(body.model_id(), 64) + " v" + std::to_string(body.version());
}

}  // namespace

bool valid_model_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::uint64_t block_count(std::uint64_t size_bytes, std::uint32_t block_size) {
  return size_bytes / block_size + (size_bytes % block_size != 0 ? 1 : 0);
}

std::optional<std::string> manifest_shape_error(const v1::ManifestBody& body) {
  if (!valid_model_id(body.model_id())) return "model id is not [A-Za-z0-9_-]{1,64}";
  if (body.version() == 0) return "version is 0";
  if (!crypto::is_lower_hex(body.sha256(), crypto::kSha256Bytes)) {
    return "sha256 is not 64 lower-case hex digits";
  }
  if (body.block_size() == 0 || body.block_size() > kMaxBlockBytes) {
    return "block size " + std::to_string(body.block_size()) + " is outside 1.." +
           std::to_string(kMaxBlockBytes);
  }
  const std::uint64_t expected = block_count(body.size_bytes(), body.block_size());
  if (static_cast<std::uint64_t>(body.block_sha256_size()) != expected) {
    return std::to_string(body.block_sha256_size()) + " block hashes for " +
           std::to_string(body.size_bytes()) + " bytes in blocks of " +
           std::to_string(body.block_size()) + " (expected " + std::to_string(expected) + ")";
  }
  for (int i = 0; i < body.block_sha256_size(); ++i) {
    if (body.block_sha256(i).size() != crypto::kSha256Bytes) {
      return "block " + std::to_string(i) + " hash is not 32 bytes";
    }
  }
  return std::nullopt;
}

std::string printable(std::string_view text, std::size_t max_chars) {
  std::string out;
  for (char c : text.substr(0, max_chars)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (text.size() > max_chars) out += "...";
  return out;
}

Verifier::Verifier(crypto::TrustedKeys keys, std::string vehicle_id, const Clock& clock)
    : keys_(std::move(keys)), vehicle_id_(std::move(vehicle_id)), clock_(clock) {}

AssignmentVerdict Verifier::check_assignment(const v1::Assignment& assignment,
                                             std::uint64_t last_accepted_seq) const {
  AssignmentVerdict verdict;
  static_cast<crypto::Verdict<v1::AssignmentBody>&>(verdict) =
      crypto::verify_assignment(assignment, keys_.coordinator);
  if (!verdict.ok()) return verdict;
  const v1::AssignmentBody& body = verdict.body;
  const std::string label = "assignment seq " + std::to_string(body.seq());
  auto reject = [&](std::string_view why, std::string detail) {
    verdict.reason = std::string(why);
    verdict.detail = label + ": " + detail;
    return verdict;
  };
  if (body.vehicle_id() != vehicle_id_) {
    return reject(reason::kWrongVehicle, "addressed to '" + printable(body.vehicle_id(), 64) +
                                             "', this vehicle is " + vehicle_id_);
  }
  if (body.seq() < last_accepted_seq) {
    return reject(reason::kReplayed,
                  "older than the last accepted seq " + std::to_string(last_accepted_seq));
  }
  if (body.seq() == last_accepted_seq) {
    verdict.already_applied = true;
    return verdict;
  }
  const std::int64_t now_ms = clock_.now_unix_ms();
  if (body.expires_unix_ms() <= now_ms) {
    return reject(reason::kExpired, "expired at " + std::to_string(body.expires_unix_ms()) +
                                        " ms, now " + std::to_string(now_ms) + " ms");
  }
  for (const v1::AppAssignment& app : body.applications()) {
    if (app.model_id().empty()) continue;  // none feasible for this application
    if (!valid_model_id(app.model_id()) || app.model_version() == 0 ||
        !crypto::is_lower_hex(app.sha256(), crypto::kSha256Bytes)) {
      return reject(reason::kMalformed, "application '" + printable(app.application_id(), 64) +
                                            "' names no valid model id, version and sha256");
    }
  }
  return verdict;
}

crypto::Verdict<v1::ManifestBody> Verifier::check_manifest(
    const v1::Manifest& manifest, std::optional<std::uint64_t> highest_installed_version) const {
  auto verdict = crypto::verify_manifest(manifest, keys_.release);
  if (!verdict.ok()) return verdict;
  const v1::ManifestBody& body = verdict.body;
  if (auto error = manifest_shape_error(body)) {
    return crypto::Verdict<v1::ManifestBody>::reject(reason::kMalformed,
                                                     model_label(body) + ": " + *error);
  }
  const std::int64_t now_ms = clock_.now_unix_ms();
  if (body.expires_unix_ms() <= now_ms) {
    return crypto::Verdict<v1::ManifestBody>::reject(
        reason::kExpired, model_label(body) + ": expired at " +
                              std::to_string(body.expires_unix_ms()) + " ms, now " +
                              std::to_string(now_ms) + " ms");
  }
  if (highest_installed_version && body.version() < *highest_installed_version) {
    return crypto::Verdict<v1::ManifestBody>::reject(
        reason::kRollback, model_label(body) + ": older than installed v" +
                               std::to_string(*highest_installed_version));
  }
  return verdict;
}

crypto::Verdict<v1::ManifestBody> check_target(const v1::AppAssignment& app,
                                               const v1::ManifestBody& manifest) {
  using V = crypto::Verdict<v1::ManifestBody>;
  const std::string label = "application '" + printable(app.application_id(), 64) + "': ";
  if (app.model_id() != manifest.model_id()) {
    return V::reject(reason::kMalformed, label + "assignment names model " +
                                             printable(app.model_id(), 64) + ", manifest is " +
                                             printable(manifest.model_id(), 64));
  }
  if (app.model_version() != manifest.version()) {
    return V::reject(reason::kUnavailable,
                     label + "assignment names v" + std::to_string(app.model_version()) +
                         ", published manifest is v" + std::to_string(manifest.version()));
  }
  if (app.sha256() != manifest.sha256() || app.size_bytes() != manifest.size_bytes()) {
    return V::reject(reason::kHashMismatch,
                     label + "assignment and release manifest name different artifacts for " +
                         printable(app.model_id(), 64) + " v" +
                         std::to_string(app.model_version()));
  }
  V verdict;
  verdict.body = manifest;
  return verdict;
}

}  // namespace fleetml::delivery
