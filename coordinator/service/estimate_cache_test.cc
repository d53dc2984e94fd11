#include "coordinator/service/estimate_cache.h"

#include <gtest/gtest.h>

#include "shared/common/error.h"
#include "shared/estimation/estimator.h"
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
  return e;
}

EstimateCache::Key key(const v1::Capability& cap, const assignment::CatalogEntry& e,
                       std::uint32_t batch = 1) {
  return EstimateCache::key(estimation::device_key(cap), cap, e, batch);
}

assignment::LatencyEstimate estimate(double point_ms) {
  return {point_ms, 2 * point_ms, "roofline", std::nullopt};
}

TEST(EstimateCache, AnswersOnlyForTheSameDeviceCalibrationModelVersionAndBatch) {
  EstimateCache cache(100);
  const v1::Capability cap = device();
  const assignment::CatalogEntry e = entry(1);
  cache.put(key(cap, e), estimate(7));
  const auto* hit = cache.find(key(cap, e));
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->point_ms, 7);
  EXPECT_EQ(hit->bound_ms, 14);

  v1::Capability recalibrated = cap;  // same device kind, new calibration
  recalibrated.mutable_calibration()->set_conv_gflops(cap.calibration().conv_gflops() * 1.01);
  ASSERT_EQ(estimation::device_key(recalibrated), estimation::device_key(cap));
  EXPECT_EQ(cache.find(key(recalibrated, e)), nullptr);
  v1::Capability more_ram = cap;  // a Device field outside the device key
  more_ram.mutable_device()->set_ram_gb(cap.device().ram_gb() * 2);
  EXPECT_EQ(cache.find(key(more_ram, e)), nullptr);
  EXPECT_EQ(cache.find(key(cap, entry(1, /*version=*/2))), nullptr);
  EXPECT_EQ(cache.find(key(cap, entry(2))), nullptr);
  EXPECT_EQ(cache.find(key(cap, e, /*batch=*/4)), nullptr);

  // Link and applications are not part of the key: a capability that changed only them hits.
  v1::Capability moved = cap;
  moved.mutable_link()->set_nominal_downlink_kbps(1234);
  moved.set_seq(cap.seq() + 1);
  EXPECT_NE(cache.find(key(moved, e)), nullptr);
}

TEST(EstimateCache, InvalidateForgetsOneDeviceKindAndClearForgetsAll) {
  EstimateCache cache(100);
  const v1::Capability cap = device();
  const v1::Capability other = device(1.0, /*threads=*/2);
  ASSERT_NE(estimation::device_key(cap), estimation::device_key(other));
  for (int v : {1, 2}) {
    cache.put(key(cap, entry(v)), estimate(v));
    cache.put(key(other, entry(v)), estimate(10 + v));
  }
  EXPECT_EQ(cache.size(), 4u);
  cache.invalidate(estimation::device_key(cap));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.find(key(cap, entry(1))), nullptr);
  EXPECT_EQ(cache.find(key(cap, entry(2))), nullptr);
  ASSERT_NE(cache.find(key(other, entry(2))), nullptr);
  EXPECT_EQ(cache.find(key(other, entry(2)))->point_ms, 12);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.find(key(other, entry(2))), nullptr);
}

TEST(EstimateCache, StaysWithinItsCapacity) {
  EXPECT_THROW(EstimateCache(0), Error);
  EstimateCache cache(2);
  const v1::Capability cap = device();
  cache.put(key(cap, entry(1)), estimate(1));
  cache.put(key(cap, entry(1)), estimate(5));  // replaces
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find(key(cap, entry(1)))->point_ms, 5);
  cache.put(key(cap, entry(2)), estimate(2));
  EXPECT_EQ(cache.size(), 2u);
  cache.put(key(cap, entry(3)), estimate(3));  // full: starts over
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find(key(cap, entry(1))), nullptr);
  EXPECT_EQ(cache.find(key(cap, entry(3)))->point_ms, 3);
}

}  // namespace
}  // namespace fleetml::coordinator
