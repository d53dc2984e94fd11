#include "vehicle_client/agent/agent_config.h"

#include <gtest/gtest.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "tests/support/test_env.h"

namespace fleetml::vehicle {
namespace {

TEST(AppSpecTest, ParsesTheShortForm) {
  const v1::Application app = parse_app_spec("front-camera:100:10:1");
  EXPECT_EQ(app.id(), "front-camera");
  EXPECT_DOUBLE_EQ(app.deadline_ms(), 100);
  EXPECT_DOUBLE_EQ(app.rate_hz(), 10);
  EXPECT_EQ(app.batch(), 1u);
  EXPECT_EQ(app.task(), "image-classification");
  EXPECT_EQ(std::vector<std::int64_t>(app.input_shape().begin(), app.input_shape().end()),
            (std::vector<std::int64_t>{1, 3, 224, 224}));
}

TEST(AppSpecTest, ParsesEveryField) {
  const v1::Application app = parse_app_spec("lane:50:20:4:0.7:60:detection:1x1x32x32");
  EXPECT_EQ(app.batch(), 4u);
  EXPECT_DOUBLE_EQ(app.min_accuracy(), 0.7);
  EXPECT_DOUBLE_EQ(app.download_budget_s(), 60);
  EXPECT_EQ(app.task(), "detection");
  EXPECT_EQ(app.input_shape_size(), 4);
  EXPECT_EQ(app.input_shape(1), 1);
}

TEST(AppSpecTest, RejectsMalformedSpecs) {
  for (const char* spec : {"cam", "cam:100:10", "cam:fast:10:1", "cam:100:10:0", "cam:100:10:1.5",
                           "cam:100:10:1:0:0:t:1xq", "cam:1:2:3:4:5:6:7:8"}) {
    EXPECT_THROW(parse_app_spec(spec), Error) << spec;
  }
}

TEST(AgentConfigTest, ConfigFileReplacesApplicationsAndLink) {
  test::TestDir dir;
  file::write_atomic(dir / "vehicle.json", R"({
    "applications": [{"id": "cam", "task": "image-classification", "input_shape": [1, 3, 8, 8],
                      "batch": 2, "deadline_ms": 40, "rate_hz": 5}],
    "network_type": "5G", "nominal_downlink_kbps": 66900})");
  AgentConfig config;
  config.vehicle_id = "car-1";
  config.data_dir = dir.path();
  config.applications.push_back(parse_app_spec("old:1:1:1"));
  load_config_file(dir / "vehicle.json", config);
  ASSERT_EQ(config.applications.size(), 1u);
  EXPECT_EQ(config.applications[0].id(), "cam");
  EXPECT_EQ(config.applications[0].batch(), 2u);
  EXPECT_EQ(config.network_type, "5G");
  EXPECT_DOUBLE_EQ(config.nominal_downlink_kbps, 66900);
  EXPECT_NO_THROW(check_config(config));
}

TEST(AgentConfigTest, CheckNamesTheFault) {
  AgentConfig config;
  config.vehicle_id = "car/1";
  config.data_dir = "/tmp";
  config.applications.push_back(parse_app_spec("cam:100:10:1"));
  EXPECT_THROW(check_config(config), Error);
  config.vehicle_id = "car-1";
  config.applications.push_back(parse_app_spec("cam:100:10:1"));
  try {
    check_config(config);
    ADD_FAILURE() << "duplicate application ids accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("applications"), std::string::npos) << e.what();
  }
}

// The coordinator keeps delivery::kMaxWindowBlocks pending requests per vehicle: a larger
// window would have its oldest requests dropped and time out, so it is refused at start.
TEST(AgentConfigTest, DownloadWindowWithinWhatTheCoordinatorKeeps) {
  AgentConfig config;
  config.vehicle_id = "car-1";
  config.data_dir = "/tmp";
  config.applications.push_back(parse_app_spec("cam:100:10:1"));
  config.download.window_blocks = delivery::kMaxWindowBlocks;
  EXPECT_NO_THROW(check_config(config));
  config.download.window_blocks = delivery::kMaxWindowBlocks + 1;
  EXPECT_THROW(check_config(config), Error);
  config.download.window_blocks = 0;
  EXPECT_THROW(check_config(config), Error);
}

}  // namespace
}  // namespace fleetml::vehicle
