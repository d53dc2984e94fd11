#include "simulation/fleet/fleet.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "shared/common/error.h"
#include "simulation/fleet/fleet_report.h"
#include "simulation/fleet/sim_platform.h"
#include "tests/support/test_env.h"

namespace fleetml::sim {
namespace {

TEST(Mix, ParsesProfilesAndWeights) {
  const auto mix = parse_mix("rpi4:40,rpi5:30,pc-i9:0.5");
  ASSERT_EQ(mix.size(), 3u);
  EXPECT_EQ(mix[0].profile, "rpi4");
  EXPECT_EQ(mix[2].weight, 0.5);
  for (const char* bad :
       {"", "rpi4", "rpi4:", "rpi4:x", "rpi4:-1", "rpi4:0", ":3", "a:1,a:2", "rpi4:1,"}) {
    EXPECT_THROW(parse_mix(bad), Error) << bad;
  }
}

TEST(Mix, ApportionsByLargestRemainder) {
  const auto mix = parse_mix("a:40,b:30,c:20,d:10");
  const auto twenty = apportion(mix, 20);
  EXPECT_EQ(std::count(twenty.begin(), twenty.end(), "a"), 8);
  EXPECT_EQ(std::count(twenty.begin(), twenty.end(), "d"), 2);
  // 3 x 1/3: remainders tie, earlier entries first.
  EXPECT_EQ(apportion(parse_mix("a:1,b:1,c:1"), 4), (std::vector<std::string>{"a", "a", "b", "c"}));
  EXPECT_EQ(apportion(mix, 1), (std::vector<std::string>{"a"}));
}

TEST(KeepUp, NeedsLowLagEveryAssignmentAndEveryDownloadEnded) {
  FleetResult result;
  result.vehicles.resize(3);
  result.vehicles[0].assignment.emplace();
  result.vehicles[1].assignment.emplace();
  result.lag = {900, 20, 1000};
  std::vector<AppVerdict> verdicts(3);
  verdicts[0].model = "m";  // installed: 4 s for 2 s of trace
  verdicts[0].installed = true;
  verdicts[0].actual_download_s = 4;
  verdicts[0].replay_download_s = 2;
  verdicts[1].model = "m";  // its install failed: ended
  verdicts[1].failure = "smoke_failed";
  // verdicts[2]: no model (no assignment): nothing to download
  KeepUp k = keep_up(result, verdicts);
  EXPECT_EQ(k.assigned, 2u);
  EXPECT_EQ(k.downloads, 2u);
  EXPECT_EQ(k.ended, 2u);
  EXPECT_DOUBLE_EQ(k.median_slowdown, 2);
  EXPECT_FALSE(k.ok());  // one vehicle has no assignment
  EXPECT_NE(describe(k).find("keeps up: no"), std::string::npos) << describe(k);
  result.vehicles[2].assignment.emplace();
  EXPECT_TRUE(keep_up(result, verdicts).ok()) << describe(keep_up(result, verdicts));
  result.lag.max_ms = 1000;  // a whole tick late once
  EXPECT_FALSE(keep_up(result, verdicts).ok());
  result.lag = {10, 50, 1000};  // behind on average
  EXPECT_FALSE(keep_up(result, verdicts).ok());
  result.lag = {10, 1, 1000};
  verdicts[1].failure.clear();  // a download still running at the end
  EXPECT_FALSE(keep_up(result, verdicts).ok());
}

// The fleet a seed draws, with the real profiles and traces: what makes two runs with one seed
// the same fleet (the broker's timing aside).
class FleetPlanTest : public ::testing::Test {
 protected:
  FleetPlanTest() : scenarios_(load_scenarios(test::source_dir() / "data/traces")) {
    for (DeviceProfile& p : load_device_profiles(test::source_dir() / "simulation/profiles")) {
      std::string name = p.name;
      devices_.emplace(std::move(name), SimulatedDevice(std::move(p)));
    }
  }

  std::vector<VehiclePlan> plan(std::uint64_t seed, double ramp_s = 0) {
    return plan_fleet(parse_mix("pc-i9:1,rpi4:1,rpi5:1,jetson-nano-cpu:1,jetson-nano-gpu:1"), 40,
                      seed, devices_, scenarios_, ramp_s);
  }

