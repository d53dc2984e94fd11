#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "coordinator/storage/database.h"
#include "shared/messages/topics.h"
#include "shared/transport/mqtt_client.h"

namespace fleetml::coordinator {

// Operator events: stored in the database and published as JSON on ops/events (QoS 1):
//   {"id": 17, "unix_ms": ..., "type": "deadline_miss", "vehicle": "rpi4-001", "detail": {...}}
// A vehicle that floods the coordinator with bad input cannot flood the event log: events of
// one type for one vehicle are kept to one per `min_interval`; the next one that passes says
// how many were suppressed. Thread-safe.
class EventLog {
 public:
  EventLog(storage::Database& db, transport::MqttClient& mqtt, const messages::Topics& topics,
           const Clock& clock, std::chrono::milliseconds min_interval = std::chrono::seconds(1));

  // Stores and publishes an event. Returns false when rate-limited. Storage failures are
  // logged and the event is still published (operators should hear about a full disk).
  bool emit(std::string_view type, std::string_view vehicle_id, nlohmann::json detail);

 private:
  storage::Database& db_;
  transport::MqttClient& mqtt_;
  const messages::Topics& topics_;
  const Clock& clock_;
  std::chrono::milliseconds min_interval_;
  std::mutex mutex_;
  struct Window {
    Clock::TimePoint last{};
    std::uint64_t suppressed = 0;
  };
  std::map<std::pair<std::string, std::string>, Window> windows_;
};

}  // namespace fleetml::coordinator
