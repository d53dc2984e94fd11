#include "shared/delivery/verifier.h"

#include <gtest/gtest.h>

#include "shared/crypto/sha256.h"

namespace fleetml::delivery {
namespace {

namespace reason = crypto::reason;

constexpr std::int64_t kHour = 3'600'000;

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest()
      : release_(crypto::PrivateKey::generate()),
        coordinator_(crypto::PrivateKey::generate()),
        verifier_(crypto::TrustedKeys{release_.public_key(), coordinator_.public_key()}, "rpi5-007",
                  clock_) {}

  v1::ManifestBody manifest() const {
    v1::ManifestBody m;
    m.set_model_id("resnet18");
    m.set_version(5);
    m.set_sha256(std::string(64, 'c'));
    m.set_size_bytes(10);
    m.set_block_size(4);
    for (int i = 0; i < 3; ++i) m.add_block_sha256(crypto::sha256(std::to_string(i)));
    m.set_expires_unix_ms(clock_.now_unix_ms() + kHour);
    return m;
  }

  v1::AssignmentBody assignment(std::uint64_t seq) const {
    v1::AssignmentBody a;
    a.set_vehicle_id("rpi5-007");
    a.set_seq(seq);
    a.set_expires_unix_ms(clock_.now_unix_ms() + kHour);
    v1::AppAssignment* app = a.add_applications();
    app->set_application_id("front-camera");
    app->set_model_id("resnet18");
    app->set_model_version(5);
    app->set_sha256(std::string(64, 'c'));
    app->set_size_bytes(10);
    return a;
  }