  // The first calibration the vehicle's platform stream yields (the truth plus its jitter).
  std::string calibration(const VehiclePlan& p) {
    ManualClock clock;
    const ModelStructures models;
    SimPlatform platform(devices_.at(p.profile), p.link, models, clock, clock.now(),
                         p.platform_seed);
    return platform.calibrate().SerializeAsString();
  }

  // Every draw of every vehicle.
  std::vector<std::string> draws(const std::vector<VehiclePlan>& plans) {
    std::vector<std::string> out;
    for (const VehiclePlan& p : plans) {
      out.push_back(p.id + " " + p.profile + " " + p.scenario + " " + p.link.trace().name() + " " +
                    std::to_string(p.link.offset_s()) + " " + std::to_string(p.platform_seed) +
                    " " + calibration(p));
    }
    return out;
  }

  std::map<std::string, SimulatedDevice> devices_;
  std::vector<Scenario> scenarios_;
};

TEST_F(FleetPlanTest, SameSeedSameFleet) {
  const std::vector<VehiclePlan> a = plan(7);
  ASSERT_EQ(a.size(), 40u);
  EXPECT_EQ(draws(a), draws(plan(7)));
  // The mix is met and each profile gets a scenario of its own network type.
  for (const VehiclePlan& p : a) {
    const std::string type = devices_.at(p.profile).profile().network_type == "5G" ? "5g-" : "4g-";
    EXPECT_TRUE(p.scenario.starts_with(type)) << p.id << " " << p.scenario;
  }
  EXPECT_EQ(std::count_if(a.begin(), a.end(), [](const auto& p) { return p.profile == "rpi5"; }),
            8);
}

TEST_F(FleetPlanTest, AnotherSeedDrawsOtherLinksAndJitter) {
  const std::vector<VehiclePlan> a = plan(7);
  const std::vector<VehiclePlan> b = plan(8);
  ASSERT_EQ(a.size(), b.size());
  std::size_t offsets = 0, streams = 0, calibrations = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].profile, b[i].profile);  // the mix does not depend on the seed
    offsets += a[i].link.trace().name() != b[i].link.trace().name() ||
               a[i].link.offset_s() != b[i].link.offset_s();
    streams += a[i].platform_seed != b[i].platform_seed;
    calibrations += calibration(a[i]) != calibration(b[i]);
  }
  // Trace points are drawn from thousands of seconds: a coincidence is possible, forty are not.
  EXPECT_GE(offsets, 35u);
  EXPECT_EQ(streams, a.size());
  EXPECT_EQ(calibrations, a.size());
}

TEST_F(FleetPlanTest, ARampDrawsJoinTimesAndChangesNothingElse) {
  const std::vector<VehiclePlan> still = plan(7);
  const std::vector<VehiclePlan> ramped = plan(7, 120);
  EXPECT_EQ(draws(ramped), draws(still));
  std::vector<double> joins;
  for (const VehiclePlan& p : still) EXPECT_EQ(p.join_s, 0);
  for (const VehiclePlan& p : ramped) {
    EXPECT_GE(p.join_s, 0);
    EXPECT_LT(p.join_s, 120);
    joins.push_back(p.join_s);
  }
  std::sort(joins.begin(), joins.end());
  EXPECT_LT(joins.front(), 30);  // spread over the ramp, not bunched (seed 7: fixed draws)
  EXPECT_GT(joins.back(), 90);
  EXPECT_EQ(std::adjacent_find(joins.begin(), joins.end()), joins.end());
  const std::vector<VehiclePlan> again = plan(7, 120);
  for (std::size_t i = 0; i < again.size(); ++i) EXPECT_EQ(again[i].join_s, ramped[i].join_s);
}

class SimPlatformTest : public ::testing::Test {
 protected:
  SimPlatformTest()
      : device_(load_device_profile(test::source_dir() / "simulation/profiles/rpi4.json")),
        // 8 kbit/s = 1000 B/s, then a dead second, then 16 kbit/s; looping.
        trace_(std::make_shared<Trace>(Trace::from_rates("t", {8, 0, 16}))),
        platform_(device_, TraceLink(trace_, 0), models_, clock_, clock_.now(), 7, 3) {}

  Clock::TimePoint at(double s) { return platform_.clock_time(s); }

