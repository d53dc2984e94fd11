#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "schemas/fleet.pb.h"
#include "shared/messages/topics.h"
#include "shared/transport/mqtt_client.h"

namespace fleetml::cli {
class Args;
}

namespace fleetml::fleetctl {

// fleetctl's connection to the deployment's broker (the --broker/--prefix flags): a
// short-lived MQTT session with a client id of its own, so several operators never take
// each other's session over.
class OperatorSession {
 public:
  // Connects; throws fleetml::Error with a one-line reason when the broker is unreachable.
  explicit OperatorSession(const cli::Args& args);
  ~OperatorSession();

  const messages::Topics& topics() const { return topics_; }
  transport::MqttClient& client() { return *client_; }

  // Sends one catalog request to the coordinator and waits for its reply. Throws
  // fleetml::Error when no reply arrives within `timeout` (no coordinator running?).
  v1::CatalogReply call(v1::CatalogRequest request, std::chrono::milliseconds timeout);

 private:
  struct Replies;
  messages::Topics topics_;
  std::string client_id_;
  std::unique_ptr<transport::MqttClient> client_;
  std::unique_ptr<Replies> replies_;
  std::uint64_t next_request_ = 0;
};

}  // namespace fleetml::fleetctl
