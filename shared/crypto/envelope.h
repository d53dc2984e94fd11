#pragma once

#include <string>
#include <string_view>

#include "schemas/fleet.pb.h"
#include "shared/crypto/keys.h"

namespace fleetml::crypto {

// Payload types named in the signing input; a signature for one type never verifies as
// another, so a manifest signature cannot be replayed as an assignment.
inline constexpr std::string_view kManifestBodyType = "fleetml.v1.ManifestBody";
inline constexpr std::string_view kAssignmentBodyType = "fleetml.v1.AssignmentBody";

// The exact bytes that are signed (DSSE-style pre-authentication encoding):
//   "fleetml-v1" SP len(type) SP type SP len(body) SP body
// where SP is one 0x20 byte and len() is the byte length in ASCII decimal without leading
// zeros. See docs/security.md.
std::string signing_input(std::string_view type, std::string_view body);

// Serializes `body` (deterministically) and signs it with the release key.
// Throws fleetml::Error if serialization or signing fails.
v1::Manifest sign_manifest(const v1::ManifestBody& body, const PrivateKey& release_key);

// Serializes `body` (deterministically) and signs it with the coordinator key.
// Throws fleetml::Error if serialization or signing fails.
v1::Assignment sign_assignment(const v1::AssignmentBody& body, const PrivateKey& coordinator_key);

// Outcome of a verification: accepted with the parsed body, or rejected with a reason code
// (shared/crypto/reasons.h) and a one-line human detail. A value, never an exception: the
// input comes from the network.
template <typename Body>
struct Verdict {
  std::string reason;  // empty when accepted
  std::string detail;  // one line for logs and Report.detail
  Body body;           // meaningful only when ok()

  bool ok() const { return reason.empty(); }

  static Verdict reject(std::string_view why, std::string what) {
    Verdict v;
    v.reason = std::string(why);
    v.detail = std::move(what);
    return v;
  }
};

// Checks that `manifest` was signed by `release_key` (pinned) and parses its body. Checks
// only authenticity; freshness, rollback and shape are the delivery Verifier's job. Reasons:
// unknown_key, bad_signature, malformed.
Verdict<v1::ManifestBody> verify_manifest(const v1::Manifest& manifest,
                                          const PublicKey& release_key);

// Checks that `assignment` was signed by `coordinator_key` (pinned) and parses its body.
// Reasons: unknown_key, bad_signature, malformed.
Verdict<v1::AssignmentBody> verify_assignment(const v1::Assignment& assignment,
                                              const PublicKey& coordinator_key);

}  // namespace fleetml::crypto
