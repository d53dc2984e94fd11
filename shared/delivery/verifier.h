#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/fleet.pb.h"
#include "shared/common/clock.h"
#include "shared/crypto/envelope.h"
#include "shared/crypto/key_dir.h"
#include "shared/crypto/reasons.h"

namespace fleetml::delivery {

// Largest block a manifest may declare (and the largest chunk the coordinator serves): bounds
// what a vehicle buffers per block and the size of one MQTT message.
inline constexpr std::uint32_t kMaxBlockBytes = 4u << 20;
// Block size the coordinator uses unless told otherwise.
inline constexpr std::uint32_t kDefaultBlockBytes = 256u << 10;

// Model ids name directories and MQTT topic levels: [A-Za-z0-9_-]{1,64}, like vehicle ids.
bool valid_model_id(std::string_view id);

// Number of blocks of `block_size` bytes covering `size_bytes` (the last one may be short).
std::uint64_t block_count(std::uint64_t size_bytes, std::uint32_t block_size);

// Why `body` cannot describe a downloadable artifact, or nullopt when it can: model id,
// version > 0, sha256 as 64 lower-case hex, 0 < block_size <= kMaxBlockBytes, one 32-byte
// hash per block. Pure; never throws.
std::optional<std::string> manifest_shape_error(const v1::ManifestBody& body);

// `text` made safe to log or report: non-printable bytes become '?', and it is cut to
// `max_chars` (with "..."). For attacker-supplied strings.
std::string printable(std::string_view text, std::size_t max_chars = 120);

// An assignment verdict; when ok(), `already_applied` says whether its seq equals the last one
// accepted (the retained assignment seen again after a reconnect or restart). That is not an
// error and nothing is reported, but the agent still reconciles `body` with what is active
// (e.g. resumes a download a restart interrupted).
struct AssignmentVerdict : crypto::Verdict<v1::AssignmentBody> {
  bool already_applied = false;
};

// The vehicle's checks on signed metadata, in the order docs/security.md lists. Pure: the
// state it compares against (last accepted assignment seq, highest installed version) is
// passed in by the caller, which persists it (Installer). Never throws on message content.
class Verifier {
 public:
  // `keys` are the pinned public keys (crypto::load_trusted_keys); `clock` decides expiry and
  // must outlive the Verifier.
  Verifier(crypto::TrustedKeys keys, std::string vehicle_id, const Clock& clock);

  // Checks, in order: signed by the pinned coordinator key (unknown_key, bad_signature), body
  // parses (malformed), addressed to this vehicle (wrong_vehicle), seq not below
  // `last_accepted_seq` (replayed; equal -> ok with already_applied), not expired (expired;
  // an expiry of 0 counts as expired: every assignment must carry one), application entries
  // well-formed (malformed).
  AssignmentVerdict check_assignment(const v1::Assignment& assignment,
                                     std::uint64_t last_accepted_seq) const;

  // Checks, in order: signed by the pinned release key (unknown_key, bad_signature), body
  // parses and describes a downloadable artifact (malformed), not expired (expired), version
  // not below `highest_installed_version` (rollback; equal is fine, e.g. a re-signed manifest
  // with a later expiry).
  crypto::Verdict<v1::ManifestBody> check_manifest(
      const v1::Manifest& manifest, std::optional<std::uint64_t> highest_installed_version) const;

  const std::string& vehicle_id() const { return vehicle_id_; }

 private:
  crypto::TrustedKeys keys_;
  std::string vehicle_id_;
  const Clock& clock_;
};

// Uptane-style cross-check of the two roles: the coordinator key's choice (`app`, from a
// verified assignment) must name the very artifact the release key signed (`manifest`, a
// verified manifest body). Reasons: malformed (different model id), unavailable (the
// assignment names another version than the manifest published), hash_mismatch (same
// version, different sha256 or size). On success the verdict carries `manifest`.
crypto::Verdict<v1::ManifestBody> check_target(const v1::AppAssignment& app,
                                               const v1::ManifestBody& manifest);

}  // namespace fleetml::delivery
