// Coordinator::Stats' pending counts, with an in-process coordinator on a real mosquitto: when
// both are 0, every capability received so far is committed and its vehicle planned with it
// (the ingest bench ends its measurement on that).
#include <filesystem>

#include <gtest/gtest.h>

#include "coordinator/service/coordinator.h"
#include "coordinator/service/latency_service.h"
#include "shared/crypto/key_dir.h"
#include "shared/messages/topics.h"
#include "shared/transport/mqtt_client.h"
#include "simulation/device/device_profile.h"
#include "simulation/device/simulated_device.h"
#include "tests/support/camera_capability.h"
#include "tests/support/mosquitto_broker.h"
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

TEST(CoordinatorStats, NothingIsPendingOnlyOnceEveryUpdateIsStoredAndPlanned) {
  test::MosquittoBroker broker;
  test::TestDir dir;
  crypto::init_keys(dir / "keys");
  coordinator::LatencyService latency({}, {});
  coordinator::CoordinatorOptions options;
  options.mqtt.broker_uri = broker.uri();
  options.mqtt.client_id = "stats-coordinator";
  options.mqtt.clean_start = true;
  options.data_dir = dir / "data";
  options.keys_dir = dir / "keys";
  std::filesystem::create_directories(options.data_dir);
  coordinator::Coordinator coordinator(options, SystemClock::instance(), latency);
  coordinator.start();
  coordinator.catalog().add(test::zoo_dir() / "mobilenet_v3_small.pt",
                            {"mobilenet_v3_small", "image-classification", 0.68, {1, 3, 224, 224}});

  transport::ClientOptions client;
  client.broker_uri = broker.uri();
  client.client_id = "stats-fleet";
  client.clean_start = true;
  client.session_expiry = 0s;
  transport::MqttClient fleet(client);
  fleet.connect();
  const messages::Topics topics;
  constexpr int kVehicles = 40;
  constexpr int kRounds = 2;
  for (int round = 1; round <= kRounds; ++round) {
    for (int v = 0; v < kVehicles; ++v) {
      const auto cap =
          capability(std::to_string(v).insert(0, 1, 'v'), static_cast<std::uint64_t>(round));
      fleet.publish(topics.capability(cap.vehicle_id()), cap.SerializeAsString(), 1);
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
  coordinator.stop();
}

}  // namespace
}  // namespace fleetml
