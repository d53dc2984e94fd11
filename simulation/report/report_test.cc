#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "simulation/report/link_eval.h"
#include "simulation/report/scenarios.h"
#include "simulation/report/stats.h"
#include "simulation/report/transfer_table.h"
#include "simulation/report/zoo.h"
#include "tests/support/test_env.h"

namespace fleetml::sim {
namespace {

namespace fs = std::filesystem;

// A function, not a global: test discovery runs the binary without FLEETML_SOURCE_DIR.
fs::path traces_dir() { return test::source_dir() / "data" / "traces"; }

// A per-test directory of fake artifacts (the table only needs their sizes).
class ZooDir : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) /
           ("fleetml_report_" +
            std::string(testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void artifact(const std::string& id, std::size_t bytes) {
    std::ofstream(dir_ / (id + ".pt"), std::ios::binary) << std::string(bytes, 'x');
  }

  fs::path dir_;
};

TEST(Percentile, InterpolatesBetweenOrderStatistics) {
  EXPECT_DOUBLE_EQ(percentile({3, 1, 2}, 0.5), 2);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(percentile({0, 10}, 0.9), 9);
  EXPECT_DOUBLE_EQ(percentile({5}, 0.1), 5);
  EXPECT_TRUE(std::isinf(percentile({1, INFINITY}, 0.9)));
  EXPECT_THROW(percentile({}, 0.5), Error);
}

TEST(MedianInterval, UsesTheBinomialOrderStatistics) {
  std::vector<double> ranks(31);
  std::iota(ranks.begin(), ranks.end(), 1.0);
  std::shuffle(ranks.begin(), ranks.end(), std::mt19937(3));
  // Published ranks for 95%: n = 31 -> 10th and 22nd; n = 10 -> 2nd and 9th; n = 6 -> the
  // extremes; n = 5 has none (1/32 > 2.5%).
  EXPECT_EQ(median_interval(ranks), std::make_pair(10.0, 22.0));
  EXPECT_EQ(median_interval({10, 9, 8, 7, 6, 5, 4, 3, 2, 1}), std::make_pair(2.0, 9.0));
  EXPECT_EQ(median_interval({6, 5, 4, 3, 2, 1}), std::make_pair(1.0, 6.0));
  EXPECT_EQ(median_interval({1, 2, 3, 4, 5}), std::nullopt);
  EXPECT_EQ(median_interval({1, 2, 3, 4, 5}, 0.9), std::make_pair(1.0, 5.0));
  EXPECT_THROW(median_interval(ranks, 1.0), Error);
  EXPECT_THROW(median_interval(ranks, 0.0), Error);
}

TEST(MedianInterval, CoversTheMedianOfASkewedDistribution) {
  // 2000 samples of 31 draws from an exponential distribution (median ln 2): the 10th-22nd
  // interval misses with probability 2 x 1.47%, so it covers about 97% of the time; one rank
  // narrower would cover only about 93%.
  std::mt19937 rng(11);
  std::exponential_distribution<double> draw(1.0);
  int covered = 0;
  constexpr int kSamples = 2000;
  for (int i = 0; i < kSamples; ++i) {
    std::vector<double> values(31);
    for (double& v : values) v = draw(rng);
    const auto interval = median_interval(values);
    ASSERT_TRUE(interval);
    covered += interval->first <= std::log(2.0) && std::log(2.0) <= interval->second;
  }
  EXPECT_GE(covered, kSamples * 95 / 100);
  EXPECT_LE(covered, kSamples * 99 / 100);
}

TEST_F(ZooDir, ListsEveryArtifactWithoutACatalog) {
  artifact("resnet18", 1000);
  artifact("alexnet", 20);
  std::ofstream(dir_ / "notes.txt") << "ignored";
  const auto models = list_zoo_models(dir_, dir_ / "no-such-zoo.json");
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].id, "alexnet");
  EXPECT_EQ(models[0].name, "alexnet");
  EXPECT_EQ(models[1].size_bytes, 1000);
  EXPECT_THROW(list_zoo_models(dir_ / "missing", ""), Error);
}

