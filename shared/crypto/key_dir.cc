#include "shared/crypto/key_dir.h"

#include "shared/common/error.h"
#include "shared/common/log.h"

namespace fleetml::crypto {

namespace fs = std::filesystem;

SigningKeys init_keys(const fs::path& dir) {
  for (const char* name :
       {kReleaseKeyFile, kReleasePubFile, kCoordinatorKeyFile, kCoordinatorPubFile}) {
    if (fs::exists(dir / name)) {
      throw Error("keys directory " + dir.string() + ": " + name +
                  " already exists; refusing to overwrite keys");
    }
  }
  std::error_code ec;
  if (fs::create_directories(dir, ec)) {
    fs::permissions(dir, fs::perms::owner_all, ec);
  }
  if (ec || !fs::is_directory(dir)) {
    throw Error("cannot create keys directory " + dir.string() +
                (ec ? ": " + ec.message() : std::string()));
  }
  SigningKeys keys{PrivateKey::generate(), PrivateKey::generate()};
  // Private halves first: a crash in between leaves a directory that init refuses and load
  // reports, never public keys without their private keys.
  keys.release.save(dir / kReleaseKeyFile);
  keys.coordinator.save(dir / kCoordinatorKeyFile);
  keys.release.public_key().save(dir / kReleasePubFile);
  keys.coordinator.public_key().save(dir / kCoordinatorPubFile);
  log::info("crypto", "keys created",
            {{"dir", dir.string()},
             {"release_key_id", keys.release.key_id()},
             {"coordinator_key_id", keys.coordinator.key_id()}});
  return keys;
}

SigningKeys load_signing_keys(const fs::path& dir) {
  return SigningKeys{PrivateKey::load(dir / kReleaseKeyFile),
                     PrivateKey::load(dir / kCoordinatorKeyFile)};
}

TrustedKeys load_trusted_keys(const fs::path& dir) {
  TrustedKeys keys{PublicKey::load(dir / kReleasePubFile),
                   PublicKey::load(dir / kCoordinatorPubFile)};
  if (keys.release.key_id() == keys.coordinator.key_id()) {
    // One key for both roles would let a compromised coordinator key sign releases.
    throw Error("trust directory " + dir.string() +
                ": release and coordinator keys must differ, both are " + keys.release.key_id());
  }
  return keys;
}

}  // namespace fleetml::crypto
