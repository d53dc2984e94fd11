#include "shared/crypto/key_dir.h"

#include <gtest/gtest.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/crypto/test_support.h"

namespace fleetml::crypto {
namespace {

namespace fs = std::filesystem;
constexpr fs::perms kOwnerRw = fs::perms::owner_read | fs::perms::owner_write;

TEST(KeyDirTest, InitCreatesTwoDistinctPairsWithSafeModes) {
  ScopedTempDir tmp;
  const fs::path dir = tmp / "keys";
  const SigningKeys keys = init_keys(dir);
  EXPECT_NE(keys.release.key_id(), keys.coordinator.key_id());
  EXPECT_EQ(mode_of(dir), fs::perms::owner_all);
  EXPECT_EQ(mode_of(dir / kReleaseKeyFile), kOwnerRw);
  EXPECT_EQ(mode_of(dir / kCoordinatorKeyFile), kOwnerRw);
  EXPECT_EQ(mode_of(dir / kReleasePubFile) & fs::perms::others_read, fs::perms::others_read);

  const SigningKeys loaded = load_signing_keys(dir);
  EXPECT_EQ(loaded.release.key_id(), keys.release.key_id());
  EXPECT_EQ(loaded.coordinator.key_id(), keys.coordinator.key_id());
  const TrustedKeys trusted = load_trusted_keys(dir);
  EXPECT_EQ(trusted.release.key_id(), keys.release.key_id());
  EXPECT_EQ(trusted.coordinator.key_id(), keys.coordinator.key_id());
}

TEST(KeyDirTest, InitRefusesToOverwriteAnyKey) {
  ScopedTempDir tmp;
  const SigningKeys first = init_keys(tmp.path());
  const std::string before = file::read(tmp / kReleaseKeyFile);
  EXPECT_THROW(init_keys(tmp.path()), Error);
  EXPECT_EQ(file::read(tmp / kReleaseKeyFile), before);

  ScopedTempDir other;
  file::write_atomic(other / kCoordinatorPubFile, "someone else's key");
  try {
    init_keys(other.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("coordinator.pub"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(other / kReleaseKeyFile));
}

TEST(KeyDirTest, TrustDirNeedsOnlyPublicKeys) {
  ScopedTempDir tmp;
  const SigningKeys keys = init_keys(tmp / "keys");
  const fs::path trust = tmp / "trust";
  fs::create_directories(trust);
  fs::copy_file(tmp / "keys" / kReleasePubFile, trust / kReleasePubFile);
  fs::copy_file(tmp / "keys" / kCoordinatorPubFile, trust / kCoordinatorPubFile);
  const TrustedKeys trusted = load_trusted_keys(trust);
  EXPECT_EQ(trusted.release.key_id(), keys.release.key_id());
  EXPECT_THROW(load_signing_keys(trust), Error);
}

TEST(KeyDirTest, MissingTrustFileIsNamed) {
  ScopedTempDir tmp;
  init_keys(tmp.path());
  fs::remove(tmp / kCoordinatorPubFile);
  try {
    load_trusted_keys(tmp.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("coordinator.pub"), std::string::npos) << e.what();
  }
}

TEST(KeyDirTest, OneKeyForBothRolesIsRefused) {
  ScopedTempDir tmp;
  init_keys(tmp.path());
  fs::copy_file(tmp / kReleasePubFile, tmp / kCoordinatorPubFile,
                fs::copy_options::overwrite_existing);
  EXPECT_THROW(load_trusted_keys(tmp.path()), Error);
}

}  // namespace
}  // namespace fleetml::crypto
