#pragma once

#include <filesystem>

#include "shared/crypto/keys.h"

namespace fleetml::crypto {

// A keys directory as made by `fleetctl keys init DIR`:
//   release.key      PKCS#8 PEM, mode 0600   signs manifests (model releases)
//   release.pub      SPKI PEM,   mode 0644
//   coordinator.key  PKCS#8 PEM, mode 0600   signs assignments
//   coordinator.pub  SPKI PEM,   mode 0644
// A vehicle's trust directory (--trust DIR) holds only the two .pub files.
inline constexpr const char* kReleaseKeyFile = "release.key";
inline constexpr const char* kReleasePubFile = "release.pub";
inline constexpr const char* kCoordinatorKeyFile = "coordinator.key";
inline constexpr const char* kCoordinatorPubFile = "coordinator.pub";

// The coordinator's signing keys.
struct SigningKeys {
  PrivateKey release;
  PrivateKey coordinator;
};

// The public keys a vehicle pins.
struct TrustedKeys {
  PublicKey release;
  PublicKey coordinator;
};

// Generates both key pairs into `dir` (created with mode 0700 if missing) and returns them.
// Refuses, throwing fleetml::Error before writing anything, if any of the four files already
// exists: keys are never overwritten.
SigningKeys init_keys(const std::filesystem::path& dir);

// Loads release.key and coordinator.key from `dir` (the coordinator). Throws fleetml::Error
// naming the file at fault.
SigningKeys load_signing_keys(const std::filesystem::path& dir);

// Loads release.pub and coordinator.pub from `dir` (a vehicle's --trust directory). Private
// key files are neither needed nor read. Throws fleetml::Error naming the file at fault.
TrustedKeys load_trusted_keys(const std::filesystem::path& dir);

}  // namespace fleetml::crypto
