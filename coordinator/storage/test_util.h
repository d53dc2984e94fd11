#pragma once

// Test-only helpers for fleetml_storage tests: a per-test directory holding a real database file,
// a manual clock, and well-formed records to store.

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "coordinator/storage/database.h"
#include "shared/common/clock.h"

namespace fleetml::storage::testing {

class StorageTest : public ::testing::Test {
 protected:
  StorageTest() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("fleetml_storage_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
            std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  ~StorageTest() override { std::filesystem::remove_all(dir_); }

  // In a directory that does not exist yet: Database creates it.
  std::filesystem::path db_path() const { return dir_ / "state" / "fleet.db"; }

  std::unique_ptr<Database> open(Database::Options options = {}) {
    return std::make_unique<Database>(db_path(), clock_, options);
  }

  std::filesystem::path dir_;
  ManualClock clock_;
};

inline v1::Capability make_capability(const std::string& vehicle_id, std::uint64_t seq) {
  v1::Capability c;
  c.set_vehicle_id(vehicle_id);
  c.set_seq(seq);
  c.set_sent_unix_ms(1'700'000'000'000);
  c.mutable_device()->set_arch("aarch64");
  c.mutable_device()->set_cpu_model("Cortex-A72");
  c.mutable_device()->set_cores(4);
  c.mutable_device()->set_threads(4);
  c.mutable_calibration()->set_gemm_gflops(9.5);
  auto* app = c.add_applications();
  app->set_id("front-camera");
  app->set_task("image-classification");
  app->set_deadline_ms(100);
  return c;
}

inline v1::Status make_status(const std::string& vehicle_id, std::uint64_t seq,
                              v1::Status::State state) {
  v1::Status s;
  s.set_vehicle_id(vehicle_id);
  s.set_seq(seq);
  s.set_state(state);
  return s;
}

inline v1::LinkSample make_sample(std::int64_t start_unix_ms, double kbps) {
  v1::LinkSample s;
  s.set_start_unix_ms(start_unix_ms);
  s.set_duration_ms(1000);
  s.set_downlink_kbps(kbps);
  s.set_network("LTE");
  return s;
}

inline ModelArtifact make_artifact(const std::string& model_id, char hash_digit = 'a') {
  ModelArtifact a;
  a.model_id = model_id;
  a.sha256 = std::string(64, hash_digit);
  a.task = "image-classification";
  a.accuracy = 0.6976;
  a.profile.name = model_id;
  a.profile.input_shape = {1, 3, 224, 224};
  a.profile.macs = 1'814'073'344;
  a.profile.flops = 2 * a.profile.macs;
  a.profile.params = 11'689'512;
  a.profile.size_bytes = 46'830'571;
  a.profile.depth = 21;
  a.profile.layers.push_back(model::Layer{.op = "conv",
                                          .aten = "aten::conv2d",
                                          .input_shapes = {{1, 3, 224, 224}, {64, 3, 7, 7}},
                                          .output_shape = {1, 64, 112, 112},
                                          .macs = 118'013'952,
                                          .in_channels = 3,
                                          .out_channels = 64,
                                          .kernel_h = 7,
                                          .kernel_w = 7,
                                          .stride = 2,
                                          .groups = 1});
  return a;
}

// Stand-in signature: storage never verifies signatures (shared/crypto does, before anything is
// stored); it only refuses messages that carry none. These bytes have the right shape only.
inline v1::Signature stand_in_signature() {
  v1::Signature s;
  s.set_key_id("00112233445566778899aabbccddeeff");
  s.set_ed25519(std::string(64, '\x5a'));
  return s;
}

// A manifest describing `a` at `version`, as the release key holder would produce it.
inline v1::Manifest make_manifest(const ModelArtifact& a, std::uint64_t version) {
  v1::ManifestBody body;
  body.set_model_id(a.model_id);
  body.set_version(version);
  body.set_sha256(a.sha256);
  body.set_size_bytes(static_cast<std::uint64_t>(a.profile.size_bytes));
  body.set_task(a.task);
  body.set_accuracy(a.accuracy);
  for (const auto d : a.profile.input_shape) body.add_input_shape(d);
  v1::Manifest m;
  m.set_body(body.SerializeAsString());
  *m.mutable_signature() = stand_in_signature();
  return m;
}

inline v1::Assignment make_assignment(const std::string& vehicle_id, std::uint64_t seq) {
  v1::AssignmentBody body;
  body.set_vehicle_id(vehicle_id);
  body.set_seq(seq);
  body.set_issued_unix_ms(1'700'000'000'000);
  auto* app = body.add_applications();
  app->set_application_id("front-camera");
  app->set_model_id("resnet18");
  app->set_model_version(1);
  v1::Assignment a;
  a.set_body(body.SerializeAsString());
  *a.mutable_signature() = stand_in_signature();
  return a;
}

inline MeasurementRecord make_measurement(const std::string& vehicle_id,
                                          const std::string& device_key,
                                          const std::string& model_id, double p50_ms) {
  MeasurementRecord m;
  m.vehicle_id = vehicle_id;
  m.device_key = device_key;
  m.model_id = model_id;
  m.model_version = 1;
  m.batch = 1;
  m.threads = 4;
  m.optimized = true;
  m.p50_ms = p50_ms;
  m.p95_ms = p50_ms * 1.2;
  m.mean_ms = p50_ms * 1.05;
  m.peak_rss_mb = 180;
  m.energy_j = 0.4;
  m.download_bytes = 46'830'571;
  m.download_s = 12.5;
  return m;
}

}  // namespace fleetml::storage::testing
