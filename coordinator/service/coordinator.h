#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/catalog/catalog.h"
#include "coordinator/catalog/upload.h"
#include "coordinator/service/chunk_server.h"
#include "coordinator/service/event_log.h"
#include "coordinator/service/latency_model.h"
#include "coordinator/storage/database.h"
#include "schemas/fleet.pb.h"
#include "shared/assignment/planner.h"
#include "shared/common/clock.h"
#include "shared/crypto/key_dir.h"
#include "shared/delivery/content_store.h"
#include "shared/messages/topics.h"
#include "shared/transport/mqtt_client.h"

namespace fleetml::coordinator {

struct CoordinatorOptions {
  // Broker, credentials and TLS; client_id names the control session (persistent). The
  // chunk server uses "<client_id>-bulk".
  transport::ClientOptions mqtt;
  std::string prefix = std::string(messages::Topics::kDefaultPrefix);
  std::filesystem::path data_dir;  // fleet.db, store/, staging/
  std::filesystem::path keys_dir;  // release.key, coordinator.key (fleetctl keys init)
  assignment::PlannerOptions planner;
  std::chrono::seconds assignment_ttl{std::chrono::hours(24)};
  std::chrono::seconds link_history{600};  // link samples kept per vehicle for prediction
  catalog::Catalog::Options catalog;
  ChunkServer::Options chunks;
  storage::Database::Options database;
  std::chrono::milliseconds connect_timeout{10'000};
};

// The cloud side of fleetml: ingests what vehicles report, keeps the catalog, plans and
// publishes signed assignments, serves artifacts and tells operators what happens
// (docs/protocol.md describes the behaviour).
//
// Threads: Paho's callback thread only decodes topics and queues work; an ingest thread
// validates and stores inbound messages in batches (one SQLite transaction each) and applies
// them; a planning thread re-plans vehicles whose inputs changed; a catalog thread handles
// operator requests (uploads, listing); the chunk server has its own thread and connection.
class Coordinator {
 public:
  struct Stats {
    std::uint64_t ingested = 0;   // inbound messages stored and applied
    std::uint64_t rejected = 0;   // malformed, invalid or from a bad topic
    std::uint64_t stale = 0;      // seq not newer than the last accepted
    std::uint64_t plans = 0;      // vehicles planned
    std::uint64_t published = 0;  // assignments published
    // Work not done yet: inbound messages received but not yet stored and applied, and
    // vehicles waiting to be (or being) re-planned. Both 0: everything received so far is
    // committed and its effect on assignments is published.
    std::uint64_t pending_inbound = 0;
    std::uint64_t pending_plans = 0;
    ChunkServer::Stats chunks;
  };

  // Opens the database, content store and keys (throws fleetml::Error naming what is wrong).
  // `clock` and `latency` must outlive the Coordinator.
  Coordinator(CoordinatorOptions options, const Clock& clock, LatencyModel& latency);
  ~Coordinator();

  // Loads the fleet state from the database, connects, subscribes, starts the threads and
  // re-plans every known vehicle (publishing only what changed). When the broker is
  // unreachable: with `keep_trying`, retries while it returns true (1 s doubling to 30 s, so a
  // coordinator may start before its broker) and throws once it returns false; without,
  // throws fleetml::Error with a one-line reason at once.
  void start(const std::function<bool()>& keep_trying = nullptr);
  void stop();

  Stats stats() const;
  storage::Database& database() { return *db_; }
  catalog::Catalog& catalog() { return *catalog_; }

 private:
  struct Inbound {
    messages::TopicKind kind;
    std::string vehicle_id;
    std::string topic;
    std::string payload;  // or, when bad_topic, the reason for a fetch already refused
    bool bad_topic = false;
  };
  // Capability and current assignment are shared, immutable snapshots: the planner takes them
  // without copying the messages (it plans every vehicle whose capability changed).
  using CapabilityPtr = std::shared_ptr<const v1::Capability>;
  struct VehicleState {
    CapabilityPtr capability;
    std::string device_key;
    bool online = false;
    std::uint64_t session = 0;  // newest Status.session seen (see docs/protocol.md)
    std::deque<v1::LinkSample> samples;
    std::shared_ptr<const v1::AssignmentBody> current;  // latest published
    v1::Assignment current_signed;
    std::string current_json;
  };
  class IngestBatch;

  void on_message(const transport::Message& message);
  void on_fetch(const std::string& vehicle_id, const transport::Message& message);
  void load_state();
  void ingest_loop();
  void ingest(const Inbound& message, IngestBatch& effects);
  void reject(const Inbound& message, const std::string& reason, IngestBatch& effects);
  void on_report(const std::string& vehicle_id, const v1::Report& report,
                 const std::optional<storage::MeasurementRecord>& measured,
                 const CapabilityPtr& capability);
  void plan_loop();
  void catalog_loop();
  void handle_catalog_request(const v1::CatalogRequest& request);
  void plan_vehicle(const std::string& vehicle_id,
                    const std::vector<assignment::CatalogEntry>& catalog, bool force);
  void publish_assignment(const std::string& vehicle_id, const VehicleState& state);
  void republish_retained();
  // Queues the vehicles for re-planning (one wake-up of the planning thread).
  void mark_dirty(const std::vector<std::string>& vehicle_ids);
  void mark_all_dirty();
  nlohmann::json catalog_json() const;

  CoordinatorOptions options_;
  const Clock& clock_;
  LatencyModel& latency_;
  messages::Topics topics_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<delivery::ContentStore> store_;
  crypto::SigningKeys keys_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<transport::MqttClient> control_;
  std::unique_ptr<transport::MqttClient> bulk_;
  std::unique_ptr<EventLog> events_;
  std::unique_ptr<ChunkServer> chunks_;

  // Inbound queue (Paho thread -> ingest thread).
  std::mutex inbound_mutex_;
  std::condition_variable inbound_wake_;
  std::deque<Inbound> inbound_;

  // Fleet state (ingest and planning threads).
  mutable std::mutex state_mutex_;
  std::map<std::string, VehicleState> vehicles_;

  // Last fetch seq per vehicle, in memory only: fetches are not stored (Paho thread).
  std::mutex fetch_mutex_;
  std::map<std::string, std::uint64_t> fetch_seqs_;

  // Vehicles to re-plan (ingest/catalog threads -> planning thread); `force` publishes even
  // when the choices are unchanged (expiry refresh).
  mutable std::mutex dirty_mutex_;
  std::condition_variable dirty_wake_;
  std::map<std::string, bool> dirty_;
  std::size_t planning_ = 0;  // vehicles taken from dirty_ whose planning has not ended
  bool republish_ = false;

  // Operator requests (Paho thread -> catalog thread).
  std::mutex catalog_mutex_;
  std::condition_variable catalog_wake_;
  std::deque<v1::CatalogRequest> catalog_requests_;
  std::unique_ptr<catalog::UploadAssembler> uploads_;

  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;

  std::atomic<std::uint64_t> ingested_{0}, rejected_{0}, stale_{0}, plans_{0}, published_{0};
  // Inbound messages queued for the ingest thread and not yet applied (after commit).
  std::atomic<std::uint64_t> unapplied_{0};
};

}  // namespace fleetml::coordinator
