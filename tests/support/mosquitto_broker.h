#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/test_env.h"

namespace fleetml::test {

// A private mosquitto for one test, on a free port of 127.0.0.1 only. Its config, log and
// persistence database live in a per-test directory. Unlike mosquitto's defaults it never
// drops queued messages for slow or offline clients (max_queued_messages 0). When the test
// runs as root, mosquitto is told to stay that user (`user` in the config) instead of
// dropping to `mosquitto`, so it can write its files in the test's directory.
class MosquittoBroker {
 public:
  struct Options {
    // Keep retained messages, sessions and queued messages across stop()/restart() (saved
    // when mosquitto stops cleanly; kill() loses what was not saved yet).
    bool persistence = false;
    // More mosquitto.conf lines, applied to the whole broker (e.g. "max_inflight_messages 5").
    std::vector<std::string> extra_config;
  };

  // Starts the broker and waits until it accepts connections; throws fleetml::Error with the
  // end of mosquitto's log when it does not come up within 10 s.
  MosquittoBroker();
  explicit MosquittoBroker(Options options);
  // Stops the broker. When the test failed, prints the end of the broker's log first.
  ~MosquittoBroker();
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  int port() const { return port_; }
  // "mqtt://127.0.0.1:<port>".
  std::string uri() const;
  bool running() const;
  // The broker's process id while it runs (for benchmarks that account its CPU time).
  pid_t pid() const;

  // Starts again on the same port (after stop() or kill()).
  void start();
  // SIGTERM and wait (mosquitto saves its database when persistent).
  void stop();
  // kill -9: clients see their connections drop, nothing is saved.
  void kill();
  void restart() {
    stop();
    start();
  }

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path log_path() const { return dir_ / "mosquitto.log"; }
  std::string log() const;

 private:
  void write_config() const;
  bool try_start();

  Options options_;
  TestDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace fleetml::test