  SimulatedDevice device_;
  std::shared_ptr<const Trace> trace_;
  ModelStructures models_;
  ManualClock clock_;
  SimPlatform platform_;
};

TEST_F(SimPlatformTest, ChunksAreSerializedOnTheTraceLink) {
  // 500 B at 1000 B/s from t=0 ends at 0.5; the next 1000 B queue behind it: 500 B by t=1,
  // nothing in the dead second, 500 B at 2000 B/s: t=2.25.
  EXPECT_EQ(platform_.chunk_arrival(at(0), 500), at(0.5));
  EXPECT_EQ(platform_.chunk_arrival(at(0.1), 1000), at(2.25));
  // An idle link starts the next chunk when the broker hands it over.
  EXPECT_EQ(platform_.chunk_arrival(at(3), 1000), at(4));
}

TEST_F(SimPlatformTest, LinkSamplesAreWholeSecondsOnceWithHistoryFirst) {
  const auto first = platform_.link_samples(at(0), at(1.5));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 4u);  // 3 s of history, then second 0
  EXPECT_EQ(first->front().start_unix_ms(), to_unix_ms(at(-3)));
  EXPECT_DOUBLE_EQ(first->back().downlink_kbps(), 8);
  EXPECT_TRUE(platform_.link_samples(at(1.5), at(1.9))->empty());
  const auto next = platform_.link_samples(at(1.9), at(3));
  ASSERT_EQ(next->size(), 2u);
  EXPECT_DOUBLE_EQ((*next)[0].downlink_kbps(), 0);
  EXPECT_DOUBLE_EQ((*next)[1].downlink_kbps(), 16);
}

TEST_F(SimPlatformTest, RecordsEachDownloadBesideWhatTheTraceAloneTakes) {
  v1::ManifestBody manifest;
  manifest.set_model_id("m");
  manifest.set_version(3);
  manifest.set_size_bytes(1500);
  clock_.advance(std::chrono::milliseconds(500));
  const auto sink = platform_.open_sink({});
  EXPECT_EQ(sink->open(manifest), 0u);
  ASSERT_EQ(platform_.downloads().size(), 1u);
  // From t=0.5: 500 B by t=1, a dead second, 1000 B at 2000 B/s: t=2.5.
  EXPECT_DOUBLE_EQ(platform_.downloads()[0].start_s, 0.5);
  EXPECT_DOUBLE_EQ(platform_.downloads()[0].replay_s, 2);
  EXPECT_EQ(platform_.downloads()[0].end_s, -1);
  sink->append("abc");
  EXPECT_EQ(sink->digest().size_bytes, 3u);
  EXPECT_TRUE(sink->artifact_path().empty());
  clock_.advance(std::chrono::seconds(4));
  sink->complete();
  EXPECT_DOUBLE_EQ(platform_.downloads()[0].end_s, 4.5);
  EXPECT_EQ(platform_.downloads()[0].model_id, "m");
  EXPECT_EQ(platform_.downloads()[0].version, 3u);
}

TEST_F(SimPlatformTest, ADownloadEndsWhenTheLinkDeliversItsLastChunk) {
  v1::ManifestBody manifest;
  manifest.set_model_id("m");
  manifest.set_size_bytes(1500);
  const auto sink = platform_.open_sink({});
  sink->open(manifest);
  // The agent hashes the chunk when the broker hands it over (t=0) and completes the sink
  // then; the link delivers it at 2.25 (1000 B by t=1, a dead second, 500 B at 2000 B/s).
  EXPECT_EQ(platform_.chunk_arrival(at(0), 1500), at(2.25));
  sink->append(std::string(1500, 'x'));
  sink->complete();
  EXPECT_DOUBLE_EQ(platform_.downloads()[0].end_s, 2.25);
}

TEST_F(SimPlatformTest, KeepsNoFilesAndFailsUnknownModels) {
  EXPECT_FALSE(platform_.stores_artifacts());
  v1::ManifestBody manifest;
  manifest.set_model_id("nope");
  EXPECT_THROW(platform_.smoke_test({}, manifest), Error);
  EXPECT_EQ(platform_.describe_device().cores(), device_.device().cores());
}

}  // namespace
}  // namespace fleetml::sim
