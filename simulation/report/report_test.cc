#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

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
