// Attack vectors at the pure level (aktualizr / TUF conformance style): each case builds the
// genuine next release and assignment, lets an attacker change one thing, runs the vehicle's
// whole delivery pipeline (Verifier -> check_target -> Download into a FileSink -> Installer),
// and expects rejection with the case's reason code while the previously active model stays
// active and intact. Real keys from a keys directory, real signatures, real files.

#include <functional>

#include <gtest/gtest.h>

#include "shared/common/file.h"
#include "shared/crypto/envelope.h"
#include "shared/crypto/key_dir.h"
#include "shared/crypto/reasons.h"
#include "shared/crypto/test_support.h"
#include "shared/delivery/content_store.h"
#include "shared/delivery/download.h"
#include "shared/delivery/installer.h"
#include "shared/delivery/sinks.h"
#include "shared/delivery/test_support.h"
#include "shared/delivery/verifier.h"

namespace fleetml::delivery {
namespace {

namespace fs = std::filesystem;
namespace reason = crypto::reason;
using crypto::PrivateKey;

constexpr const char* kVehicle = "rpi4-001";
constexpr const char* kApp = "front-camera";
constexpr const char* kModel = "resnet18";
constexpr std::uint32_t kBlock = 2048;
constexpr std::int64_t kDay = 24 * 3'600'000;

// Everything the coordinator (or an attacker) sends for one delivery, before signing.
struct Delivery {
  v1::AssignmentBody assignment;
  v1::ManifestBody manifest;
  const PrivateKey* assignment_key = nullptr;
  const PrivateKey* manifest_key = nullptr;
  std::function<void(v1::Assignment&)> after_signing_assignment;
  std::function<void(v1::Manifest&)> after_signing_manifest;
  std::function<void(v1::Chunk&)> on_the_wire;  // edits chunks between coordinator and vehicle
  bool smoke_fails = false;
};

class World;

struct AttackCase {
  const char* name;
  std::function<void(World&, Delivery&)> attack;
  std::string_view expected_reason;
};

class World {
 public:
  World()
      : keys_(crypto::init_keys(tmp_ / "keys")),
        attacker_(PrivateKey::generate()),
        store_(tmp_ / "coordinator" / "store"),
        installer_(tmp_ / "vehicle",
                   [this](const fs::path& f, const v1::ManifestBody&) {
                     // Stand-in for the LibTorch smoke inference.
                     if (smoke_fails_) return SmokeResult{false, "smoke inference crashed"};
                     return SmokeResult{file::read(f).starts_with("MODEL"), "no model magic"};
                   }),
        verifier_(crypto::load_trusted_keys(tmp_ / "keys"), kVehicle, clock_) {
    for (std::uint64_t v = 2; v <= 4; ++v) {
      releases_[v] =
          publish(store_, tmp_ / "coordinator" / "in", content(v), kModel, v, kBlock, expiry());
    }
  }

  static std::string content(std::uint64_t version) {
    return "MODEL v" + std::to_string(version) +
           test_bytes(5 * kBlock + 77, static_cast<std::uint32_t>(version));
  }
  std::int64_t expiry() const { return clock_.now_unix_ms() + kDay; }

  // The genuine delivery of `version` under assignment `seq`.
  Delivery genuine(std::uint64_t version, std::uint64_t seq) const {
    Delivery d;
    d.manifest = releases_.at(version);
    d.assignment.set_vehicle_id(kVehicle);
    d.assignment.set_seq(seq);
    d.assignment.set_issued_unix_ms(clock_.now_unix_ms());
    d.assignment.set_expires_unix_ms(expiry());
    v1::AppAssignment* app = d.assignment.add_applications();
    app->set_application_id(kApp);
    app->set_model_id(kModel);
    app->set_model_version(version);
    app->set_sha256(d.manifest.sha256());
    app->set_size_bytes(d.manifest.size_bytes());
    d.assignment_key = &keys_.coordinator;
    d.manifest_key = &keys_.release;
    return d;
  }

