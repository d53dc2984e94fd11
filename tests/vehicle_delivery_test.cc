// The vehicle side of delivery end to end: a real fleet-vehicle process, a real mosquitto,
// real keys and signatures, real LibTorch on the zoo's smallest model (LeNet-5), and a
// coordinator test peer (tests/coordinator_peer.h) that signs, serves chunks and records
// reports. What the vehicle did is read back from its reports, its retained messages and its
// model store's state.json.

#include <csignal>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/common/clock.h"
#include "shared/common/file.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/keys.h"
#include "shared/crypto/reasons.h"
#include "shared/crypto/sha256.h"
#include "tests/coordinator_peer.h"
#include "tests/support/child_process.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_probe.h"
#include "tests/support/test_env.h"

namespace fleetml::test {
namespace {

namespace fs = std::filesystem;
namespace reason = crypto::reason;
using namespace std::chrono_literals;

constexpr const char* kVehicle = "car-001";
constexpr const char* kApp = "cam";
constexpr const char* kModel = "lenet5";
constexpr std::uint32_t kBlock = 16 << 10;
constexpr std::uint32_t kWindow = 4;
const std::vector<std::int64_t> kInput = {1, 1, 32, 32};
constexpr auto kInstallTimeout = 90s;

class VehicleDeliveryTest : public ::testing::Test {
 protected:
  VehicleDeliveryTest() : peer_(broker_.uri(), dir_ / "coordinator") {}

  static fs::path model_file() { return zoo_dir() / "lenet5.pt"; }

  // Starts fleet-vehicle; `real_device` calibrates this machine instead of using a profile.
  void start_vehicle(bool real_device = false) {
    std::vector<std::string> args = {
        "run",
        "--id",
        kVehicle,
        "--trust",
        peer_.trust_dir().string(),
        "--data-dir",
        data_dir().string(),
        "--app",
        std::string(kApp) + ":100:10:1:0:0:image-classification:" + "1x1x32x32",
        "--window",
        std::to_string(kWindow),
        "--broker",
        broker_.uri()};
    if (!real_device) {
      args.insert(args.end(),
                  {"--profile", (source_dir() / "simulation/profiles/rpi4.json").string()});
    }
    vehicle_ = std::make_unique<ChildProcess>(bin_path("fleet-vehicle"), args,
                                              ChildProcess::Options{{}, dir_ / "vehicle.log", {}});
  }

  fs::path data_dir() const { return dir_ / "vehicle"; }

  // The vehicle's model store state (delivery::Installer's state.json).
  nlohmann::json store_state() const {
    return nlohmann::json::parse(file::read(data_dir() / "state.json"));
  }
  std::uint64_t active_version() const {
    const nlohmann::json state = store_state();
    if (!state["active"].contains(kApp)) return 0;
    return state["active"][kApp]["version"].get<std::uint64_t>();
  }

  std::optional<v1::Report> wait_report(v1::Report::Kind kind, std::uint64_t version,
                                        std::chrono::milliseconds timeout = kInstallTimeout) {
    return peer_.wait_for_report(kVehicle, timeout, [&](const v1::Report& r) {
      return r.kind() == kind && r.model_version() == version;
    });
  }

  // Releases `version` of LeNet-5 and assigns it with `seq`; returns the manifest body.
  v1::ManifestBody deliver(std::uint64_t version, std::uint64_t seq) {
    const v1::ManifestBody m = peer_.release(kModel, version, model_file(), kBlock, kInput);
    peer_.publish_manifest(m);
    peer_.publish_assignment(kVehicle, peer_.sign(peer_.assignment(kVehicle, seq, kApp, m)));
    return m;
  }

  // The vehicle's log, printed when a test fails (the broker prints its own).
  void TearDown() override {
    if (HasFailure() && vehicle_)
      std::fprintf(stderr, "--- vehicle log ---\n%s\n", vehicle_->log().c_str());
  }

