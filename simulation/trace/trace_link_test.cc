#include "simulation/trace/trace_link.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "tests/support/test_env.h"

namespace fleetml::sim {
namespace {

// 8, 0, 16 kbit/s = 1000, 0, 2000 bytes/s; one pass of 3 s delivers 3000 bytes.
std::shared_ptr<const Trace> small_trace() {
  return std::make_shared<const Trace>(
      Trace::from_rates("small", {8, 0, 16}, {"LTE", "LTE", "5G"}));
}

TEST(TraceLink, FinishTimeHandComputed) {
  const TraceLink link(small_trace(), 0);
  EXPECT_DOUBLE_EQ(link.finish_time_s(0, 0), 0);
  EXPECT_DOUBLE_EQ(link.finish_time_s(0, 500), 0.5);
  EXPECT_DOUBLE_EQ(link.finish_time_s(0, 1000), 1.0);
  // 1000 bytes in second 0, nothing in the zero-rate second 1, 500 at 2000 B/s.
  EXPECT_DOUBLE_EQ(link.finish_time_s(0, 1500), 2.25);
  // Fractional start: 500 bytes until 1.0, nothing in the zero second, then 0.25 s more.
  EXPECT_DOUBLE_EQ(link.finish_time_s(0.5, 1000), 2.25);
  // A start inside the zero-rate second waits for second 2.
  EXPECT_DOUBLE_EQ(link.finish_time_s(1.2, 1000), 2.5);
}

TEST(TraceLink, FinishTimeWrapsAround) {
  const TraceLink link(small_trace(), 0);
  // From 2.5: 1000 bytes until the end of the pass, then 1000 in the next pass's second 0.
  EXPECT_DOUBLE_EQ(link.finish_time_s(2.5, 2000), 4.0);
  // Three whole passes and a bit: 10 000 bytes = 3 x 3000 + 1000.
  EXPECT_DOUBLE_EQ(link.finish_time_s(0, 10000), 10.0);
  // With an offset, link time 0 is trace second 2.
  const TraceLink shifted(small_trace(), 2);
  EXPECT_DOUBLE_EQ(shifted.finish_time_s(0, 2000), 1.0);
  EXPECT_DOUBLE_EQ(shifted.finish_time_s(0, 2500), 1.5);
  EXPECT_DOUBLE_EQ(shifted.finish_time_s(0, 3500), 3.25);
}

TEST(TraceLink, DeliveredHandComputed) {
  const TraceLink link(small_trace(), 0);
  EXPECT_DOUBLE_EQ(link.delivered_bytes(0, 3), 3000);
  EXPECT_DOUBLE_EQ(link.delivered_bytes(0.5, 2.5), 500 + 0 + 1000);
  EXPECT_DOUBLE_EQ(link.delivered_bytes(1, 2), 0);
  EXPECT_DOUBLE_EQ(link.delivered_bytes(0, 10), 3 * 3000 + 1000);
  EXPECT_DOUBLE_EQ(link.delivered_bytes(-1, 0), 2000);  // the history before the start
  EXPECT_DOUBLE_EQ(link.delivered_bytes(4, 4), 0);
  EXPECT_THROW(link.delivered_bytes(2, 1), Error);
  EXPECT_DOUBLE_EQ(link.rate_kbps(2.5), 16);
  EXPECT_DOUBLE_EQ(link.rate_kbps(-2.5), 8);  // trace position 0.5
  EXPECT_DOUBLE_EQ(link.rate_kbps(-1.5), 0);
}

TEST(TraceLink, FinishTimeInvertsDelivered) {
  const TraceLink link(small_trace(), 1.3);
  for (double start : {0.0, 0.4, 1.7, 5.9}) {
    for (double bytes : {1.0, 999.0, 2500.0, 12345.0}) {
      const double end = link.finish_time_s(start, bytes);
      EXPECT_NEAR(link.delivered_bytes(start, end), bytes, 1e-6) << start << " " << bytes;
    }
  }
}

TEST(TraceLink, RejectsImpossibleTransfers) {
  const TraceLink dead(std::make_shared<const Trace>(Trace::from_rates("dead", {0, 0, 0})), 0);
  EXPECT_THROW(dead.finish_time_s(0, 1), Error);
  EXPECT_DOUBLE_EQ(dead.finish_time_s(3, 0), 3);  // nothing to transfer is always done
  const TraceLink link(small_trace(), 0);
  EXPECT_THROW(link.finish_time_s(0, -1), Error);
  EXPECT_THROW(link.finish_time_s(0, NAN), Error);
  EXPECT_THROW(TraceLink(nullptr, 0), Error);
  EXPECT_THROW(TraceLink(small_trace(), INFINITY), Error);
}

TEST(TraceLink, SamplesAreWhatTheVehicleWouldReport) {
  const TraceLink link(small_trace(), 0);
  const auto whole = link.samples(0, 4, 1'000'000);
  ASSERT_EQ(whole.size(), 4u);
  EXPECT_DOUBLE_EQ(whole[0].downlink_kbps(), 8);
  EXPECT_DOUBLE_EQ(whole[1].downlink_kbps(), 0);
  EXPECT_DOUBLE_EQ(whole[2].downlink_kbps(), 16);
  EXPECT_DOUBLE_EQ(whole[3].downlink_kbps(), 8);  // looped
  EXPECT_EQ(whole[2].start_unix_ms(), 1'002'000);
  EXPECT_EQ(whole[2].duration_ms(), 1000u);
  EXPECT_EQ(whole[2].network(), "5G");
  // Seconds that straddle two trace seconds report the goodput of the mix.
  const auto half = link.samples(-1.5, 2, 0);
  EXPECT_DOUBLE_EQ(half[0].downlink_kbps(), (0 * 0.5 + 16 * 0.5));
  EXPECT_DOUBLE_EQ(half[1].downlink_kbps(), (16 * 0.5 + 8 * 0.5));
  EXPECT_EQ(half[0].start_unix_ms(), -1500);
}

TEST(TraceLink, RandomOffsetsAreWholeSecondsAndSeeded) {
  Rng a(42), b(42);
  for (int i = 0; i < 20; ++i) {
    const TraceLink x = TraceLink::at_random_offset(small_trace(), a);
    const TraceLink y = TraceLink::at_random_offset(small_trace(), b);
    EXPECT_EQ(x.offset_s(), y.offset_s());
    EXPECT_EQ(x.offset_s(), std::floor(x.offset_s()));
    EXPECT_GE(x.offset_s(), 0);
    EXPECT_LT(x.offset_s(), 3);
  }
}

TEST(TraceLink, RandomPointsCoverEveryTraceOfAScenario) {
  Scenario s{"two", {small_trace(), std::make_shared<const Trace>(Trace::from_rates("one", {1}))}};
  Rng rng(5);
  int in_one = 0;
  for (int i = 0; i < 400; ++i) {
    const TraceLink link = TraceLink::at_random_point(s, rng);
    if (link.trace().name() == "one") {
      ++in_one;
      EXPECT_EQ(link.offset_s(), 0);
    }
  }
  EXPECT_GT(in_one, 60);  // about a quarter of the seconds belong to "one"
  EXPECT_LT(in_one, 140);
  EXPECT_THROW(TraceLink::at_random_point(Scenario{"empty", {}}, rng), Error);
}

// The replayed long-run throughput of every shipped trace equals its file mean as listed in
// data/traces/manifest.csv (mean_dl_mbps, all rows), within 1%.
TEST(TraceLink, ReplayedMeanOfEveryShippedTraceMatchesTheManifest) {
  const auto dir = test::source_dir() / "data" / "traces";
  std::istringstream manifest(file::read(dir / "manifest.csv"));
  std::string line;
  std::getline(manifest, line);  // header; file is column 0, mean_dl_mbps column 8
  Rng rng(7);
  int checked = 0;
  while (std::getline(manifest, line)) {
    std::vector<std::string> cols;
    std::istringstream fields(line);
    for (std::string f; std::getline(fields, f, ',');) cols.push_back(f);
    ASSERT_GE(cols.size(), 9u) << line;
    const double file_mean_kbps = std::stod(cols[8]) * 1000;
    const auto trace = std::make_shared<const Trace>(Trace::load(dir / cols[0]));
    const TraceLink link = TraceLink::at_random_offset(trace, rng);
    // Whole passes from a random, fractional start: any start gives the file mean.
    const double span_s = 3.0 * static_cast<double>(trace->duration_s());
    const double replayed_kbps = link.delivered_bytes(0.2, 0.2 + span_s) * 8 / 1000 / span_s;
    EXPECT_NEAR(replayed_kbps, file_mean_kbps, 0.01 * file_mean_kbps) << cols[0];
    // The same through finish_time_s: a transfer of two passes' worth of bytes.
    const double bytes = 2 * trace->total_bytes();
    const double seconds = link.finish_time_s(0, bytes);
    EXPECT_NEAR(bytes * 8 / 1000 / seconds, file_mean_kbps, 0.01 * file_mean_kbps) << cols[0];
    ++checked;
  }
  EXPECT_EQ(checked, 11);
}

}  // namespace
}  // namespace fleetml::sim
