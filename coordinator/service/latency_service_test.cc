#include "coordinator/service/latency_service.h"

#include <cmath>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "coordinator/storage/database.h"
#include "shared/common/clock.h"
#include "shared/estimation/flops.h"
#include "shared/estimation/roofline.h"
#include "shared/estimation/test_support.h"

namespace fleetml::coordinator {
namespace {

using estimation::testing::cnn;
using estimation::testing::device;

assignment::CatalogEntry entry(int variant, std::uint64_t version = 1) {
  assignment::CatalogEntry e;
  e.profile = cnn(variant);
  e.model_id = e.profile.name;
  e.version = version;
  e.input_shape = e.profile.input_shape;
  return e;
}

LatencyServiceOptions with(std::string estimator) {
  LatencyServiceOptions o;
  o.estimator = std::move(estimator);
  return o;
}

double roofline_ms(const assignment::CatalogEntry& e, const v1::Capability& cap, int batch) {
  return estimation::roofline_terms(e.profile, cap, batch).total_ms();
}

// What a vehicle of `cap`'s kind reports for `e`: `slowdown` x the plain roofline.
storage::MeasurementRecord report(const assignment::CatalogEntry& e, const v1::Capability& cap,
                                  std::uint32_t batch, double slowdown) {
  storage::MeasurementRecord m;
  m.vehicle_id = "v1";
  m.device_key = estimation::device_key(cap);
  m.model_id = e.model_id;
  m.model_version = e.version;
  m.batch = batch;
  m.p50_ms = slowdown * roofline_ms(e, cap, static_cast<int>(batch));
  m.p95_ms = 1.1 * m.p50_ms;
  m.mean_ms = m.p50_ms;
  return m;
}

TEST(LatencyService, DefaultsToTheRooflineWithoutMeasurements) {
  LatencyService service({}, {});
  const v1::Capability cap = device();
  const assignment::CatalogEntry e = entry(2);
  const auto est = service.estimate(cap, e, 4);
  ASSERT_TRUE(est);
  const estimation::Estimate direct = estimation::RooflineEstimator().estimate({e.profile, cap, 4});
  EXPECT_EQ(service.name(), "roofline");
  EXPECT_EQ(est->estimator, "roofline");
  EXPECT_DOUBLE_EQ(est->point_ms, direct.point_ms);
  EXPECT_DOUBLE_EQ(est->bound_ms, direct.bound_ms);
  EXPECT_EQ(service.device_key(cap), estimation::device_key(cap));
}

TEST(LatencyService, MeasuredLatencyOverridesTheEstimateForThatVersionAndBatchOnly) {
  const v1::Capability cap = device();
  const assignment::CatalogEntry e = entry(2);
  storage::MeasurementRecord m = report(e, cap, 1, 2.0);
  m.energy_j = 0.3;
  LatencyService service({}, {m});
  const auto est = service.estimate(cap, e, 1);
  ASSERT_TRUE(est);
  EXPECT_EQ(est->estimator, "measured");
  EXPECT_DOUBLE_EQ(est->point_ms, m.p50_ms);
  EXPECT_DOUBLE_EQ(est->bound_ms, m.p95_ms);
  EXPECT_EQ(est->energy_j, 0.3);
  EXPECT_EQ(service.estimate(cap, e, 4)->estimator, "roofline");
  EXPECT_EQ(service.estimate(cap, entry(2, /*version=*/2), 1)->estimator, "roofline");
  EXPECT_EQ(service.estimate(device(1.0, 2), e, 1)->estimator, "roofline");  // 2 threads
}

TEST(LatencyService, MeasurementsOfSomeModelsCorrectTheOthersOnThatDeviceKind) {
  // The device runs everything 1.5x slower than its calibration says.
  const v1::Capability cap = device();
  const v1::Capability other = device(1.0, /*threads=*/2);
  LatencyService service({}, {});
  const assignment::CatalogEntry unseen = entry(7);
  const double before = service.estimate(cap, unseen, 1)->point_ms;
  const double other_before = service.estimate(other, unseen, 1)->point_ms;
  for (int v : {0, 1, 2, 3}) {
    const assignment::CatalogEntry e = entry(v);
    service.estimate(cap, e, 1);  // the planner asks before reports arrive: profile known
    for (std::uint32_t b : {1u, 4u}) service.add_measurement(report(e, cap, b, 1.5));
  }
  const double truth = 1.5 * roofline_ms(unseen, cap, 1);
  const auto after = service.estimate(cap, unseen, 1);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->estimator, "roofline");
  EXPECT_LT(std::abs(std::log(after->point_ms / truth)), 0.05);
  EXPECT_LT(std::abs(after->point_ms - truth), std::abs(before - truth));
  EXPECT_GE(after->bound_ms, after->point_ms);
  const auto corrections = service.corrections(cap);
  ASSERT_TRUE(corrections);
  EXPECT_EQ(corrections->models, 4);
  EXPECT_EQ(corrections->samples, 8);
  // Another device kind keeps its own (absent) corrections.
  EXPECT_DOUBLE_EQ(service.estimate(other, unseen, 1)->point_ms, other_before);
  EXPECT_FALSE(service.corrections(other));
}

TEST(LatencyService, StoredMeasurementsAreFittedOnceTheDeviceAndModelsAreKnown) {
  const v1::Capability cap = device();
  std::vector<storage::MeasurementRecord> stored;
  for (int v : {0, 1, 2}) stored.push_back(report(entry(v), cap, 1, 1.5));
  LatencyService service({}, stored);
  // Before the planner has shown the service these models' profiles, nothing can be fitted.
  EXPECT_FALSE(service.corrections(cap));
  for (int v : {0, 1, 2}) service.estimate(cap, entry(v), 1);
  const auto corrections = service.corrections(cap);
  ASSERT_TRUE(corrections);
  EXPECT_EQ(corrections->models, 3);
}

TEST(LatencyService, FlopsIsDigasProxy) {
  LatencyService service(with("flops"), {});
  const v1::Capability cap = device();
  const assignment::CatalogEntry e = entry(3);
  const auto est = service.estimate(cap, e, 2);
  ASSERT_TRUE(est);
  EXPECT_EQ(est->estimator, "flops");
  EXPECT_DOUBLE_EQ(est->point_ms, 2.0 * static_cast<double>(e.profile.flops) / 200e9 * 1e3);
  v1::Capability unknown = cap;
  unknown.mutable_device()->set_nominal_gflops(0);
  EXPECT_FALSE(service.estimate(unknown, e, 1));  // the proxy has nothing to divide by
}

TEST(LatencyService, LearnedTrainsOnReportsAndUsesTheRooflineUntilThen) {
  LatencyService service(with("learned"), {});
  const v1::Capability cap = device();
  const assignment::CatalogEntry unseen = entry(9);
  EXPECT_EQ(service.name(), "learned");
  EXPECT_EQ(service.estimate(cap, unseen, 1)->estimator, "roofline");
  for (int v = 0; v < 8; ++v) {
    const assignment::CatalogEntry e = entry(v);
    service.estimate(cap, e, 1);
    for (std::uint32_t b : {1u, 4u}) service.add_measurement(report(e, cap, b, 1.5));
  }
  const auto est = service.estimate(cap, unseen, 1);
  ASSERT_TRUE(est);
  EXPECT_EQ(est->estimator, "learned");
  const double truth = 1.5 * roofline_ms(unseen, cap, 1);
  EXPECT_LT(std::abs(std::log(est->point_ms / truth)), 0.2);
}

TEST(LatencyService, RejectsUnknownEstimatorsLlmWithoutUrlAndBadMeasurements) {
  EXPECT_THROW(LatencyService(with("oracle"), {}), Error);
  EXPECT_THROW(LatencyService(with("llm"), {}), Error);
  storage::MeasurementRecord bad = report(entry(0), device(), 1, 1.0);
  bad.p95_ms = bad.p50_ms / 2;
  EXPECT_THROW(LatencyService({}, {bad}), Error);
  LatencyService service({}, {});
  EXPECT_THROW(service.add_measurement(bad), Error);
}

// A database file of its own under the test's temporary directory, removed afterwards.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(const std::string& name)
      : dir_(std::filesystem::path(::testing::TempDir()) / name) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~ScratchDatabase() { std::filesystem::remove_all(dir_); }
  // A new connection to the same file: what a restarted coordinator opens.
  std::unique_ptr<storage::Database> open() const {
    return std::make_unique<storage::Database>(dir_ / "fleet.db", clock_);
  }