  TestDir dir_;
  MosquittoBroker broker_;
  CoordinatorPeer peer_;
  std::unique_ptr<ChildProcess> vehicle_;
};

TEST_F(VehicleDeliveryTest, ReceivesVerifiesInstallsRunsAndReports) {
  MqttProbe probe(broker_.uri(), {peer_.topics().all()});
  start_vehicle(/*real_device=*/true);
  const v1::ManifestBody m = deliver(1, 1);

  const auto installed = wait_report(v1::Report::INSTALLED, 1);
  ASSERT_TRUE(installed) << "no INSTALLED report";
  EXPECT_EQ(installed->application_id(), kApp);
  EXPECT_EQ(installed->model_id(), kModel);
  EXPECT_EQ(installed->assignment_seq(), 1u);
  EXPECT_GT(installed->measurement().p50_ms(), 0);
  EXPECT_GE(installed->measurement().p95_ms(), installed->measurement().p50_ms());
  EXPECT_EQ(installed->measurement().batch(), 1u);
  EXPECT_EQ(installed->download().bytes(), m.size_bytes());
  EXPECT_EQ(installed->download().resumed_from(), 0u);

  // What is installed is byte for byte the released artifact.
  const fs::path installed_file = data_dir() / "models" / kModel / "1" / "model.pt";
  EXPECT_EQ(crypto::to_hex(crypto::sha256_file(installed_file).sha256), m.sha256());
  EXPECT_EQ(crypto::to_hex(crypto::sha256_file(model_file()).sha256), m.sha256());
  EXPECT_EQ(active_version(), 1u);

  // The retained capability lists it as active, with the measurement.
  const auto cap = probe.wait_for_retained(
      peer_.topics().capability(kVehicle), 30s, [](const transport::Message& msg) {
        v1::Capability c;
        return c.ParseFromString(msg.payload) && c.installed_size() == 1 &&
               c.installed(0).measurement().p50_ms() > 0;
      });
  ASSERT_TRUE(cap);
  v1::Capability c;
  ASSERT_TRUE(c.ParseFromString(cap->payload));
  EXPECT_EQ(c.installed(0).application_id(), kApp);
  EXPECT_EQ(c.installed(0).sha256(), m.sha256());
  EXPECT_GT(c.calibration().gemm_gflops(), 0);
  EXPECT_EQ(c.applications(0).id(), kApp);

  // SIGTERM: clean stop, retained OFFLINE status that is not a will.
  EXPECT_TRUE(vehicle_->stop().success());
  const auto status = probe.wait_for_retained(
      peer_.topics().status(kVehicle), 10s, [](const transport::Message& msg) {
        v1::Status s;
        return s.ParseFromString(msg.payload) && s.state() == v1::Status::OFFLINE;
      });
  ASSERT_TRUE(status);
  v1::Status s;
  ASSERT_TRUE(s.ParseFromString(status->payload));
  EXPECT_FALSE(s.last_will());
  EXPECT_GT(s.session(), 0u);
}

// --- attack vectors ----------------------------------------------------------------------

// One attack: done to a vehicle that runs version 2 (accepted with assignment seq 10).
struct AttackCase {
  const char* name;
  std::function<void(CoordinatorPeer&)> attack;
  std::string_view expected_reason;
};

// gtest prints parameters; the name says it all.
void PrintTo(const AttackCase& c, std::ostream* os) { *os << c.name; }

class AttackTest : public VehicleDeliveryTest, public ::testing::WithParamInterface<AttackCase> {};

v1::ManifestBody release_v3(CoordinatorPeer& peer) {
  return peer.release(kModel, 3, zoo_dir() / "lenet5.pt", kBlock, kInput);
}

const AttackCase kAttacks[] = {
    {"tampered_chunk",
     [](CoordinatorPeer& peer) {
       const v1::ManifestBody m = release_v3(peer);
       peer.set_tamper([](v1::Chunk& c) {
         if (c.version() == 3 && !c.data().empty()) (*c.mutable_data())[0] ^= 0x5a;
       });
       peer.publish_manifest(m);
       peer.publish_assignment(kVehicle, peer.sign(peer.assignment(kVehicle, 11, kApp, m)));
     },
     reason::kTamperedChunk},
    {"wrong_release_key",
     [](CoordinatorPeer& peer) {
       const v1::ManifestBody m = release_v3(peer);
       const crypto::PrivateKey attacker = crypto::PrivateKey::generate();
       peer.publish_manifest(m, &attacker);
       peer.publish_assignment(kVehicle, peer.sign(peer.assignment(kVehicle, 11, kApp, m)));
     },
     reason::kUnknownKey},
    {"forged_assignment_signature",
     [](CoordinatorPeer& peer) {
       const v1::ManifestBody m = release_v3(peer);
       peer.publish_manifest(m);
       v1::Assignment a = peer.sign(peer.assignment(kVehicle, 11, kApp, m));
       (*a.mutable_signature()->mutable_ed25519())[7] ^= 0x01;
       peer.publish_assignment(kVehicle, a);
     },
     reason::kBadSignature},
    {"replayed_old_assignment",
     [](CoordinatorPeer& peer) {
       const v1::ManifestBody m = release_v3(peer);
       peer.publish_manifest(m);
       peer.publish_assignment(kVehicle, peer.sign(peer.assignment(kVehicle, 5, kApp, m)));
     },
     reason::kReplayed},
    {"expired_manifest",
     [](CoordinatorPeer& peer) {
       v1::ManifestBody m = release_v3(peer);
       m.set_expires_unix_ms(SystemClock::instance().now_unix_ms() - 60'000);
       peer.publish_manifest(m);
       peer.publish_assignment(kVehicle, peer.sign(peer.assignment(kVehicle, 11, kApp, m)));
     },
     reason::kExpired},
    {"version_rollback",
     [](CoordinatorPeer& peer) {
       const v1::ManifestBody m = peer.release(kModel, 1, zoo_dir() / "lenet5.pt", kBlock, kInput);
       peer.publish_manifest(m);
       peer.publish_assignment(kVehicle, peer.sign(peer.assignment(kVehicle, 11, kApp, m)));
     },
     reason::kRollback},
    {"assignment_for_another_vehicle",
     [](CoordinatorPeer& peer) {
       const v1::ManifestBody m = release_v3(peer);
       peer.publish_manifest(m);
       peer.publish_assignment(kVehicle, peer.sign(peer.assignment("car-002", 11, kApp, m)));
     },
     reason::kWrongVehicle},
};

TEST_P(AttackTest, IsRejectedReportedAndThePreviousModelStaysActive) {
  start_vehicle();
  deliver(2, 10);
  ASSERT_TRUE(wait_report(v1::Report::INSTALLED, 2)) << "the genuine version 2 did not install";

  GetParam().attack(peer_);

  const auto rejected = peer_.wait_for_report(kVehicle, kInstallTimeout, [](const v1::Report& r) {
    return r.kind() == v1::Report::REJECTED;
  });
  ASSERT_TRUE(rejected) << "no REJECTED report";
  EXPECT_EQ(rejected->reason(), GetParam().expected_reason) << rejected->detail();
  EXPECT_FALSE(rejected->detail().empty());
  EXPECT_EQ(active_version(), 2u);
  EXPECT_FALSE(fs::exists(data_dir() / "models" / kModel / "3"));
  for (const v1::Report& r : peer_.reports()) {
    EXPECT_FALSE(r.kind() == v1::Report::INSTALLED && r.model_version() != 2)
        << "installed version " << r.model_version();
  }
  EXPECT_TRUE(vehicle_->running());
}

INSTANTIATE_TEST_SUITE_P(Vectors, AttackTest, ::testing::ValuesIn(kAttacks),
                         [](const auto& info) { return std::string(info.param.name); });

// --- resume and rollback -------------------------------------------------------------------

TEST_F(VehicleDeliveryTest, KilledMidDownloadResumesFromTheVerifiedOffset) {
  MqttProbe probe(broker_.uri(), {peer_.topics().all()});
  constexpr std::uint64_t kServedBeforeKill = 8;
  peer_.set_serve_limit(kServedBeforeKill);
  start_vehicle();
  const v1::ManifestBody m = deliver(1, 1);
  ASSERT_GT(m.size_bytes(), (kServedBeforeKill + kWindow) * kBlock);
  ASSERT_TRUE(wait_until([&] { return peer_.served().size() == kServedBeforeKill; }, 60s));
  // Let the vehicle take and commit what it was sent (a stalled download commits within its
  // commit interval plus a tick); kill -9 whatever it is doing.
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& e : fs::recursive_directory_iterator(data_dir())) {
          if (e.path().extension() == ".progress") return true;
        }
        return false;
      },
      60s));
  vehicle_->kill();
  const std::size_t before = peer_.served().size();
  std::uint64_t served_end = 0;
  for (const auto& s : peer_.served()) served_end = std::max(served_end, s.offset + s.bytes);

  // The broker published its will: OFFLINE, last_will, with the session of its ONLINE status.
  const auto will = probe.wait_for_retained(
      peer_.topics().status(kVehicle), 60s, [](const transport::Message& msg) {
        v1::Status s;
        return s.ParseFromString(msg.payload) && s.last_will();
      });
  ASSERT_TRUE(will);
  v1::Status will_status;
  ASSERT_TRUE(will_status.ParseFromString(will->payload));
  EXPECT_EQ(will_status.state(), v1::Status::OFFLINE);
  EXPECT_EQ(will_status.session(), will_status.seq());
  bool online_in_same_session = false;
  for (const auto& msg : probe.messages_on(peer_.topics().status(kVehicle))) {
    v1::Status s;
    if (s.ParseFromString(msg.payload) && s.state() == v1::Status::ONLINE) {
      online_in_same_session |= s.session() == will_status.session();
    }
  }
  EXPECT_TRUE(online_in_same_session);

  peer_.set_serve_limit(std::nullopt);
  start_vehicle();
  const auto installed = wait_report(v1::Report::INSTALLED, 1);
  ASSERT_TRUE(installed);
  EXPECT_GT(installed->download().resumed_from(), 0u);
  EXPECT_EQ(installed->download().resumed_from() % kBlock, 0u);

  std::uint64_t refetched = 0;
  const std::vector<CoordinatorPeer::Served> served = peer_.served();
  for (std::size_t i = before; i < served.size(); ++i) {
    if (served[i].offset < served_end) refetched += served[i].bytes;
  }
  EXPECT_LE(refetched, std::uint64_t{kWindow} * kBlock);
  EXPECT_EQ(
      crypto::to_hex(crypto::sha256_file(data_dir() / "models" / kModel / "1" / "model.pt").sha256),
      m.sha256());
}

