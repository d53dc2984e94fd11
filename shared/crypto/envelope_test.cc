#include "shared/crypto/envelope.h"

#include <gtest/gtest.h>

#include "shared/crypto/reasons.h"

namespace fleetml::crypto {
namespace {

v1::ManifestBody sample_manifest() {
  v1::ManifestBody body;
  body.set_model_id("resnet18");
  body.set_version(3);
  body.set_sha256(std::string(64, 'a'));
  body.set_size_bytes(1000);
  body.set_expires_unix_ms(2'000'000'000'000);
  return body;
}

v1::AssignmentBody sample_assignment() {
  v1::AssignmentBody body;
  body.set_vehicle_id("rpi4-001");
  body.set_seq(7);
  body.set_expires_unix_ms(2'000'000'000'000);
  body.add_applications()->set_model_id("resnet18");
  return body;
}

TEST(EnvelopeTest, SigningInputIsTheDocumentedEncoding) {
  EXPECT_EQ(signing_input("fleetml.v1.ManifestBody", std::string("\x08\x01", 2)),
            std::string("fleetml-v1 23 fleetml.v1.ManifestBody 2 \x08\x01", 42));
  EXPECT_EQ(signing_input("t", ""), "fleetml-v1 1 t 0 ");
}

// The worked example in docs/security.md.
TEST(EnvelopeTest, DocumentedExampleBytes) {
  v1::ManifestBody body;
  body.set_model_id("resnet18");
  body.set_version(3);
  const std::string serialized = body.SerializeAsString();
  EXPECT_EQ(serialized, std::string("\x0a\x08resnet18\x10\x03", 12));
  EXPECT_EQ(signing_input(kManifestBodyType, serialized),
            "fleetml-v1 23 fleetml.v1.ManifestBody 12 " + serialized);
  const PrivateKey release = PrivateKey::generate();
  EXPECT_EQ(sign_manifest(body, release).body(), serialized);
}

TEST(EnvelopeTest, SignedManifestVerifiesAndParses) {
  const PrivateKey release = PrivateKey::generate();
  const v1::Manifest manifest = sign_manifest(sample_manifest(), release);
  EXPECT_EQ(manifest.signature().key_id(), release.key_id());
  EXPECT_EQ(manifest.signature().ed25519().size(), kEd25519SignatureBytes);
  const auto verdict = verify_manifest(manifest, release.public_key());
  ASSERT_TRUE(verdict.ok()) << verdict.detail;
  EXPECT_EQ(verdict.body.model_id(), "resnet18");
  EXPECT_EQ(verdict.body.version(), 3u);
}

TEST(EnvelopeTest, SignedAssignmentVerifiesAndParses) {
  const PrivateKey coordinator = PrivateKey::generate();
  const auto verdict = verify_assignment(sign_assignment(sample_assignment(), coordinator),
                                         coordinator.public_key());
  ASSERT_TRUE(verdict.ok()) << verdict.detail;
  EXPECT_EQ(verdict.body.vehicle_id(), "rpi4-001");
  EXPECT_EQ(verdict.body.seq(), 7u);
}

TEST(EnvelopeTest, EveryTamperedBodyByteIsABadSignature) {
  const PrivateKey release = PrivateKey::generate();
  const v1::Manifest manifest = sign_manifest(sample_manifest(), release);
  for (std::size_t i = 0; i < manifest.body().size(); ++i) {
    v1::Manifest tampered = manifest;
    (*tampered.mutable_body())[i] ^= 0x01;
    const auto verdict = verify_manifest(tampered, release.public_key());
    EXPECT_EQ(verdict.reason, reason::kBadSignature) << "byte " << i;
  }
  v1::Manifest longer = manifest;
  longer.mutable_body()->push_back('\0');
  EXPECT_EQ(verify_manifest(longer, release.public_key()).reason, reason::kBadSignature);
}

TEST(EnvelopeTest, SignatureByAnotherKeyIsUnknownOrBad) {
  const PrivateKey release = PrivateKey::generate();
  const PrivateKey attacker = PrivateKey::generate();
  v1::Manifest manifest = sign_manifest(sample_manifest(), attacker);
  const auto honest_id = verify_manifest(manifest, release.public_key());
  EXPECT_EQ(honest_id.reason, reason::kUnknownKey);
  EXPECT_NE(honest_id.detail.find(attacker.key_id()), std::string::npos) << honest_id.detail;
  // The attacker claims the pinned key's id: the signature itself must then fail.
  manifest.mutable_signature()->set_key_id(release.key_id());
  EXPECT_EQ(verify_manifest(manifest, release.public_key()).reason, reason::kBadSignature);
}

TEST(EnvelopeTest, MissingOrTruncatedSignatureIsRejected) {
  const PrivateKey release = PrivateKey::generate();
  v1::Manifest manifest = sign_manifest(sample_manifest(), release);
  v1::Manifest unsigned_manifest = manifest;
  unsigned_manifest.clear_signature();
  EXPECT_EQ(verify_manifest(unsigned_manifest, release.public_key()).reason, reason::kUnknownKey);
  manifest.mutable_signature()->mutable_ed25519()->resize(32);
  EXPECT_EQ(verify_manifest(manifest, release.public_key()).reason, reason::kBadSignature);
}

TEST(EnvelopeTest, MalformedKeyIdIsNotEchoed) {
  const PrivateKey release = PrivateKey::generate();
  v1::Manifest manifest = sign_manifest(sample_manifest(), release);
  manifest.mutable_signature()->set_key_id("evil\nforged log line");
  const auto verdict = verify_manifest(manifest, release.public_key());
  EXPECT_EQ(verdict.reason, reason::kUnknownKey);
  EXPECT_EQ(verdict.detail.find('\n'), std::string::npos);
}

// The same key signs both types here, so only the type in the signing input tells them apart.
TEST(EnvelopeTest, CrossTypeReplayIsRejected) {
  const PrivateKey key = PrivateKey::generate();
  const v1::Assignment assignment = sign_assignment(sample_assignment(), key);
  v1::Manifest as_manifest;
  as_manifest.set_body(assignment.body());
  *as_manifest.mutable_signature() = assignment.signature();
  EXPECT_EQ(verify_manifest(as_manifest, key.public_key()).reason, reason::kBadSignature);

  const v1::Manifest manifest = sign_manifest(sample_manifest(), key);
  v1::Assignment as_assignment;
  as_assignment.set_body(manifest.body());
  *as_assignment.mutable_signature() = manifest.signature();
  EXPECT_EQ(verify_assignment(as_assignment, key.public_key()).reason, reason::kBadSignature);
}

TEST(EnvelopeTest, AuthenticBodyThatDoesNotParseIsMalformed) {
  const PrivateKey release = PrivateKey::generate();
  v1::Manifest manifest;
  manifest.set_body("\xff\xff\xff");
  manifest.mutable_signature()->set_key_id(release.key_id());
  manifest.mutable_signature()->set_ed25519(
      release.sign(signing_input(kManifestBodyType, manifest.body())));
  EXPECT_EQ(verify_manifest(manifest, release.public_key()).reason, reason::kMalformed);
}

// A newer coordinator may add fields; the signature covers the bytes, not a re-encoding.
TEST(EnvelopeTest, UnknownFieldsSurviveVerification) {
  const PrivateKey release = PrivateKey::generate();
  std::string body = sample_manifest().SerializeAsString();
  body += std::string("\xa8\x06\x2a", 3);  // field 101, varint 42: unknown to v1
  v1::Manifest manifest;
  manifest.set_body(body);
  manifest.mutable_signature()->set_key_id(release.key_id());
  manifest.mutable_signature()->set_ed25519(release.sign(signing_input(kManifestBodyType, body)));
  const auto verdict = verify_manifest(manifest, release.public_key());
  ASSERT_TRUE(verdict.ok()) << verdict.detail;
  EXPECT_EQ(verdict.body.model_id(), "resnet18");
}

}  // namespace
}  // namespace fleetml::crypto
