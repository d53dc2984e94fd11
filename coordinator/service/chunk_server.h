#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "coordinator/catalog/catalog.h"
#include "schemas/fleet.pb.h"
#include "shared/delivery/download.h"
#include "shared/messages/topics.h"
#include "shared/transport/mqtt_client.h"

namespace fleetml::coordinator {

// Serves artifact chunks for FetchRequests on its own thread and its own MQTT connection (so
// control messages never queue behind artifact bytes). Fair: vehicles with requests waiting
// are served round-robin, one block each per round. Bounded: at most `max_queued_bytes` of
// chunks wait in the MQTT client at a time, and at most `max_requests_per_vehicle` requests
// per vehicle are kept (a vehicle asks for a window of a few blocks; more is a misbehaving
// or replaying client, and the oldest are dropped).
class ChunkServer {
 public:
  struct Options {
    std::uint64_t max_queued_bytes = 16u << 20;
    std::size_t max_requests_per_vehicle = delivery::kMaxWindowBlocks;
  };
  struct Stats {
    std::uint64_t requests = 0;
    std::uint64_t chunks = 0;
    std::uint64_t bytes = 0;
    std::uint64_t errors = 0;  // chunks answered with an error (unknown version, ...)
  };

  ChunkServer(const catalog::Catalog& catalog, transport::MqttClient& bulk,
              const messages::Topics& topics, Options options);
  ~ChunkServer();

  // Queues a request that passed validation and the seq check. Thread-safe, non-blocking.
  void enqueue(const std::string& vehicle_id, v1::FetchRequest request);

  void start();
  void stop();
  Stats stats() const;

 private:
  void loop();
  void wait_for_room(std::unique_lock<std::mutex>& lock);

  const catalog::Catalog& catalog_;
  transport::MqttClient& bulk_;
  const messages::Topics& topics_;
  Options options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::deque<v1::FetchRequest>> queues_;
  std::string cursor_;  // round-robin position: the last vehicle served
  bool stopping_ = false;
  Stats stats_;
  std::thread thread_;
};

}  // namespace fleetml::coordinator