TEST_F(VehicleDeliveryTest, StartsWithoutABrokerAndConnectsWhenItComesUp) {
  broker_.stop();
  start_vehicle();
  std::this_thread::sleep_for(3s);  // a few failed connection attempts
  ASSERT_TRUE(vehicle_->running()) << vehicle_->log();
  EXPECT_NE(vehicle_->log().find("broker unreachable, retrying"), std::string::npos);
  broker_.start();
  deliver(1, 1);
  EXPECT_TRUE(wait_report(v1::Report::INSTALLED, 1)) << "no INSTALLED report";
}

TEST_F(VehicleDeliveryTest, ModelFailingTheSmokeInferenceIsRolledBack) {
  start_vehicle();
  deliver(1, 1);
  ASSERT_TRUE(wait_report(v1::Report::INSTALLED, 1));

  // Version 2 declares a 3-channel input: LeNet-5's first convolution throws on it.
  const v1::ManifestBody m = peer_.release(kModel, 2, model_file(), kBlock, {1, 3, 32, 32});
  peer_.publish_manifest(m);
  peer_.publish_assignment(kVehicle, peer_.sign(peer_.assignment(kVehicle, 2, kApp, m)));

  const auto failed = wait_report(v1::Report::INSTALL_FAILED, 2);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->reason(), reason::kSmokeFailed);
  EXPECT_FALSE(failed->detail().empty());
  EXPECT_EQ(active_version(), 1u);
  EXPECT_FALSE(fs::exists(data_dir() / "models" / kModel / "2"));
  EXPECT_TRUE(vehicle_->running());

  // Operators see the failure and its reason in the retained Status (fleetctl watch).
  MqttProbe probe(broker_.uri(), {});
  const auto status = probe.wait_for_retained(
      peer_.topics().status(kVehicle), 30s, [](const transport::Message& msg) {
        v1::Status s;
        return s.ParseFromString(msg.payload) && s.transfers_size() == 1 &&
               s.transfers(0).phase() == v1::TransferState::FAILED &&
               s.transfers(0).version() == 2 &&
               s.transfers(0).detail().starts_with(reason::kSmokeFailed);
      });
  EXPECT_TRUE(status) << "no retained Status with the failed install";
}

}  // namespace
}  // namespace fleetml::test