 private:
  std::filesystem::path dir_;
  ManualClock clock_;
};

// Six models measured at batch 1 and 4, 1.5x slower than the plain roofline.
std::vector<storage::MeasurementRecord> six_measured_models(const v1::Capability& cap) {
  std::vector<storage::MeasurementRecord> out;
  for (int v = 0; v < 6; ++v) {
    for (std::uint32_t b : {1u, 4u}) out.push_back(report(entry(v), cap, b, 1.5));
  }
  return out;
}

TEST(LatencyService, DeviceCorrectionsArePersistedAndAnswerAtOnceAfterARestart) {
  const ScratchDatabase scratch("latency_service_corrections");
  const v1::Capability cap = device();
  const std::vector<storage::MeasurementRecord> stored = six_measured_models(cap);
  const assignment::CatalogEntry unseen = entry(9);
  estimation::DeviceCorrections fitted;
  double adapted_ms = 0;
  {
    auto db = scratch.open();
    LatencyService service({}, stored);
    service.persist_in(*db);
    for (int v = 0; v < 6; ++v) service.estimate(cap, entry(v), 1);
    adapted_ms = service.estimate(cap, unseen, 1)->point_ms;
    fitted = *service.corrections(cap);
    EXPECT_EQ(fitted.samples, 12);
    const auto row = db->device_correction(estimation::device_key(cap));
    ASSERT_TRUE(row);
    EXPECT_EQ(estimation::corrections_from_json(*row).factors, fitted.factors);
  }
  // Restart: the planner has not yet shown the new service any measured model's profile, so
  // nothing could be refitted; the stored corrections answer.
  auto db = scratch.open();
  LatencyService restarted({}, stored);
  restarted.persist_in(*db);
  EXPECT_DOUBLE_EQ(restarted.estimate(cap, unseen, 1)->point_ms, adapted_ms);
  const auto restored = restarted.corrections(cap);
  ASSERT_TRUE(restored);
  EXPECT_EQ(restored->factors, fitted.factors);
  EXPECT_DOUBLE_EQ(restored->bound.log_margin, fitted.bound.log_margin);
  // A new measurement is fitted as usual once its models are known, and persisted.
  for (int v = 0; v < 7; ++v) restarted.estimate(cap, entry(v), 1);
  restarted.add_measurement(report(entry(6), cap, 1, 1.5));
  EXPECT_EQ(restarted.corrections(cap)->samples, 13);
  EXPECT_EQ((*db->device_correction(estimation::device_key(cap)))["samples"], 13);
}