  // The vehicle's pipeline, in the order the vehicle agent runs it. Returns "" when the model
  // was installed and activated, else the reason code that stopped it.
  std::string deliver(const Delivery& d) {
    v1::Assignment assignment = crypto::sign_assignment(d.assignment, *d.assignment_key);
    if (d.after_signing_assignment) d.after_signing_assignment(assignment);
    v1::Manifest manifest = crypto::sign_manifest(d.manifest, *d.manifest_key);
    if (d.after_signing_manifest) d.after_signing_manifest(manifest);

    const AssignmentVerdict av =
        verifier_.check_assignment(assignment, installer_.assignment_seq());
    if (!av.ok()) return av.reason;
    if (av.already_applied) return "already_applied";
    installer_.set_assignment_seq(av.body.seq());
    const v1::AppAssignment& app = av.body.applications(0);

    const auto mv = verifier_.check_manifest(manifest, installer_.highest_version(app.model_id()));
    if (!mv.ok()) return mv.reason;
    const auto target = check_target(app, mv.body);
    if (!target.ok()) return target.reason;

    FileSink sink(tmp_ / "vehicle-downloads");
    Download download(target.body, sink, clock_, {.window_blocks = 3, .max_rejected_chunks = 2});
    // The coordinator serves what its catalog holds for the requested version.
    serve_until_done(download, store_, releases_.at(target.body.version()), clock_, d.on_the_wire);
    if (download.state() != Download::State::kComplete) return download.failure_reason();

    smoke_fails_ = d.smoke_fails;
    const InstallResult installed =
        installer_.install(sink.artifact_path(), target.body, app.application_id());
    return installed.reason;
  }

  const crypto::SigningKeys& keys() const { return keys_; }
  const PrivateKey& attacker() const { return attacker_; }
  ManualClock& clock() { return clock_; }
  Installer& installer() { return installer_; }
  const fs::path& vehicle_dir() const { return tmp_.path(); }

 private:
  crypto::ScopedTempDir tmp_;
  ManualClock clock_;
  crypto::SigningKeys keys_;
  PrivateKey attacker_;
  ContentStore store_;
  bool smoke_fails_ = false;
  Installer installer_;
  Verifier verifier_;
  std::map<std::uint64_t, v1::ManifestBody> releases_;
};

class AttackTest : public ::testing::TestWithParam<AttackCase> {
 protected:
  void SetUp() override {
    // Before any attack: v3 genuinely delivered and active under assignment seq 5.
    world_ = std::make_unique<World>();
    ASSERT_EQ(world_->deliver(world_->genuine(3, 5)), "");
    active_before_ = world_->installer().active(kApp);
    ASSERT_TRUE(active_before_.has_value());
    ASSERT_EQ(active_before_->version, 3u);
  }

