#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "schemas/fleet.pb.h"
#include "shared/messages/topics.h"

namespace fleetml::fleetctl {

// What an operator sees of the fleet, rebuilt from the MQTT topics alone (retained
// capability, status, assignment; live link and report): the model behind `fleetctl watch`.
// Pure: fed messages, renders text or JSON. Display only — it does not verify signatures.
class FleetView {
 public:
  explicit FleetView(messages::Topics topics) : topics_(std::move(topics)) {}

  // Folds in one message; returns false when the topic or payload is not one it reads.
  bool apply(const std::string& topic, const std::string& payload);

  // One row per (vehicle, application): status, device, deadline, assigned model, predicted
  // bound vs measured p95, link, transfer progress.
  std::string table() const;
  nlohmann::json to_json() const;

  std::size_t vehicles() const { return vehicles_.size(); }

 private:
  struct Vehicle {
    std::optional<v1::Capability> capability;
    std::optional<v1::Status> status;
    std::optional<v1::AssignmentBody> assignment;
    std::optional<double> last_kbps;
    std::map<std::string, v1::Report> last_report;  // per application
  };
  messages::Topics topics_;
  std::map<std::string, Vehicle> vehicles_;
};

// `fleetctl explain`'s text for one assignment: each application's choice with its predicted
// figures and every rejected alternative with its reason.
std::string explain(const v1::AssignmentBody& body);

}  // namespace fleetml::fleetctl