TEST_F(ZooDir, TakesIdsNamesAndOrderFromTheCatalog) {
  artifact("resnet18", 1000);
  artifact("alexnet", 20);
  std::ofstream(dir_ / "zoo.json")
      << R"({"models": [{"id": "resnet18", "name": "ResNet18"}, {"id": "vgg19_bn"},
                        {"id": "alexnet"}]})";
  const auto models = list_zoo_models(dir_, dir_ / "zoo.json");
  ASSERT_EQ(models.size(), 2u);  // vgg19_bn has no artifact
  EXPECT_EQ(models[0].name, "ResNet18");
  EXPECT_EQ(models[1].name, "alexnet");
  std::ofstream(dir_ / "bad.json") << R"([{"name": "no id"}])";
  EXPECT_THROW(list_zoo_models(dir_, dir_ / "bad.json"), Error);
}

TEST_F(ZooDir, TransferTableMeanColumnsAreSizeTimesEightOverRate) {
  artifact("small", 1'000'003);
  artifact("big", 5'500'000);
  const auto models = list_zoo_models(dir_, "");
  const TransferTable table = transfer_table(models, load_scenarios(traces_dir()), 9, 50);
  ASSERT_EQ(table.rows.size(), 2u);
  for (const TransferRow& row : table.rows) {
    ASSERT_EQ(row.mean_rate_s.size(), kDigaRates.size());
    for (std::size_t s = 0; s < kDigaRates.size(); ++s) {
      EXPECT_DOUBLE_EQ(row.mean_rate_s[s],
                       static_cast<double>(row.model.size_bytes) * 8 / (kDigaRates[s].mbps * 1e6));
      ASSERT_TRUE(row.replay[s].has_value());
      EXPECT_GT(row.replay[s]->median_s, 0);
      EXPECT_LE(row.replay[s]->median_s, row.replay[s]->p90_s);
    }
  }
  EXPECT_DOUBLE_EQ(table.rows[1].mean_rate_s[0], 1'000'003 * 8 / 42.6e6);  // "small", 4G static
  // The same start points serve every model, so a bigger artifact never downloads faster.
  EXPECT_GT(table.rows[0].replay[0]->median_s, table.rows[1].replay[0]->median_s);
  const nlohmann::json j = to_json(table);
  EXPECT_EQ(j["models"][0]["scenarios"][1]["scenario"], "5g-static");
  EXPECT_NE(format_text(table).find("4G static 42.6"), std::string::npos);
}

TEST_F(ZooDir, FleetSimTransferTablePrintsTheMeanColumns) {
  artifact("tiny", 2'000'000);
  const std::string command = test::bin_path("fleet-sim").string() +
                              " transfer-table --json --draws 20 --models " + dir_.string() +
                              " --traces " + traces_dir().string();
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  ASSERT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 4096> buffer;
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe.get()))
    out.append(buffer.data(), n);
  const nlohmann::json j = nlohmann::json::parse(out);
  ASSERT_EQ(j["models"].size(), 1u);
  for (const auto& s : j["models"][0]["scenarios"]) {
    EXPECT_DOUBLE_EQ(s["mean_rate_s"].get<double>(),
                     2e6 * 8 / (s["mean_rate_mbps"].get<double>() * 1e6));
  }
}

TEST(LinkEval, ConservativePredictorUnderestimatesFarLessThanTheMean) {
  LinkEvalOptions options;
  options.cases = 300;
  options.history_s = 120;
  const LinkEval eval = evaluate_link_predictors(load_scenarios(traces_dir()), options);
  ASSERT_EQ(eval.scenarios.size(), 4u);
  for (const ScenarioEval& s : eval.scenarios) {
    ASSERT_EQ(s.scores.size(), 3u) << s.scenario;
    EXPECT_EQ(s.scores[0].predictor, "conservative");
    EXPECT_EQ(s.scores[1].predictor, "mean");
    EXPECT_LT(s.scores[0].underestimate_share, 0.5 * s.scores[1].underestimate_share) << s.scenario;
    EXPECT_GT(s.scores[0].median_rel_error, 0) << s.scenario;
  }
  EXPECT_EQ(to_json(eval)["scenarios"][0]["predictors"][2]["predictor"], "diga-fixed");
  options.cases = 0;
  EXPECT_THROW(evaluate_link_predictors(load_scenarios(traces_dir()), options), Error);
}

}  // namespace
}  // namespace fleetml::sim
