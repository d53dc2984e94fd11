#include "tests/support/coordinator_process.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "shared/crypto/key_dir.h"
#include "tests/support/test_env.h"

namespace fleetml::test {

CoordinatorProcess::CoordinatorProcess(std::string broker_uri, std::filesystem::path dir,
                                       std::vector<std::string> extra_args)
    : broker_uri_(std::move(broker_uri)),
      dir_(std::move(dir)),
      keys_(dir_ / "keys"),
      extra_args_(std::move(extra_args)) {
  std::filesystem::create_directories(dir_);
  if (!std::filesystem::exists(keys_ / "release.key")) crypto::init_keys(keys_);
  const auto trust = trust_dir();
  std::filesystem::create_directories(trust);
  for (const char* name : {"release.pub", "coordinator.pub"}) {
    std::filesystem::copy_file(keys_ / name, trust / name,
                               std::filesystem::copy_options::overwrite_existing);
  }
}

CoordinatorProcess::~CoordinatorProcess() = default;

std::filesystem::path CoordinatorProcess::trust_dir() const { return dir_ / "trust"; }

void CoordinatorProcess::start() {
  std::vector<std::string> args = {"--broker", broker_uri_,    "--data-dir",  data_dir().string(),
                                   "--keys",   keys_.string(), "--log-level", "debug"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  ChildProcess::Options options;
  options.log_path = log_path();
  const auto logged_before =
      std::filesystem::exists(log_path()) ? std::filesystem::file_size(log_path()) : 0;
  process_ = std::make_unique<ChildProcess>(bin_path("fleet-coordinator"), args, options);
  // Ready once it logged "coordinator started" (subscribed): operator requests sent earlier
  // would reach nobody.
  const bool ready = wait_until(
      [&] {
        std::ifstream in(log_path());
        in.seekg(static_cast<std::streamoff>(logged_before));
        std::stringstream text;
        text << in.rdbuf();
        return text.str().find("coordinator started") != std::string::npos || !process_->running();
      },
      std::chrono::seconds(60), std::chrono::milliseconds(20));
  ASSERT_TRUE(ready && process_->running())
      << "fleet-coordinator did not start; log " << log_path();
}

void CoordinatorProcess::stop() {
  if (!process_) return;
  const ExitStatus status = process_->stop(std::chrono::seconds(10));
  EXPECT_TRUE(status.success()) << "fleet-coordinator ended with " << status.describe() << "; log "
                                << log_path();
  process_.reset();
}

void CoordinatorProcess::kill() {
  if (process_) process_->kill();
  process_.reset();
}

bool CoordinatorProcess::running() { return process_ && process_->running(); }

std::string CoordinatorProcess::fleetctl(std::vector<std::string> args) const {
  static int calls = 0;
  const auto output = dir_ / ("fleetctl-" + std::to_string(++calls) + ".out");
  args.push_back("--broker");
  args.push_back(broker_uri_);
  ChildProcess::Options options;
  options.log_path = output;
  ChildProcess process(bin_path("fleetctl"), args, options);
  const auto status = process.wait(std::chrono::seconds(120));
  std::ifstream in(output);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(status && status->success())
      << "fleetctl " << args.at(0) << " " << (status ? status->describe() : "timed out") << ":\n"
      << text.str();
  return text.str();
}

void CoordinatorProcess::register_zoo_model(const std::string& id) const {
  std::ifstream in(source_dir() / "data" / "zoo.json");
  const auto zoo = nlohmann::json::parse(in);
  for (const auto& m : zoo.at("models")) {
    if (m.at("id") != id) continue;
    std::string shape;
    for (const auto& d : m.at("input_shape")) {
      if (!shape.empty()) shape += 'x';
      shape += std::to_string(d.get<int>());
    }
    fleetctl({"models", "add", (zoo_dir() / (id + ".pt")).string(), "--id", id, "--task",
              m.at("task").get<std::string>(), "--top1", std::to_string(m.at("top1").get<double>()),
              "--input", shape});
    return;
  }
  throw Error("no zoo model " + id + " in data/zoo.json");
}

}  // namespace fleetml::test