  ManualClock clock_;
  crypto::PrivateKey release_;
  crypto::PrivateKey coordinator_;
  Verifier verifier_;
};

TEST_F(VerifierTest, AcceptsFreshAssignmentAndFlagsTheOneAlreadyApplied) {
  const v1::Assignment a = crypto::sign_assignment(assignment(8), coordinator_);
  const AssignmentVerdict fresh = verifier_.check_assignment(a, 7);
  ASSERT_TRUE(fresh.ok()) << fresh.detail;
  EXPECT_FALSE(fresh.already_applied);
  EXPECT_EQ(fresh.body.seq(), 8u);
  const AssignmentVerdict again = verifier_.check_assignment(a, 8);
  EXPECT_TRUE(again.ok());
  EXPECT_TRUE(again.already_applied);
  EXPECT_EQ(verifier_.check_assignment(a, 9).reason, reason::kReplayed);
}

TEST_F(VerifierTest, AlreadyAppliedAssignmentIsNotReportedAsExpired) {
  const v1::Assignment a = crypto::sign_assignment(assignment(8), coordinator_);
  clock_.advance(std::chrono::hours(2));
  EXPECT_TRUE(verifier_.check_assignment(a, 8).already_applied);
  EXPECT_EQ(verifier_.check_assignment(a, 7).reason, reason::kExpired);
}

TEST_F(VerifierTest, AssignmentWithoutExpiryIsExpired) {
  v1::AssignmentBody body = assignment(8);
  body.clear_expires_unix_ms();
  EXPECT_EQ(verifier_.check_assignment(crypto::sign_assignment(body, coordinator_), 0).reason,
            reason::kExpired);
}

TEST_F(VerifierTest, AssignmentEntriesMustNameAnArtifact) {
  v1::AssignmentBody body = assignment(8);
  body.add_applications()->set_application_id("no-model-feasible");  // fine: none feasible
  EXPECT_TRUE(verifier_.check_assignment(crypto::sign_assignment(body, coordinator_), 0).ok());
  body.mutable_applications(0)->set_sha256("not-hex");
  EXPECT_EQ(verifier_.check_assignment(crypto::sign_assignment(body, coordinator_), 0).reason,
            reason::kMalformed);
  body = assignment(8);
  body.mutable_applications(0)->set_model_id("../../etc");
  EXPECT_EQ(verifier_.check_assignment(crypto::sign_assignment(body, coordinator_), 0).reason,
            reason::kMalformed);
}

TEST_F(VerifierTest, ManifestOfTheInstalledVersionIsAccepted) {
  const v1::Manifest m = crypto::sign_manifest(manifest(), release_);
  EXPECT_TRUE(verifier_.check_manifest(m, std::nullopt).ok());
  EXPECT_TRUE(verifier_.check_manifest(m, 5).ok());
  EXPECT_EQ(verifier_.check_manifest(m, 6).reason, reason::kRollback);
}

TEST_F(VerifierTest, ManifestShapeErrors) {
  auto error_after = [&](auto edit) {
    v1::ManifestBody m = manifest();
    edit(m);
    return manifest_shape_error(m);
  };
  EXPECT_EQ(error_after([](auto&) {}), std::nullopt);
  EXPECT_NE(error_after([](auto& m) { m.set_model_id(""); }), std::nullopt);
  EXPECT_NE(error_after([](auto& m) { m.set_model_id("a/b"); }), std::nullopt);
  EXPECT_NE(error_after([](auto& m) { m.set_model_id(std::string(65, 'a')); }), std::nullopt);
  EXPECT_NE(error_after([](auto& m) { m.set_version(0); }), std::nullopt);
  EXPECT_NE(error_after([](auto& m) { m.set_sha256(std::string(64, 'C')); }), std::nullopt);
  EXPECT_NE(error_after([](auto& m) { m.set_block_size(0); }), std::nullopt);
  EXPECT_NE(error_after([](auto& m) { m.set_block_size(kMaxBlockBytes + 1); }), std::nullopt);
  EXPECT_NE(error_after([](auto& m) { m.set_size_bytes(13); }), std::nullopt);  // needs 4 blocks
  EXPECT_NE(error_after([](auto& m) { m.add_block_sha256(std::string(32, 'x')); }), std::nullopt);
  EXPECT_NE(error_after([](auto& m) { m.set_block_sha256(1, "short"); }), std::nullopt);
  EXPECT_EQ(error_after([](auto& m) { m.set_size_bytes(12); }), std::nullopt);  // exact fit
  EXPECT_EQ(block_count(0, 4), 0u);
  EXPECT_EQ(block_count(~std::uint64_t{0}, 1u << 20), (~std::uint64_t{0} >> 20) + 1);
}

TEST_F(VerifierTest, ManifestWithMalformedBlockListIsRejected) {
  v1::ManifestBody m = manifest();
  m.mutable_block_sha256()->RemoveLast();
  const auto verdict = verifier_.check_manifest(crypto::sign_manifest(m, release_), std::nullopt);
  EXPECT_EQ(verdict.reason, reason::kMalformed);
  EXPECT_NE(verdict.detail.find("2 block hashes for 10 bytes"), std::string::npos)
      << verdict.detail;
}

TEST_F(VerifierTest, TargetCrossCheck) {
  const v1::AppAssignment app = assignment(1).applications(0);
  const auto ok = check_target(app, manifest());
  ASSERT_TRUE(ok.ok()) << ok.detail;
  EXPECT_EQ(ok.body.version(), 5u);

  v1::ManifestBody newer = manifest();
  newer.set_version(6);
  EXPECT_EQ(check_target(app, newer).reason, reason::kUnavailable);
  v1::ManifestBody other_bytes = manifest();
  other_bytes.set_sha256(std::string(64, 'd'));
  EXPECT_EQ(check_target(app, other_bytes).reason, reason::kHashMismatch);
  v1::ManifestBody other_size = manifest();
  other_size.set_size_bytes(11);
  EXPECT_EQ(check_target(app, other_size).reason, reason::kHashMismatch);
  v1::ManifestBody other_model = manifest();
  other_model.set_model_id("vgg19");
  EXPECT_EQ(check_target(app, other_model).reason, reason::kMalformed);
}

TEST(PrintableTest, ReplacesControlBytesAndTruncates) {
  EXPECT_EQ(printable("ok text"), "ok text");
  EXPECT_EQ(printable("a\nb\x01\xff"), "a?b??");
  EXPECT_EQ(printable("abcdef", 3), "abc...");
}

}  // namespace
}  // namespace fleetml::delivery
