#include "shared/crypto/keys.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/test_support.h"

namespace fleetml::crypto {
namespace {

namespace fs = std::filesystem;

TEST(KeysTest, SignatureVerifiesOnlyForTheSameKeyAndMessage) {
  const PrivateKey key = PrivateKey::generate();
  const PrivateKey other = PrivateKey::generate();
  const std::string signature = key.sign("hello vehicle");
  EXPECT_EQ(signature.size(), kEd25519SignatureBytes);
  EXPECT_TRUE(key.public_key().verify("hello vehicle", signature));
  EXPECT_FALSE(key.public_key().verify("hello vehiclf", signature));
  EXPECT_FALSE(other.public_key().verify("hello vehicle", signature));
  std::string flipped = signature;
  flipped[10] ^= 0x01;
  EXPECT_FALSE(key.public_key().verify("hello vehicle", flipped));
  EXPECT_FALSE(key.public_key().verify("hello vehicle", signature.substr(0, 63)));
  EXPECT_FALSE(key.public_key().verify("hello vehicle", ""));
  EXPECT_NE(key.key_id(), other.key_id());
}

// RFC 8032 section 7.1, test 1: empty message.
TEST(KeysTest, VerifiesRfc8032VectorAndDerivesKeyId) {
  const PublicKey pub = PublicKey::from_raw(
      *from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
  const std::string signature = *from_hex(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701c"
      "f9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(pub.verify("", signature));
  EXPECT_FALSE(pub.verify("x", signature));
  // First 16 bytes of SHA-256 of the raw key, computed independently with Python's hashlib.
  EXPECT_EQ(pub.key_id(), "21fe31dfa154a261626bf854046fd227");
  EXPECT_EQ(pub.key_id(), key_id_of(pub.raw()));
}

TEST(KeysTest, PrivatePemRoundTripsAndIsSavedOwnerOnly) {
  ScopedTempDir dir;
  const PrivateKey key = PrivateKey::generate();
  const std::string pem = key.to_pem();
  EXPECT_NE(pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);  // PKCS#8
  key.save(dir / "k.key");
  EXPECT_EQ(mode_of(dir / "k.key"), fs::perms::owner_read | fs::perms::owner_write);
  const PrivateKey loaded = PrivateKey::load(dir / "k.key");
  EXPECT_EQ(loaded.key_id(), key.key_id());
  EXPECT_TRUE(key.public_key().verify("m", loaded.sign("m")));
}

TEST(KeysTest, PublicPemRoundTrips) {
  ScopedTempDir dir;
  const PrivateKey key = PrivateKey::generate();
  key.public_key().save(dir / "k.pub");
  EXPECT_NE(file::read(dir / "k.pub").find("-----BEGIN PUBLIC KEY-----"), std::string::npos);
  EXPECT_EQ(mode_of(dir / "k.pub") & fs::perms::owner_write, fs::perms::owner_write);
  const PublicKey pub = PublicKey::load(dir / "k.pub");
  EXPECT_EQ(pub.raw(), key.public_key().raw());
  EXPECT_EQ(pub.key_id(), key.key_id());
  EXPECT_TRUE(pub.verify("m", key.sign("m")));
  EXPECT_EQ(PublicKey::from_raw(pub.raw()).key_id(), pub.key_id());
}

TEST(KeysTest, PublicPemIsNotAPrivateKeyAndViceVersa) {
  const PrivateKey key = PrivateKey::generate();
  EXPECT_THROW(PrivateKey::from_pem(key.public_key().to_pem()), Error);
  EXPECT_THROW(PublicKey::from_pem("not pem at all"), Error);
  EXPECT_THROW(PublicKey::from_raw("short"), Error);
}

TEST(KeysTest, RejectsKeysOfAnotherAlgorithm) {
  EVP_PKEY* x25519 = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  ASSERT_NE(x25519, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, x25519, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(x25519);
  try {
    PrivateKey::from_pem(pem);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not an Ed25519 key"), std::string::npos) << e.what();
  }
}

TEST(KeysTest, LoadErrorsNameTheFile) {
  ScopedTempDir dir;
  file::write_atomic(dir / "garbage.key", "garbage");
  for (const char* name : {"garbage.key", "absent.key"}) {
    try {
      PrivateKey::load(dir / name);
      FAIL() << "expected an error for " << name;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(PublicKey::load(dir / "absent.pub"), Error);
}

}  // namespace
}  // namespace fleetml::crypto
