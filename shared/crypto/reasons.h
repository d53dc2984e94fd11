#pragma once

#include <string_view>

// Machine-readable reasons a vehicle rejects delivered metadata or artifacts. They travel in
// Report.reason (and ops events), so their spelling is part of the v1 contract: add new ones,
// never rename. docs/security.md lists which check produces which code, in which order.
namespace fleetml::crypto::reason {

// Signature missing, not 64 bytes, or not valid for the body under the pinned key (this
// includes a body of one type presented as another: the signing input names the type).
inline constexpr std::string_view kBadSignature = "bad_signature";
// Signature.key_id is not the pinned key for this role (e.g. a manifest signed by any key but
// the release key).
inline constexpr std::string_view kUnknownKey = "unknown_key";
// Assignment addressed to another vehicle id.
inline constexpr std::string_view kWrongVehicle = "wrong_vehicle";
// Assignment sequence lower than the last one accepted.
inline constexpr std::string_view kReplayed = "replayed";
// Metadata past its expires_unix_ms (or without an expiry).
inline constexpr std::string_view kExpired = "expired";
// Manifest version lower than the highest version installed for that model.
inline constexpr std::string_view kRollback = "rollback";
// Whole-artifact SHA-256 differs from the manifest, or assignment and manifest name
// different artifacts for the same model version.
inline constexpr std::string_view kHashMismatch = "hash_mismatch";
// Whole-artifact size differs from the manifest.
inline constexpr std::string_view kSizeMismatch = "size_mismatch";
// Too many chunks failed their block hash or length; the download was abandoned.
inline constexpr std::string_view kTamperedChunk = "tampered_chunk";
// Authenticated body that does not parse or is inconsistent (block list, ids, fields).
inline constexpr std::string_view kMalformed = "malformed";
// The installed model failed to load or to run its smoke inference; previous model kept.
inline constexpr std::string_view kSmokeFailed = "smoke_failed";
// The coordinator could not serve the artifact (Chunk.error), or the assignment names a
// version whose manifest is not the one published.
inline constexpr std::string_view kUnavailable = "unavailable";

}  // namespace fleetml::crypto::reason
