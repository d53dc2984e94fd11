#include "coordinator/service/latency_service.h"

#include <cmath>
#include <thread>

#include <gtest/gtest.h>

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
  return estimation::roofline_terms(e.profile, cap.calibration(), batch).total_ms();
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
