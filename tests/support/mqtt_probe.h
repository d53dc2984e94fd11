#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shared/transport/mqtt_client.h"

namespace fleetml::test {

// Watches a broker like an operator would: subscribes to filters and records every message
// it receives, in order, so a test can wait for what the system under test publishes.
class MqttProbe {
 public:
  using Match = std::function<bool(const transport::Message&)>;

  // Connects a fresh client (clean start, no persistent session) to `broker_uri` and
  // subscribes to `filters` at `qos`; returns once the broker acknowledged them. Throws
  // fleetml::Error when that fails.
  MqttProbe(const std::string& broker_uri, const std::vector<std::string>& filters, int qos = 1);

  // Everything received so far, in arrival order.
  std::vector<transport::Message> messages() const;
  // Received so far on exactly `topic`.
  std::vector<transport::Message> messages_on(const std::string& topic) const;
  std::size_t count() const;
  void clear();

  // Waits until at least `n` messages arrived in total (since the start or clear()).
  bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout);
  // The first message on `topic` (already received or arriving within `timeout`) that
  // satisfies `match` (any when null).
  std::optional<transport::Message> wait_for(const std::string& topic,
                                             std::chrono::milliseconds timeout,
                                             const Match& match = nullptr);

  // What the broker retains on `topic`, as a newly subscribing client would see it: polls
  // with fresh subscriptions (of a second client, connected on first use) until one delivers
  // a retained message satisfying `match` (any when null), or `timeout` passes.
  std::optional<transport::Message> wait_for_retained(const std::string& topic,
                                                      std::chrono::milliseconds timeout,
                                                      const Match& match = nullptr);

  transport::MqttClient& client() { return *client_; }

 private:
  std::string broker_uri_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<transport::Message> messages_;
  std::unique_ptr<transport::MqttClient> reader_;  // for wait_for_retained
  std::unique_ptr<transport::MqttClient> client_;  // last: stopped before the rest goes
};

// A unique client id for a test helper: "<what>-<pid>-<counter>".
std::string unique_client_id(const std::string& what);

}  // namespace fleetml::test
