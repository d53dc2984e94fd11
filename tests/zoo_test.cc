// Acceptance of the characterization on the exported zoo (scripts/export-zoo.sh): parameters
// exactly as published, MACs within 2% of torchvision's published "GFLOPS" column (which
// counts multiply-accumulates), or within its rounding for figures printed with two decimals.
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/characterization/characterization.h"
#include "shared/common/file.h"
#include "tests/support/test_env.h"

namespace fleetml {
namespace {

nlohmann::json zoo_entry(const std::string& id) {
  const auto file = test::source_dir() / "data/zoo.json";
  const nlohmann::json zoo = nlohmann::json::parse(file::read(file));
  for (const auto& m : zoo["models"]) {
    if (m["id"] == id) return m;
  }
  ADD_FAILURE() << id << " is not in " << file;
  return {};
}

// The SPEC's acceptance figures: data/zoo.json must carry them unchanged.
TEST(ZooTest, AcceptanceFiguresAreThePublishedOnes) {
  const struct {
    const char* id;
    double gmacs;
    std::int64_t params;
  } kSpec[] = {{"resnet18", 1.81, 11'689'512},     {"resnet50", 4.09, 25'557'032},
               {"mobilenet_v2", 0.30, 3'504'872},  {"efficientnet_b2", 1.09, 9'109'994},
               {"inception_v3", 5.71, 27'161'264}, {"densenet121", 2.83, 7'978'856}};
  for (const auto& s : kSpec) {
    const nlohmann::json m = zoo_entry(s.id);
    EXPECT_DOUBLE_EQ(m["published_gmacs"].get<double>(), s.gmacs) << s.id;
    EXPECT_EQ(m["params"].get<std::int64_t>(), s.params) << s.id;
  }
}

class ZooModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooModelTest, MatchesPublishedMacsAndParams) {
  const std::string id = GetParam();
  const nlohmann::json m = zoo_entry(id);
  ASSERT_FALSE(m.is_null());
  const auto dir = test::zoo_dir();
  const auto file = dir / (id + ".pt");
  ASSERT_TRUE(std::filesystem::exists(file))
      << file << " is missing: export the zoo first with scripts/export-zoo.sh "
      << "(FLEETML_ZOO_DIR=" << dir << ")";

  const model::ModelProfile p =
      characterization::characterize(file, m["input_shape"].get<model::Shape>());
  EXPECT_EQ(p.params, m["params"].get<std::int64_t>());
  EXPECT_EQ(p.flops, 2 * p.macs);
  EXPECT_GT(p.depth, 0);
  EXPECT_FALSE(p.layers.empty());
  if (m.contains("published_gmacs")) {
    const double published = m["published_gmacs"].get<double>();
    const double tolerance = std::max(0.02 * published, 0.005);  // two printed decimals
    EXPECT_NEAR(static_cast<double>(p.macs) / 1e9, published, tolerance) << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooModelTest,
                         ::testing::Values("alexnet", "densenet121", "efficientnet_b2", "googlenet",
                                           "inception_v3", "lenet5", "mnasnet1_0", "mobilenet_v2",
                                           "mobilenet_v3_large", "mobilenet_v3_small",
                                           "regnet_x_16gf", "resnet101", "resnet152", "resnet18",
                                           "resnet34", "resnet50", "vgg19_bn"));

}  // namespace
}  // namespace fleetml
