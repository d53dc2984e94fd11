#include "shared/messages/validate.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fleetml::messages {
namespace {

using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

v1::LinkSample sample() {
  v1::LinkSample s;
  s.set_start_unix_ms(1'700'000'000'000);
  s.set_duration_ms(1000);
  s.set_downlink_kbps(25'000);
  s.set_network("LTE");
  return s;
}

v1::Capability capability() {
  v1::Capability m;
  m.set_vehicle_id("rpi4-001");
  m.set_seq(7);
  m.set_sent_unix_ms(1'700'000'000'000);
  v1::Device* d = m.mutable_device();
  d->set_arch("aarch64");
  d->set_cpu_model("Cortex-A72");
  d->set_cores(4);
  d->set_clock_ghz(1.8);
  d->set_ram_gb(4);
  d->set_nominal_gflops(13.5);
  d->set_runtime("libtorch-1.13.1");
  d->set_threads(1);
  d->set_l2_cache_bytes(1 << 20);  // the A72's shared L2 is also its last level
  d->set_last_level_cache_bytes(1 << 20);
  v1::Gpu* g = d->add_gpus();
  g->set_name("VideoCore VI");
  g->set_memory_gb(0);
  v1::Calibration* k = m.mutable_calibration();
  k->set_threads(1);
  k->set_gemm_gflops(6.1);
  k->set_memory_bandwidth_gbps(2.5);
  k->set_op_overhead_us(12);
  k->set_duration_s(20);
  m.mutable_link()->set_network_type("4G");
  m.mutable_link()->set_nominal_downlink_kbps(20'000);
  *m.mutable_link()->add_recent() = sample();
  for (const char* id : {"front-camera", "rear_camera"}) {
    v1::Application* a = m.add_applications();
    a->set_id(id);
    a->set_task("image-classification");
    for (std::int64_t dim : {1, 3, 224, 224}) a->add_input_shape(dim);
    a->set_batch(1);
    a->set_deadline_ms(100);
    a->set_rate_hz(10);
    a->set_min_accuracy(0.7);
    a->set_download_budget_s(60);
  }
  v1::InstalledModel* im = m.add_installed();
  im->set_model_id("resnet18");
  im->set_version(3);
  im->set_sha256(std::string(64, 'a'));
  im->set_application_id("front-camera");
  return m;
}

struct Case {
  std::string name;
  std::function<void(v1::Capability&)> mutate;
  std::string reason;  // expected substring
};

TEST(ValidateCapability, AcceptsAPlausibleCapability) {
  EXPECT_EQ(validate(capability(), "rpi4-001"), std::nullopt);
  v1::Capability no_calibration = capability();
  no_calibration.clear_calibration();
  EXPECT_EQ(validate(no_calibration, "rpi4-001"), std::nullopt);
}

TEST(ValidateCapability, RejectsEachRuleWithTheFieldNamed) {
  const std::vector<Case> cases = {
      {"id mismatch", [](auto& m) { m.set_vehicle_id("rpi4-002"); },
       "vehicle_id 'rpi4-002' does not match the topic's vehicle 'rpi4-001'"},
      {"invalid id", [](auto& m) { m.set_vehicle_id("a/b"); }, "vehicle_id 'a/b' does not match"},
      {"negative time", [](auto& m) { m.set_sent_unix_ms(-1); }, "sent_unix_ms -1 is negative"},
      {"cores 0", [](auto& m) { m.mutable_device()->set_cores(0); },
       "device.cores 0 is outside 1..1024"},
      {"cores huge", [](auto& m) { m.mutable_device()->set_cores(5000); },
       "device.cores 5000 is outside 1..1024"},
      {"clock 0", [](auto& m) { m.mutable_device()->set_clock_ghz(0); },
       "device.clock_ghz 0 is outside (0, 10]"},
      {"clock NaN", [](auto& m) { m.mutable_device()->set_clock_ghz(kNaN); },
       "device.clock_ghz is not a finite number"},
      {"ram inf", [](auto& m) { m.mutable_device()->set_ram_gb(kInf); },
       "device.ram_gb is not a finite number"},
      {"ram negative", [](auto& m) { m.mutable_device()->set_ram_gb(-4); },
       "device.ram_gb -4 is outside (0, 16384]"},
      {"gflops absurd", [](auto& m) { m.mutable_device()->set_nominal_gflops(1e9); },
       "device.nominal_gflops 1000000000 is outside [0, 10000000]"},
      {"threads 0", [](auto& m) { m.mutable_device()->set_threads(0); },
       "device.threads 0 is outside 1..1024"},
      {"ram budget", [](auto& m) { m.mutable_device()->set_ram_budget_fraction(1.5); },
       "device.ram_budget_fraction 1.5 is outside [0, 1]"},
      {"cache absurd",
       [](auto& m) { m.mutable_device()->set_last_level_cache_bytes(std::uint64_t{1} << 40); },
       "device.last_level_cache_bytes 1099511627776 is outside 0..4294967296"},
      {"l2 above llc", [](auto& m) { m.mutable_device()->set_l2_cache_bytes(2 << 20); },
       "device.last_level_cache_bytes 1048576 is smaller than l2_cache_bytes 2097152"},
      {"long text", [](auto& m) { m.mutable_device()->set_cpu_model(std::string(300, 'x')); },
       "device.cpu_model is longer than 256 bytes"},
      {"gpu memory", [](auto& m) { m.mutable_device()->mutable_gpus(0)->set_memory_gb(-1); },
       "device.gpus[0].memory_gb -1 is outside [0, 16384]"},
      {"too many gpus",
       [](auto& m) {
         for (int i = 0; i < 16; ++i) m.mutable_device()->add_gpus();
       },
       "device.gpus has 17 entries, expected 0..16"},
      {"calibration NaN", [](auto& m) { m.mutable_calibration()->set_conv_gflops(kNaN); },
       "calibration.conv_gflops is not a finite number"},
      {"bandwidth negative",
       [](auto& m) { m.mutable_calibration()->set_memory_bandwidth_gbps(-2); },
       "calibration.memory_bandwidth_gbps -2 is outside [0, 10000000]"},
      {"overhead absurd", [](auto& m) { m.mutable_calibration()->set_op_overhead_us(1e7); },
       "calibration.op_overhead_us 10000000 is outside [0, 1000000]"},
      {"nominal downlink", [](auto& m) { m.mutable_link()->set_nominal_downlink_kbps(-1); },
       "link.nominal_downlink_kbps -1 is outside [0, 100000000]"},
      {"sample duration 0",
       [](auto& m) { m.mutable_link()->mutable_recent(0)->set_duration_ms(0); },
       "link.recent[0].duration_ms 0 is outside (0, 3600000]"},
      {"sample downlink inf",
       [](auto& m) { m.mutable_link()->mutable_recent(0)->set_downlink_kbps(kInf); },
       "link.recent[0].downlink_kbps is not a finite number"},
      {"too many samples",
       [](auto& m) {
         for (int i = 0; i < 10000; ++i) *m.mutable_link()->add_recent() = sample();
       },
       "link.recent has 10001 entries, expected 0..10000"},
      {"no applications", [](auto& m) { m.clear_applications(); }, "applications is empty"},
      {"too many applications",
       [](auto& m) {
         for (int i = 0; i < 63; ++i) {
           *m.add_applications() = m.applications(0);
           m.mutable_applications(m.applications_size() - 1)->set_id("app" + std::to_string(i));
         }
       },
       "applications has 65 entries, expected 1..64"},
      {"bad app id", [](auto& m) { m.mutable_applications(1)->set_id("rear camera"); },
       "applications[1].id 'rear camera' is not a valid id"},
      {"duplicate app id", [](auto& m) { m.mutable_applications(1)->set_id("front-camera"); },
       "applications[1].id 'front-camera' duplicates applications[0]"},
      {"empty task", [](auto& m) { m.mutable_applications(0)->clear_task(); },
       "applications[0].task is empty"},
      {"no input shape", [](auto& m) { m.mutable_applications(0)->clear_input_shape(); },
       "applications[0].input_shape is empty"},
      {"too many dims",
       [](auto& m) {
         for (int i = 0; i < 5; ++i) m.mutable_applications(0)->add_input_shape(1);
       },
       "applications[0].input_shape has 9 entries, expected 1..8"},
      {"zero dim", [](auto& m) { m.mutable_applications(0)->set_input_shape(1, 0); },
       "applications[0].input_shape[1] 0 is not positive"},
      {"negative dim", [](auto& m) { m.mutable_applications(0)->set_input_shape(2, -224); },
       "applications[0].input_shape[2] -224 is not positive"},
      {"too many elements", [](auto& m) { m.mutable_applications(0)->set_input_shape(1, 3 << 20); },
       "applications[0].input_shape has more than 2^28 elements"},
      {"huge dim overflows",
       [](auto& m) { m.mutable_applications(0)->set_input_shape(0, INT64_MAX); },
       "applications[0].input_shape has more than 2^28 elements"},
      {"batch 0", [](auto& m) { m.mutable_applications(0)->set_batch(0); },
       "applications[0].batch 0 is outside 1..1024"},
      {"batch huge", [](auto& m) { m.mutable_applications(0)->set_batch(4096); },
       "applications[0].batch 4096 is outside 1..1024"},
      {"deadline 0", [](auto& m) { m.mutable_applications(0)->set_deadline_ms(0); },
       "applications[0].deadline_ms 0 is outside (0, 3600000]"},
      {"deadline NaN", [](auto& m) { m.mutable_applications(0)->set_deadline_ms(kNaN); },
       "applications[0].deadline_ms is not a finite number"},
      {"rate negative", [](auto& m) { m.mutable_applications(0)->set_rate_hz(-1); },
       "applications[0].rate_hz -1 is outside (0, 10000]"},
      {"rate huge", [](auto& m) { m.mutable_applications(0)->set_rate_hz(1e5); },
       "applications[0].rate_hz 100000 is outside (0, 10000]"},
      {"accuracy > 1", [](auto& m) { m.mutable_applications(1)->set_min_accuracy(76.1); },
       "applications[1].min_accuracy 76.1 is outside [0, 1]"},
      {"budget negative", [](auto& m) { m.mutable_applications(0)->set_download_budget_s(-5); },
       "applications[0].download_budget_s -5 is outside [0, 604800]"},
      {"installed model id", [](auto& m) { m.mutable_installed(0)->set_model_id(""); },
       "installed[0].model_id '' is not a valid id"},
      {"installed sha", [](auto& m) { m.mutable_installed(0)->set_sha256("ABCDEF"); },
       "installed[0].sha256 is not 64 lowercase hex digits"},
      {"installed app id", [](auto& m) { m.mutable_installed(0)->set_application_id("a#"); },
       "installed[0].application_id 'a#' is not a valid id"},
  };
  for (const Case& c : cases) {
    v1::Capability m = capability();
    c.mutate(m);
    const auto reason = validate(m, "rpi4-001");
    ASSERT_TRUE(reason.has_value()) << c.name;
    EXPECT_THAT(*reason, HasSubstr(c.reason)) << c.name;
  }
}

TEST(ValidateCapability, TopicIdMustBeValidAndReasonsStayOnOneLine) {
  EXPECT_THAT(validate(capability(), "a/b").value_or(""),
              HasSubstr("topic vehicle id 'a/b' is not a valid id"));
  v1::Capability m = capability();
  m.set_vehicle_id(std::string("evil\nline", 9) + std::string(100, 'x'));
  const std::string reason = validate(m, "rpi4-001").value_or("");
  EXPECT_EQ(reason.find('\n'), std::string::npos) << reason;
  EXPECT_THAT(reason, HasSubstr("'evil?line"));
  EXPECT_THAT(reason, HasSubstr("...'"));
}

v1::Status status() {
  v1::Status m;
  m.set_vehicle_id("car-1");
  m.set_seq(2);
  m.set_state(v1::Status::ONLINE);
  v1::TransferState* t = m.add_transfers();
  t->set_application_id("cam");
  t->set_model_id("resnet18");
  t->set_phase(v1::TransferState::DOWNLOADING);
  t->set_bytes_done(10);
  t->set_bytes_total(100);
  return m;
}

TEST(ValidateStatus, AcceptsOnlineOfflineAndLastWill) {
  EXPECT_EQ(validate(status(), "car-1"), std::nullopt);
  v1::Status will;
  will.set_vehicle_id("car-1");
  will.set_state(v1::Status::OFFLINE);
  will.set_last_will(true);
  EXPECT_EQ(validate(will, "car-1"), std::nullopt);
}

TEST(ValidateStatus, RejectsEachRule) {
  const std::vector<std::pair<std::function<void(v1::Status&)>, std::string>> cases = {
      {[](auto& m) { m.set_vehicle_id("car-2"); }, "vehicle_id 'car-2' does not match"},
      {[](auto& m) { m.set_state(v1::Status::STATE_UNSPECIFIED); },
       "state 0 is neither ONLINE nor OFFLINE"},
      {[](auto& m) { m.set_state(static_cast<v1::Status::State>(9)); },
       "state 9 is neither ONLINE nor OFFLINE"},
      {[](auto& m) { m.set_sent_unix_ms(-5); }, "sent_unix_ms -5 is negative"},
      {[](auto& m) { m.mutable_transfers(0)->set_model_id("x/y"); },
       "transfers[0].model_id 'x/y' is not a valid id"},
      {[](auto& m) { m.mutable_transfers(0)->set_application_id(""); },
       "transfers[0].application_id '' is not a valid id"},
      {[](auto& m) { m.mutable_transfers(0)->set_phase(v1::TransferState::PHASE_UNSPECIFIED); },
       "transfers[0].phase 0 is not a known phase"},
      {[](auto& m) { m.mutable_transfers(0)->set_bytes_done(101); },
       "transfers[0].bytes_done 101 exceeds bytes_total 100"},
      {[](auto& m) { m.mutable_transfers(0)->set_detail(std::string(5000, 'd')); },
       "transfers[0].detail is longer than 4096 bytes"},
      {[](auto& m) {
         for (int i = 0; i < 64; ++i) *m.add_transfers() = m.transfers(0);
       },
       "transfers has 65 entries, expected 0..64"},
  };
  for (const auto& [mutate, expected] : cases) {
    v1::Status m = status();
    mutate(m);
    EXPECT_THAT(validate(m, "car-1").value_or("<valid>"), HasSubstr(expected));
  }
}

TEST(ValidateLinkReport, ChecksEverySample) {
  v1::LinkReport m;
  m.set_vehicle_id("car-1");
  for (int i = 0; i < 3; ++i) *m.add_samples() = sample();
  EXPECT_EQ(validate(m, "car-1"), std::nullopt);

  EXPECT_THAT(validate(m, "car-9").value_or(""), HasSubstr("does not match"));
  m.mutable_samples(2)->set_downlink_kbps(-1);
  EXPECT_THAT(validate(m, "car-1").value_or(""),
              HasSubstr("samples[2].downlink_kbps -1 is outside [0, 100000000]"));
  m.mutable_samples(2)->set_downlink_kbps(2e8);
  EXPECT_THAT(validate(m, "car-1").value_or(""),
              HasSubstr("samples[2].downlink_kbps 200000000 is outside [0, 100000000]"));
  m.mutable_samples(2)->set_downlink_kbps(1);
  m.mutable_samples(1)->set_duration_ms(4'000'000);
  EXPECT_THAT(validate(m, "car-1").value_or(""),
              HasSubstr("samples[1].duration_ms 4000000 is outside (0, 3600000]"));
  m.mutable_samples(1)->set_duration_ms(1000);
  m.mutable_samples(0)->set_start_unix_ms(-1);
  EXPECT_THAT(validate(m, "car-1").value_or(""),
              HasSubstr("samples[0].start_unix_ms -1 is negative"));
  m.mutable_samples(0)->set_start_unix_ms(0);
  for (int i = 0; i < 10000; ++i) *m.add_samples() = sample();
  EXPECT_THAT(validate(m, "car-1").value_or(""),
              HasSubstr("samples has 10003 entries, expected 0..10000"));
}

TEST(ValidateFetchRequest, BoundsTheWindow) {
  v1::FetchRequest m;
  m.set_vehicle_id("car-1");
  m.set_model_id("mobilenet_v2");
  m.set_version(2);
  m.set_offset(1 << 20);
  m.set_max_bytes(256 * 1024);
  EXPECT_EQ(validate(m, "car-1"), std::nullopt);
  m.set_max_bytes(16u << 20);
  EXPECT_EQ(validate(m, "car-1"), std::nullopt);

  m.set_max_bytes(0);
  EXPECT_THAT(validate(m, "car-1").value_or(""), HasSubstr("max_bytes 0 is outside 1..16777216"));
  m.set_max_bytes((16u << 20) + 1);
  EXPECT_THAT(validate(m, "car-1").value_or(""),
              HasSubstr("max_bytes 16777217 is outside 1..16777216"));
  m.set_max_bytes(1024);
  m.set_model_id("../etc/passwd");
  EXPECT_THAT(validate(m, "car-1").value_or(""),
              HasSubstr("model_id '../etc/passwd' is not a valid id"));
  m.set_model_id("m");
  EXPECT_THAT(validate(m, "other").value_or(""), HasSubstr("does not match"));
}

v1::Report report() {
  v1::Report m;
  m.set_vehicle_id("car-1");
  m.set_seq(9);
  m.set_kind(v1::Report::INSTALLED);
  m.set_application_id("cam");
  m.set_model_id("resnet18");
  m.set_model_version(3);
  v1::Measurement* x = m.mutable_measurement();
  x->set_p50_ms(31);
  x->set_p95_ms(35);
  x->set_mean_ms(32);
  x->set_peak_rss_mb(120);
  x->set_batch(1);
  x->set_threads(1);
  m.mutable_download()->set_bytes(46'000'000);
  m.mutable_download()->set_duration_s(12.5);
  return m;
}

TEST(ValidateReport, AcceptsInstallAndAssignmentLevelRejection) {
  EXPECT_EQ(validate(report(), "car-1"), std::nullopt);
  v1::Report rejected;
  rejected.set_vehicle_id("car-1");
  rejected.set_kind(v1::Report::REJECTED);
  rejected.set_reason("bad_signature");
  EXPECT_EQ(validate(rejected, "car-1"), std::nullopt);
}

TEST(ValidateReport, RejectsEachRule) {
  const std::vector<std::pair<std::function<void(v1::Report&)>, std::string>> cases = {
      {[](auto& m) { m.set_vehicle_id("car-2"); }, "vehicle_id 'car-2' does not match"},
      {[](auto& m) { m.set_kind(v1::Report::KIND_UNSPECIFIED); },
       "kind 0 is not a known report kind"},
      {[](auto& m) { m.set_kind(static_cast<v1::Report::Kind>(42)); },
       "kind 42 is not a known report kind"},
      {[](auto& m) { m.set_sent_unix_ms(-1); }, "sent_unix_ms -1 is negative"},
      {[](auto& m) { m.clear_model_id(); }, "model_id '' is not a valid id"},
      {[](auto& m) { m.clear_application_id(); }, "application_id '' is not a valid id"},
      {[](auto& m) { m.clear_measurement(); }, "measurement is missing"},
      {[](auto& m) {
         m.set_kind(v1::Report::INSTALL_FAILED);
         m.set_model_id("bad id");
       },
       "model_id 'bad id' is not a valid id"},
      {[](auto& m) { m.mutable_measurement()->set_p95_ms(kNaN); },
       "measurement.p95_ms is not a finite number"},
      {[](auto& m) { m.mutable_measurement()->set_p50_ms(-3); },
       "measurement.p50_ms -3 is negative"},
      {[](auto& m) { m.mutable_measurement()->set_mean_ms(kInf); },
       "measurement.mean_ms is not a finite number"},
      {[](auto& m) { m.mutable_measurement()->set_peak_rss_mb(-1); },
       "measurement.peak_rss_mb -1 is negative"},
      {[](auto& m) { m.mutable_measurement()->set_energy_j(kNaN); },
       "measurement.energy_j is not a finite number"},
      {[](auto& m) { m.mutable_measurement()->set_batch(2000); },
       "measurement.batch 2000 is outside 0..1024"},
      {[](auto& m) { m.mutable_measurement()->set_threads(5000); },
       "measurement.threads 5000 is outside 0..1024"},
      {[](auto& m) { m.mutable_download()->set_duration_s(-1); },
       "download.duration_s -1 is negative"},
      {[](auto& m) { m.set_reason(std::string(300, 'r')); }, "reason is longer than 256 bytes"},
      {[](auto& m) { m.set_detail(std::string(5000, 'd')); }, "detail is longer than 4096 bytes"},
  };
  for (const auto& [mutate, expected] : cases) {
    v1::Report m = report();
    mutate(m);
    EXPECT_THAT(validate(m, "car-1").value_or("<valid>"), HasSubstr(expected));
  }
}

}  // namespace
}  // namespace fleetml::messages
