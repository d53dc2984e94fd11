// Issue 5's acceptance: `fleet-sim run` with 20 simulated vehicles against a real mosquitto
// and a real fleet-coordinator at high speed; the report accounts for every vehicle.

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/child_process.h"
#include "tests/support/coordinator_process.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/test_env.h"

namespace fleetml::test {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SimRun, TwentyVehiclesAgainstARealCoordinator) {
  const TestDir test_dir;  // unique per process: worktrees may run this suite at once
  const fs::path& dir = test_dir.path();
  MosquittoBroker broker;
  const std::string speed = "20";
  // Both processes get the same origin, so their scaled clocks agree.
  const std::string origin = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  CoordinatorProcess coordinator(broker.uri(), dir / "coordinator",
                                 {"--speed", speed, "--time-origin-ms", origin});
  coordinator.start();
  for (const char* id : {"mobilenet_v3_small", "mobilenet_v2", "resnet18"}) {
    coordinator.register_zoo_model(id);
  }

  const fs::path report = dir / "report";
  ChildProcess::Options options;
  options.log_path = dir / "fleet-sim.log";
  ChildProcess sim(bin_path("fleet-sim"),
                   {"run",
                    "--vehicles",
                    "20",
                    "--mix",
                    "rpi4:40,rpi5:30,jetson-nano-cpu:20,pc-i9:10",
                    "--traces",
                    (source_dir() / "data" / "traces").string(),
                    "--profiles",
                    (source_dir() / "simulation" / "profiles").string(),
                    "--zoo",
                    zoo_dir().string(),
                    "--trust",
                    coordinator.trust_dir().string(),
                    "--speed",
                    speed,
                    "--time-origin-ms",
                    origin,
                    "--duration",
                    "3000",
                    "--seed",
                    "3",
                    "--ramp",  // power-on spread over the first minute
                    "60",
                    "--app",
                    "front-camera:150:5:1",
                    "--until-settled",
                    "--report",
                    report.string(),
                    "--broker",
                    broker.uri()},
                   options);
  const auto status = sim.wait(std::chrono::seconds(240));
  ASSERT_TRUE(status && status->success())
      << "fleet-sim run " << (status ? status->describe() : "timed out") << ":\n"
      << read_text(dir / "fleet-sim.log");
  coordinator.stop();

  const auto json = nlohmann::json::parse(read_text(report / "report.json"));
  EXPECT_TRUE(json.at("settled").get<bool>()) << read_text(dir / "fleet-sim.log");
  EXPECT_NE(read_text(dir / "fleet-sim.log").find("keeps up: "), std::string::npos);
  ASSERT_EQ(json.at("vehicles").size(), 20u);
  int assigned = 0;
  double last_join_s = 0;
  for (const auto& v : json.at("vehicles")) {
    EXPECT_LT(v.at("join_s").get<double>(), 60) << v.dump();
    last_join_s = std::max(last_join_s, v.at("join_s").get<double>());
    ASSERT_EQ(v.at("applications").size(), 1u) << v.dump();
    const auto& app = v.at("applications")[0];
    if (app.at("infeasible").get<bool>()) {
      EXPECT_FALSE(app.at("reason").get<std::string>().empty()) << v.dump();
      continue;
    }
    ++assigned;
    EXPECT_FALSE(app.at("model").get<std::string>().empty()) << v.dump();
    EXPECT_TRUE(app.at("installed").get<bool>()) << v.dump();
    EXPECT_GT(app.at("actual_download_s").get<double>(), 0) << v.dump();
    // The trace link alone is a lower bound: the chunks were serialized on it from the
    // download's start, and round trips only add to that.
    EXPECT_GT(app.at("replay_download_s").get<double>(), 0) << v.dump();
    EXPECT_GE(app.at("actual_download_s").get<double>(),
              0.99 * app.at("replay_download_s").get<double>())
        << v.dump();
    EXPECT_GT(app.at("predicted_download_s").get<double>(), 0) << v.dump();
    EXPECT_GT(app.at("true_p95_ms").get<double>(), 0) << v.dump();
  }
  EXPECT_GT(assigned, 0);
  EXPECT_GT(last_join_s, 10);
  const std::string summary = read_text(report / "summary.txt");
  for (const char* profile : {"rpi4", "rpi5", "jetson-nano-cpu", "pc-i9"}) {
    EXPECT_NE(summary.find(profile), std::string::npos) << summary;
  }
  EXPECT_TRUE(fs::exists(report / "plots.gp"));
  EXPECT_TRUE(fs::exists(report / "assignment-mix.dat"));
}

}  // namespace
}  // namespace fleetml::test
