#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace fleetml::test {

// A real fleet-coordinator process for integration tests, on a test's broker and directory:
// keys in <dir>/keys (created on first use), database and store in <dir>/data, its log in
// <dir>/coordinator.log. Models are registered the way an operator does, with fleetctl.
class CoordinatorProcess {
 public:
  CoordinatorProcess(std::string broker_uri, std::filesystem::path dir,
                     std::vector<std::string> extra_args = {});
  ~CoordinatorProcess();

  void start();
  // SIGTERM and wait; fails the test when it does not exit cleanly.
  void stop();
  void kill();
  bool running();

  const std::filesystem::path& keys_dir() const { return keys_; }
  // A vehicle trust directory with the two public keys (<dir>/trust).
  std::filesystem::path trust_dir() const;
  std::filesystem::path log_path() const { return dir_ / "coordinator.log"; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }

  // `fleetctl ARGS --broker URI`, to completion; returns its stdout+stderr, fails the test on
  // a non-zero exit.
  std::string fleetctl(std::vector<std::string> args) const;
  // Registers zoo model `id` (FLEETML_ZOO_DIR/<id>.pt) with its data/zoo.json metadata.
  void register_zoo_model(const std::string& id) const;

 private:
  std::string broker_uri_;
  std::filesystem::path dir_;
  std::filesystem::path keys_;
  std::vector<std::string> extra_args_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace fleetml::test