TEST(LatencyService, TheLearnedModelIsPersistedAndAnswersAtOnceAfterARestart) {
  const ScratchDatabase scratch("latency_service_learned");
  const v1::Capability cap = device();
  const std::vector<storage::MeasurementRecord> stored = six_measured_models(cap);
  const assignment::CatalogEntry unseen = entry(9);
  double learned_ms = 0;
  {
    auto db = scratch.open();
    LatencyService service(with("learned"), stored);
    service.persist_in(*db);
    for (int v = 0; v < 6; ++v) service.estimate(cap, entry(v), 1);
    const auto est = service.estimate(cap, unseen, 1);
    ASSERT_EQ(est->estimator, "learned");
    learned_ms = est->point_ms;
    ASSERT_TRUE(db->blob(LatencyService::kLearnedBlob));
  }
  auto db = scratch.open();
  LatencyService restarted(with("learned"), stored);
  restarted.persist_in(*db);
  // Without the restored model this would be the roofline: no profile is known yet.
  const auto est = restarted.estimate(cap, unseen, 1);
  EXPECT_EQ(est->estimator, "learned");
  EXPECT_DOUBLE_EQ(est->point_ms, learned_ms);

  // A blob that is not a model is ignored (logged), not fatal: the service retrains.
  db->put_blob(LatencyService::kLearnedBlob, "not a model");
  LatencyService after_corruption(with("learned"), stored);
  after_corruption.persist_in(*db);
  EXPECT_EQ(after_corruption.estimate(cap, unseen, 1)->estimator, "roofline");
}

TEST(LatencyService, ReportsArriveWhileThePlannerEstimates) {
  // The coordinator's two threads; run under TSan to check the locking, here it checks that
  // every report lands and the final answer is the measured one.
  LatencyService service({}, {});
  const v1::Capability cap = device();
  std::thread ingest([&] {
    for (int v = 0; v < 6; ++v) service.add_measurement(report(entry(v), cap, 1, 1.2));
  });
  for (int round = 0; round < 20; ++round) {
    for (int v = 0; v < 6; ++v) ASSERT_TRUE(service.estimate(cap, entry(v), 1));
  }
  ingest.join();
  for (int v = 0; v < 6; ++v) EXPECT_EQ(service.estimate(cap, entry(v), 1)->estimator, "measured");
}

}  // namespace
}  // namespace fleetml::coordinator