  std::unique_ptr<World> world_;
  std::optional<ActiveModel> active_before_;
};

TEST_P(AttackTest, IsRejectedAndThePreviousModelStaysActive) {
  Delivery d = world_->genuine(4, 6);
  GetParam().attack(*world_, d);
  EXPECT_EQ(world_->deliver(d), GetParam().expected_reason);

  const auto active = world_->installer().active(kApp);
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->version, 3u);
  EXPECT_EQ(active->sha256, active_before_->sha256);
  EXPECT_EQ(file::read(active->path), World::content(3));
  EXPECT_EQ(world_->installer().highest_version(kModel), 3u);
  for (const auto& m : world_->installer().installed()) EXPECT_EQ(m.version(), 3u);
}

const AttackCase kAttacks[] = {
    {"tampered_chunk",
     [](World&, Delivery& d) {
       d.on_the_wire = [](v1::Chunk& c) {
         if (c.offset() == 2 * kBlock) (*c.mutable_data())[100] ^= 0x20;
       };
     },
     reason::kTamperedChunk},
    {"truncated_chunk",
     [](World&, Delivery& d) {
       d.on_the_wire = [](v1::Chunk& c) {
         if (c.offset() == 0) c.mutable_data()->pop_back();
       };
     },
     reason::kTamperedChunk},
    {"substituted_artifact_on_the_wire",
     [](World&, Delivery& d) {
       d.on_the_wire = [](v1::Chunk& c) { *c.mutable_data() = test_bytes(c.data().size(), 99); };
     },
     reason::kTamperedChunk},
    {"manifest_signed_by_wrong_release_key",
     [](World& w, Delivery& d) { d.manifest_key = &w.attacker(); }, reason::kUnknownKey},
    {"manifest_signed_by_attacker_claiming_release_key_id",
     [](World& w, Delivery& d) {
       d.manifest_key = &w.attacker();
       const std::string release_id = w.keys().release.key_id();
       d.after_signing_manifest = [release_id](v1::Manifest& m) {
         m.mutable_signature()->set_key_id(release_id);
       };
     },
     reason::kBadSignature},
    {"manifest_signed_by_coordinator_key",
     [](World& w, Delivery& d) { d.manifest_key = &w.keys().coordinator; }, reason::kUnknownKey},
    {"forged_assignment_signature",
     [](World&, Delivery& d) {
       d.after_signing_assignment = [](v1::Assignment& a) {
         v1::AssignmentBody body;
         body.ParseFromString(a.body());
         body.mutable_applications(0)->set_model_version(2);  // edited after signing
         a.set_body(body.SerializeAsString());
       };
     },
     reason::kBadSignature},
    {"assignment_signed_by_attacker",
     [](World& w, Delivery& d) { d.assignment_key = &w.attacker(); }, reason::kUnknownKey},
    {"assignment_signed_by_release_key",
     [](World& w, Delivery& d) { d.assignment_key = &w.keys().release; }, reason::kUnknownKey},
    {"replayed_old_assignment", [](World&, Delivery& d) { d.assignment.set_seq(4); },
     reason::kReplayed},
    {"expired_manifest",
     [](World& w, Delivery& d) { d.manifest.set_expires_unix_ms(w.clock().now_unix_ms() - 1); },
     reason::kExpired},
    {"expired_assignment",
     [](World& w, Delivery& d) { d.assignment.set_expires_unix_ms(w.clock().now_unix_ms() - 1); },
     reason::kExpired},
    {"version_rollback",
     [](World& w, Delivery& d) {
       // Genuinely signed, but old: release v2 and an assignment naming it.
       d = w.genuine(2, 6);
     },
     reason::kRollback},
    {"assignment_for_another_vehicle",
     [](World&, Delivery& d) { d.assignment.set_vehicle_id("rpi4-002"); }, reason::kWrongVehicle},
    {"assignment_names_artifact_the_release_key_never_signed",
     [](World&, Delivery& d) {
       d.assignment.mutable_applications(0)->set_sha256(std::string(64, 'f'));
     },
     reason::kHashMismatch},
    {"malformed_block_list",
     [](World&, Delivery& d) { d.manifest.mutable_block_sha256()->RemoveLast(); },
     reason::kMalformed},
    {"manifest_body_not_a_manifest",
     [](World& w, Delivery& d) {
       const PrivateKey& release = w.keys().release;
       d.after_signing_manifest = [&release](v1::Manifest& m) {
         m.set_body("\xff\xff\xff");
         m.mutable_signature()->set_ed25519(
             release.sign(crypto::signing_input(crypto::kManifestBodyType, m.body())));
       };
     },
     reason::kMalformed},
    {"coordinator_cannot_serve",
     [](World&, Delivery& d) {
       d.on_the_wire = [](v1::Chunk& c) {
         c.clear_data();
         c.set_error("artifact not in store");
       };
     },
     reason::kUnavailable},
    {"model_fails_smoke_test", [](World&, Delivery& d) { d.smoke_fails = true; },
     reason::kSmokeFailed},
};

INSTANTIATE_TEST_SUITE_P(Delivery, AttackTest, ::testing::ValuesIn(kAttacks),
                         [](const auto& info) { return std::string(info.param.name); });

// The control: the same pipeline accepts the genuine next release, and the one after a
// rejection too (a rejected attack does not wedge the vehicle).
TEST(AttackControlTest, GenuineDeliveryInstallsAndAttacksDoNotWedgeTheVehicle) {
  World world;
  ASSERT_EQ(world.deliver(world.genuine(3, 5)), "");
  Delivery forged = world.genuine(4, 6);
  forged.manifest_key = &world.attacker();
  EXPECT_EQ(world.deliver(forged), reason::kUnknownKey);
  EXPECT_EQ(world.deliver(world.genuine(4, 7)), "");
  EXPECT_EQ(world.installer().active(kApp)->version, 4u);
  EXPECT_EQ(world.deliver(world.genuine(4, 7)), "already_applied");
}

}  // namespace
}  // namespace fleetml::delivery
