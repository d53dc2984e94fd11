#include "simulation/trace/trace.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "shared/common/error.h"
#include "tests/support/test_env.h"

namespace fleetml::sim {
namespace {

constexpr const char* kHeader =
    "t_s,downlink_kbps,uplink_kbps,network_mode,rsrp_dbm,speed_kmh,state,wall_s\n";

std::string error_of(std::string_view csv) {
  try {
    Trace::parse(csv, "x.csv");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Trace, ParsesTheShippedFormat) {
  const Trace t = Trace::parse(std::string(kHeader) +
                                   "0,8000,10,LTE,-90,0,D,0\r\n"
                                   "1,0,0,5G,-91,0,I,1\r\n"
                                   "2,16000.5,3,5G,-92,3,D,3\n",
                               "x.csv");
  EXPECT_EQ(t.name(), "x.csv");
  ASSERT_EQ(t.duration_s(), 3u);
  EXPECT_DOUBLE_EQ(t.downlink_kbps(2), 16000.5);
  EXPECT_EQ(t.network(0), "LTE");
  EXPECT_EQ(t.network(1), "5G");
  EXPECT_DOUBLE_EQ(t.mean_kbps(), 24000.5 / 3);
  EXPECT_DOUBLE_EQ(t.total_bytes(), 24000.5 * 125);
}

TEST(Trace, NeedsOnlyTheTimeAndRateColumns) {
  const Trace t = Trace::parse("downlink_kbps,t_s\n8,0\n16,1\n", "min.csv");
  EXPECT_EQ(t.duration_s(), 2u);
  EXPECT_EQ(t.network(1), "");
}

TEST(Trace, RejectsMalformedFilesWithFileLineAndReason) {
  EXPECT_EQ(error_of(""), "x.csv: empty file, expected a header");
  EXPECT_EQ(error_of("t_s,rate\n0,1\n"),
            "x.csv:1: header must name the columns t_s and downlink_kbps, got 't_s,rate'");
  EXPECT_EQ(error_of("t_s,downlink_kbps\n"), "x.csv: no samples");
  EXPECT_EQ(error_of("t_s,downlink_kbps\n0,1\n1,2,3\n"), "x.csv:3: expected 2 fields, got 3");
  EXPECT_EQ(error_of("t_s,downlink_kbps\n0,1\n2,2\n"),
            "x.csv:3: t_s '2' should be 1 (one sample per second, counting from 0)");
  EXPECT_EQ(error_of("t_s,downlink_kbps\n0,-5\n"),
            "x.csv:2: downlink_kbps '-5' is not a finite, non-negative number");
  EXPECT_EQ(error_of("t_s,downlink_kbps\n0,fast\n"),
            "x.csv:2: downlink_kbps 'fast' is not a finite, non-negative number");
  EXPECT_EQ(error_of("t_s,downlink_kbps\n0,inf\n"),
            "x.csv:2: downlink_kbps 'inf' is not a finite, non-negative number");
  EXPECT_EQ(error_of("t_s,downlink_kbps\n0,1\n\n1,2\n"), "x.csv:3: blank line inside the trace");
  EXPECT_NO_THROW(Trace::parse("t_s,downlink_kbps\n0,1\n\n\n", "x.csv"));  // trailing blanks
}

TEST(Trace, LoadNamesTheFileInErrors) {
  const auto dir = std::filesystem::path(testing::TempDir()) / "trace_load_test";
  std::filesystem::create_directories(dir);
  const auto path = dir / "bad.csv";
  std::ofstream(path) << "t_s,downlink_kbps\n0,1\n1,x\n";
  try {
    Trace::load(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path.string() +
                                         ":3: downlink_kbps 'x' is not a finite, "
                                         "non-negative number");
  }
  EXPECT_THROW(Trace::load(dir / "missing.csv"), Error);
  std::filesystem::remove_all(dir);
}

TEST(Trace, CumulativeBytesIsPiecewiseLinearAndLoops) {
  // 8, 0, 16 kbit/s = 1000, 0, 2000 bytes/s; one pass delivers 3000 bytes.
  const Trace t = Trace::from_rates("t", {8, 0, 16});
  EXPECT_DOUBLE_EQ(t.cumulative_bytes(0), 0);
  EXPECT_DOUBLE_EQ(t.cumulative_bytes(0.5), 500);
  EXPECT_DOUBLE_EQ(t.cumulative_bytes(1.7), 1000);
  EXPECT_DOUBLE_EQ(t.cumulative_bytes(2.25), 1500);
  EXPECT_DOUBLE_EQ(t.cumulative_bytes(3), 3000);
  EXPECT_DOUBLE_EQ(t.cumulative_bytes(6.5), 2 * 3000 + 500);
  EXPECT_DOUBLE_EQ(t.cumulative_bytes(7.5), 2 * 3000 + 1000);
  EXPECT_DOUBLE_EQ(t.cumulative_bytes(-1), -2000);  // the last second, one pass earlier
  EXPECT_EQ(t.second_at(4.2), 1u);
  EXPECT_EQ(t.second_at(-0.5), 2u);
}

TEST(Trace, PositionReachingIsTheEarliestPoint) {
  const Trace t = Trace::from_rates("t", {8, 0, 16, 0});
  EXPECT_DOUBLE_EQ(t.position_reaching(500), 0.5);
  EXPECT_DOUBLE_EQ(t.position_reaching(1000), 1.0);  // not anywhere in the zero second
  EXPECT_DOUBLE_EQ(t.position_reaching(1500), 2.25);
  EXPECT_DOUBLE_EQ(t.position_reaching(3000), 3.0);  // before the trailing zero second
  EXPECT_DOUBLE_EQ(t.position_reaching(3500), 4.5);  // second pass
  EXPECT_DOUBLE_EQ(t.position_reaching(-2500), -3.5);
}

TEST(Trace, AllZeroTraceNeverReachesAnything) {
  const Trace t = Trace::from_rates("dead", {0, 0});
  try {
    t.position_reaching(1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "trace dead: every sample is 0 kbit/s, so a download never finishes");
  }
}

TEST(Trace, FromRatesValidates) {
  EXPECT_THROW(Trace::from_rates("e", {}), Error);
  EXPECT_THROW(Trace::from_rates("n", {1, -1}), Error);
  EXPECT_THROW(Trace::from_rates("w", {1, 2}, {"LTE"}), Error);
}

TEST(Scenarios, LoadsEveryFolderOfTheShippedTraces) {
  const auto dir = test::source_dir() / "data" / "traces";
  const std::vector<Scenario> scenarios = load_scenarios(dir);
  ASSERT_EQ(scenarios.size(), 4u);
  EXPECT_EQ(scenarios[0].name, "4g-driving");
  EXPECT_EQ(scenarios[1].name, "4g-static");
  EXPECT_EQ(scenarios[2].name, "5g-driving");
  EXPECT_EQ(scenarios[3].name, "5g-static");
  EXPECT_EQ(scenarios[1].traces.size(), 3u);
  EXPECT_EQ(scenarios[1].duration_s(), 2298u);  // data/traces/README.md
  EXPECT_EQ(scenarios[3].duration_s(), 11456u);
  EXPECT_THROW(load_scenarios(dir / "4g-static"), Error);  // files, but no sub-folders
}

}  // namespace
}  // namespace fleetml::sim
