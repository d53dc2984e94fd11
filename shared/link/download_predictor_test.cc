#include "shared/link/download_predictor.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "shared/common/error.h"

namespace fleetml::link {
namespace {

// One sample per second, starting at t = 0, with the given rates (kbit/s). 8 kbit/s is
// 1000 bytes/s, which keeps the hand computations below readable.
std::vector<v1::LinkSample> per_second(const std::vector<double>& kbps) {
  std::vector<v1::LinkSample> out;
  for (std::size_t i = 0; i < kbps.size(); ++i) {
    v1::LinkSample s;
    s.set_start_unix_ms(1'000'000 + static_cast<std::int64_t>(i) * 1000);
    s.set_duration_ms(1000);
    s.set_downlink_kbps(kbps[i]);
    s.set_network("LTE");
    out.push_back(s);
  }
  return out;
}

std::vector<double> repeat(std::vector<double> pattern, std::size_t times) {
  std::vector<double> out;
  for (std::size_t i = 0; i < times; ++i) out.insert(out.end(), pattern.begin(), pattern.end());
  return out;
}

TEST(PredictDownload, SteadyLinkIsExact) {
  const auto h = per_second(std::vector<double>(30, 8));
  EXPECT_NEAR(predict_download(h, 3000, 0).seconds, 3.0, 1e-6);
  EXPECT_NEAR(predict_download(h, 100'000, 0).seconds, 100.0, 1e-6);  // beyond the windows
  EXPECT_DOUBLE_EQ(predict_download_mean(h, 3000, 0).seconds, 3.0);
  EXPECT_EQ(predict_download(h, 3000, 0).basis, Basis::kSamples);
  EXPECT_DOUBLE_EQ(predict_download(h, 3000, 0).history_s, 30);
}

TEST(PredictDownload, OnOffLinkCountsTheDownloadsThatStartInAGap) {
  // 1000 B/s and 0 B/s alternating. Half of the windows start in a zero second, so the low
  // percentile is theirs: 1000 bytes need 2 s, 1500 bytes need 3.5 s (1 s idle, 1 s of data,
  // 1 s idle, 0.5 s of data). The mean rule says 1500 / 500 = 3 s.
  const auto h = per_second(repeat({8, 0}, 10));
  EXPECT_NEAR(predict_download(h, 1000, 0).seconds, 2.0, 1e-6);
  EXPECT_NEAR(predict_download(h, 1500, 0).seconds, 3.5, 1e-6);
  EXPECT_DOUBLE_EQ(predict_download_mean(h, 1500, 0).seconds, 3.0);
}

TEST(PredictDownload, LongDownloadsKeepTheLowRateOfTheLongestWindow) {
  // 10 s at 2000 B/s then 10 s at 1000 B/s. Windows are at most 10 s (half the history); on
  // the looped history their bytes are 10000, 11000, 11000, 12000, ... 20000, and the 10th
  // percentile (2nd of 20) is 11000 bytes per 10 s. 44000 bytes: 40 s; the mean rule: 29.3 s.
  auto rates = std::vector<double>(10, 16);
  rates.insert(rates.end(), 10, 8);
  const auto h = per_second(rates);
  EXPECT_NEAR(predict_download(h, 44'000, 0).seconds, 40.0, 1e-6);
  EXPECT_NEAR(predict_download_mean(h, 44'000, 0).seconds, 44'000 / 1500.0, 1e-9);
}

TEST(PredictDownload, DeadLinkNeverFinishes) {
  const auto h = per_second(std::vector<double>(20, 0));
  EXPECT_TRUE(std::isinf(predict_download(h, 1, 50'000).seconds));
  EXPECT_TRUE(std::isinf(predict_download_mean(h, 1, 50'000).seconds));
  EXPECT_EQ(predict_download(h, 0, 0).seconds, 0);
  // Mostly dead: 5 s on, 15 s off. Of 120 starts, 6 begin the gap (16 s to get 1000 bytes)
  // and 6 its second second (15 s); the 10th percentile is the 12th smallest window, so 15 s.
  const auto bursty =
      per_second(repeat({8, 8, 8, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 6));
  EXPECT_NEAR(predict_download(bursty, 1000, 0).seconds, 15.0, 1e-6);
}

TEST(PredictDownload, FallsBackToTheNominalRate) {
  const DownloadPrediction c = predict_download({}, 1000, 8);
  EXPECT_EQ(c.basis, Basis::kNominal);
  EXPECT_DOUBLE_EQ(c.seconds, 2.0);  // half the nominal rate
  const DownloadPrediction m = predict_download_mean({}, 1000, 8);
  EXPECT_EQ(m.basis, Basis::kNominal);
  EXPECT_DOUBLE_EQ(m.seconds, 1.0);
  const DownloadPrediction none = predict_download({}, 1000, 0);
  EXPECT_EQ(none.basis, Basis::kNone);
  EXPECT_TRUE(std::isinf(none.seconds));
  EXPECT_EQ(to_string(Basis::kNominal), "nominal");
}

TEST(PredictDownload, UsesOnlyTheRecentValidSamplesInTimeOrder) {
  // 100 old zero seconds, then 600 s at 1000 B/s: the default 600-s history sees only the
  // latter. Shuffled order, a zero-length and a negative sample must not matter.
  auto rates = std::vector<double>(100, 0);
  rates.insert(rates.end(), 600, 8);
  auto h = per_second(rates);
  v1::LinkSample empty = h[150];
  empty.set_duration_ms(0);
  empty.set_downlink_kbps(1e9);
  v1::LinkSample negative = h[151];
  negative.set_downlink_kbps(-5);
  h.push_back(empty);
  h.push_back(negative);
  std::shuffle(h.begin(), h.end(), std::mt19937(3));
  EXPECT_DOUBLE_EQ(predict_download_mean(h, 5000, 0).seconds, 5.0);
  EXPECT_NEAR(predict_download(h, 5000, 0).seconds, 5.0, 1e-6);
  EXPECT_DOUBLE_EQ(predict_download_mean(h, 5000, 0, 700).seconds, 5000 / (600'000 / 700.0));
}

TEST(PredictDownload, HandlesSamplesLongerThanASecond) {
  std::vector<v1::LinkSample> h(2);
  h[0].set_start_unix_ms(0);
  h[0].set_duration_ms(5000);
  h[0].set_downlink_kbps(8);
  h[1].set_start_unix_ms(5000);
  h[1].set_duration_ms(5000);
  h[1].set_downlink_kbps(16);
  EXPECT_DOUBLE_EQ(predict_download_mean(h, 15'000, 0).seconds, 10.0);
  // Two windows (one per sample) of at most 5 s: the low one delivers 5000 bytes in 5 s.
  EXPECT_NEAR(predict_download(h, 2500, 0).seconds, 2.5, 1e-6);
  EXPECT_NEAR(predict_download(h, 50'000, 0).seconds, 50.0, 1e-6);
}

TEST(PredictDownload, GrowsWithTheSizeAndRejectsBadSizes) {
  std::mt19937 gen(11);
  std::uniform_real_distribution<double> rate(0, 50'000);
  std::vector<double> rates(300);
  for (double& r : rates) r = rate(gen) * (gen() % 5 == 0 ? 0 : 1);
  const auto h = per_second(rates);
  double previous = 0;
  for (double bytes = 1e5; bytes < 1e10; bytes *= 1.7) {
    const double s = predict_download(h, bytes, 0).seconds;
    EXPECT_GE(s, previous) << bytes;
    previous = s;
  }
  EXPECT_THROW(predict_download(h, -1, 0), Error);
  EXPECT_THROW(predict_download_mean(h, NAN, 0), Error);
}

}  // namespace
}  // namespace fleetml::link
