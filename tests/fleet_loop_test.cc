// The whole loop with the real processes: fleetctl registers a model with a real
// fleet-coordinator, a real fleet-vehicle (this machine, calibrated with LibTorch, no profile)
// reports its capability, gets the signed assignment, downloads, verifies, installs and
// benchmarks the model, and its report lands in the coordinator's SQLite database. Issue 4's
// first acceptance point; the attack vectors and resume are in vehicle_delivery_test.cc.
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "coordinator/storage/database.h"
#include "schemas/fleet.pb.h"
#include "shared/common/clock.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/sha256.h"
#include "shared/messages/topics.h"
#include "tests/support/child_process.h"
#include "tests/support/coordinator_process.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_probe.h"
#include "tests/support/test_env.h"

namespace fleetml {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kVehicle = "car-e2e-1";
constexpr const char* kModel = "lenet5";
const messages::Topics kTopics;

// The retained Status's state of application "cam", when there is one.
std::optional<v1::TransferState> cam_state(const transport::Message& m) {
  v1::Status status;
  if (!status.ParseFromString(m.payload)) return std::nullopt;
  for (const v1::TransferState& t : status.transfers()) {
    if (t.application_id() == "cam") return t;
  }
  return std::nullopt;
}

TEST(FleetLoop, VehicleInstallsItsAssignmentAndItsReportReachesTheCoordinatorDatabase) {
  test::TestDir dir;
  test::MosquittoBroker broker;
  test::CoordinatorProcess coordinator(broker.uri(), dir.path());
  test::MqttProbe probe(broker.uri(), {kTopics.status(kVehicle)});
  coordinator.start();
  const fs::path artifact = test::zoo_dir() / "lenet5.pt";
  coordinator.fleetctl({"models", "add", artifact.string(), "--id", kModel, "--task",
                        "image-classification", "--top1", "0.5", "--input", "1x1x32x32"});

  const fs::path vehicle_dir = dir.path() / "vehicle";
  test::ChildProcess vehicle(
      test::bin_path("fleet-vehicle"),
      {"run", "--id", kVehicle, "--trust", coordinator.trust_dir().string(), "--data-dir",
       vehicle_dir.string(), "--app", "cam:100:10:1:0:0:image-classification:1x1x32x32", "--broker",
       broker.uri()},
      test::ChildProcess::Options{{}, dir.path() / "vehicle.log", {}});

  // The vehicle's retained Status ends in ACTIVE with its measured p95 ...
  const auto active = probe.wait_for(kTopics.status(kVehicle), 120s, [](const auto& m) {
    const auto t = cam_state(m);
    return t && t->phase() == v1::TransferState::ACTIVE;
  });
  ASSERT_TRUE(active) << "the vehicle never reported the model active\n" << vehicle.log();
  EXPECT_EQ(cam_state(*active)->model_id(), kModel);
  EXPECT_NE(cam_state(*active)->detail().find("measured p95"), std::string::npos);
  // ... after having shown each step of the install to operators.
  std::set<int> phases;
  for (const transport::Message& m : probe.messages_on(kTopics.status(kVehicle))) {
    if (const auto t = cam_state(m)) phases.insert(t->phase());
  }
  for (int phase : {v1::TransferState::DOWNLOADING, v1::TransferState::INSTALLING,
                    v1::TransferState::BENCHMARKING}) {
    EXPECT_TRUE(phases.contains(phase)) << v1::TransferState::Phase_Name(phase) << " not seen";
  }

  // The installed file is the registered artifact, byte for byte.
  EXPECT_EQ(crypto::sha256_file(vehicle_dir / "models" / kModel / "1" / "model.pt").sha256,
            crypto::sha256_file(artifact).sha256);

  // The report and its measurement are in the coordinator's database (the ingest thread
  // commits in batches: poll). A second connection to the live WAL database is allowed.
  storage::Database db(coordinator.data_dir() / "fleet.db", SystemClock::instance());
  std::vector<storage::ReportRecord> reports;
  std::vector<storage::MeasurementRecord> measurements;
  for (auto until = std::chrono::steady_clock::now() + 30s;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(200ms)) {
    reports = db.recent_reports(kVehicle, 10);
    measurements = db.all_measurements();
    if (!reports.empty() && !measurements.empty()) break;
  }
  ASSERT_FALSE(reports.empty()) << "no report of " << kVehicle << " in fleet.db";
  const v1::Report& report = reports.back().report;
  EXPECT_EQ(report.kind(), v1::Report::INSTALLED);
  EXPECT_EQ(report.model_id(), kModel);
  EXPECT_GT(report.measurement().p95_ms(), 0);
  ASSERT_EQ(measurements.size(), 1u);
  EXPECT_EQ(measurements[0].vehicle_id, kVehicle);
  EXPECT_EQ(measurements[0].model_id, kModel);
  EXPECT_DOUBLE_EQ(measurements[0].p95_ms, report.measurement().p95_ms());
  EXPECT_EQ(measurements[0].download_bytes, fs::file_size(artifact));

  // Operators see it in `fleetctl watch`.
  const std::string table = coordinator.fleetctl({"watch", "--once", "--settle", "1"});
  EXPECT_NE(table.find("active lenet5"), std::string::npos) << table;

  EXPECT_TRUE(vehicle.stop().success()) << vehicle.log();
  coordinator.stop();
}

}  // namespace
}  // namespace fleetml
