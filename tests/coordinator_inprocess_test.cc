// An in-process coordinator on a real mosquitto, for what needs its internals or its clock:
// Coordinator::Stats' pending counts (when both are 0, every capability received so far is
// committed and its vehicle planned with it; the ingest bench ends its measurement on that) and
// the refresh of assignments at half their lifetime, on a clock 60x faster than real time.
#include <filesystem>
#include <memory>

#include <gtest/gtest.h>

#include "coordinator/service/coordinator.h"
#include "coordinator/service/latency_service.h"
#include "shared/crypto/envelope.h"
#include "shared/crypto/key_dir.h"
#include "shared/messages/topics.h"
#include "simulation/device/device_profile.h"
#include "simulation/device/simulated_device.h"
#include "tests/support/camera_capability.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_probe.h"
#include "tests/support/test_env.h"

namespace fleetml {
namespace {

using namespace std::chrono_literals;

v1::Capability capability(const std::string& vehicle, std::uint64_t seq) {
  const sim::SimulatedDevice device(
      sim::load_device_profile(test::source_dir() / "simulation/profiles/rpi4.json"));
  sim::Rng rng(3);  // the same calibration in every update: only the first plan publishes
  return test::camera_capability(device, rng, vehicle, seq, {500, 1, 3600});
}

// A coordinator on its own broker, fresh keys and data, with the zoo's smallest model, and a
// client that publishes for the fleet.
class InProcessCoordinator : public ::testing::Test {
 protected:
  // `clock_speed`: simulated seconds per real second of the coordinator's clock.
  void start(double clock_speed = 1, std::chrono::seconds assignment_ttl = std::chrono::hours(24)) {
    clock_ = std::make_unique<ScaledClock>(clock_speed);
    crypto::init_keys(dir_ / "keys");
    coordinator::CoordinatorOptions options;
    options.mqtt.broker_uri = broker_.uri();
    options.mqtt.client_id = "test-coordinator";
    options.mqtt.clean_start = true;
    options.data_dir = dir_ / "data";
    options.keys_dir = dir_ / "keys";
    options.assignment_ttl = assignment_ttl;
    std::filesystem::create_directories(options.data_dir);
    coordinator_ = std::make_unique<coordinator::Coordinator>(options, *clock_, latency_);
    coordinator_->start();
    coordinator_->catalog().add(
        test::zoo_dir() / "mobilenet_v3_small.pt",
        {"mobilenet_v3_small", "image-classification", 0.68, {1, 3, 224, 224}});
  }
  void TearDown() override {
    if (coordinator_) coordinator_->stop();
  }

  // The vehicle's latest stored assignment, verified with the coordinator's key.
  v1::AssignmentBody latest_assignment(const std::string& vehicle_id) {
    const auto stored = coordinator_->database().latest_assignment(vehicle_id);
    if (!stored) {
      ADD_FAILURE() << "no assignment stored for " << vehicle_id;
      return {};
    }
    const auto verdict = crypto::verify_assignment(
        stored->assignment, crypto::load_trusted_keys(dir_ / "keys").coordinator);
    EXPECT_TRUE(verdict.ok()) << verdict.detail;
    return verdict.body;
  }

  void publish(const v1::Capability& cap) {
    fleet_.client().publish(messages::Topics().capability(cap.vehicle_id()),
                            cap.SerializeAsString(), 1);
  }

  test::MosquittoBroker broker_;
  test::TestDir dir_;
  std::unique_ptr<ScaledClock> clock_;
  coordinator::LatencyService latency_{{}, {}};
  std::unique_ptr<coordinator::Coordinator> coordinator_;
  test::MqttProbe fleet_{broker_.uri(), {}};  // publishes for the fleet, subscribes to nothing
};

TEST_F(InProcessCoordinator, NothingIsPendingOnlyOnceEveryUpdateIsStoredAndPlanned) {
  start();
  coordinator::Coordinator& coordinator = *coordinator_;
  constexpr int kVehicles = 40;
  constexpr int kRounds = 2;
  for (int round = 1; round <= kRounds; ++round) {
    for (int v = 0; v < kVehicles; ++v) {
      publish(capability(std::to_string(v).insert(0, 1, 'v'), static_cast<std::uint64_t>(round)));
    }
  }

  // The snapshot in which nothing was pending any more, checked before anything else runs.
  coordinator::Coordinator::Stats idle;
  ASSERT_TRUE(test::wait_until(
      [&] {
        idle = coordinator.stats();
        return idle.ingested + idle.stale + idle.rejected == kVehicles * kRounds &&
               idle.pending_inbound == 0 && idle.pending_plans == 0;
      },
      60s, 1ms));
  EXPECT_EQ(idle.ingested, static_cast<std::uint64_t>(kVehicles * kRounds));
  EXPECT_EQ(idle.published, static_cast<std::uint64_t>(kVehicles));  // every first plan
  EXPECT_GE(idle.plans, static_cast<std::uint64_t>(kVehicles));
  for (int v = 0; v < kVehicles; ++v) {
    const std::string id = std::to_string(v).insert(0, 1, 'v');
    const auto stored = coordinator.database().vehicle(id);
    ASSERT_TRUE(stored) << id;
    EXPECT_EQ(stored->capability_seq, static_cast<std::uint64_t>(kRounds)) << id;
    EXPECT_TRUE(coordinator.database().latest_assignment(id)) << id;
  }
  const auto later = coordinator.stats();
  EXPECT_EQ(later.published, idle.published);
  EXPECT_EQ(later.pending_inbound + later.pending_plans, 0u);
}

// Housekeeping (every 10 s) re-plans an assignment past half its lifetime and publishes it
// even though nothing changed: same choice, new seq and expiry, every rejected alternative
// still explained. At 60x, a 60 s lifetime is refreshed about half a second after it began.
TEST_F(InProcessCoordinator, RefreshesAnAssignmentAtHalfItsLifetimeWithItsReasons) {
  start(/*clock_speed=*/60, /*assignment_ttl=*/60s);
  coordinator_->catalog().add(test::zoo_dir() / "resnet50.pt",
                              {"resnet50", "image-classification", 0.80, {1, 3, 224, 224}});
  publish(capability("v1", 1));
  ASSERT_TRUE(test::wait_until([&] { return coordinator_->stats().published >= 1; }, 30s, 5ms));
  const v1::AssignmentBody first = latest_assignment("v1");
  ASSERT_EQ(first.applications_size(), 1);

  ASSERT_TRUE(test::wait_until([&] { return coordinator_->stats().published >= 2; }, 30s, 5ms));
  const v1::AssignmentBody refreshed = latest_assignment("v1");
  EXPECT_GT(refreshed.seq(), first.seq());
  EXPECT_GT(refreshed.expires_unix_ms(), first.expires_unix_ms());
  ASSERT_EQ(refreshed.applications_size(), 1);
  const auto& before = first.applications(0);
  const auto& now = refreshed.applications(0);
  EXPECT_EQ(now.model_id(), before.model_id());
  EXPECT_EQ(now.model_version(), before.model_version());
  ASSERT_EQ(now.rejected_size(), before.rejected_size());
  ASSERT_GE(now.rejected_size(), 1);
  for (int i = 0; i < now.rejected_size(); ++i) {
    EXPECT_EQ(now.rejected(i).model_id(), before.rejected(i).model_id());
    EXPECT_FALSE(now.rejected(i).reason().empty()) << now.rejected(i).model_id();
  }
}

}  // namespace
}  // namespace fleetml
