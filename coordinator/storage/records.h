#pragma once

// Plain values the coordinator's database stores and returns (see database.h for the
// operations). Times are milliseconds since the Unix epoch in the coordinator's Clock; those
// named *received* or *created* are stamped by the Database, not by the caller.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "schemas/fleet.pb.h"
#include "shared/model/model_profile.h"

namespace fleetml::storage {

// Vehicle -> coordinator message kinds, each with its own sequence number stream.
enum class MessageKind { kCapability, kStatus, kLink, kFetch, kReport };

// "capability", "status", "link", "fetch", "report": the names stored in the database.
std::string_view to_string(MessageKind kind);

// What the coordinator knows about one vehicle. A row appears with the first message stored
// for the vehicle (capability, status, link samples, report, ...).
struct VehicleRecord {
  std::string vehicle_id;
  std::optional<v1::Capability> capability;  // latest saved, none before the first
  std::uint64_t capability_seq = 0;
  std::string device_key;               // of the latest capability, "" before the first
  std::int64_t capability_unix_ms = 0;  // when the latest capability was received
  std::optional<v1::Status> status;     // latest saved, none before the first
  bool online = false;                  // latest status says ONLINE
  // Latest message received from the vehicle itself (a broker-sent Last Will does not count);
  // 0 if none yet.
  std::int64_t last_seen_unix_ms = 0;
};

// One entry of a vehicle's capability history.
struct CapabilityRecord {
  v1::Capability capability;
  std::string device_key;
  std::int64_t received_unix_ms = 0;
};

// A model artifact to add to the catalog. The artifact's bytes live in the content store;
// the catalog keeps its sha256. Size and input shape are the profile's (size_bytes,
// input_shape).
struct ModelArtifact {
  std::string model_id;
  std::string sha256;   // lowercase hex of the whole artifact
  std::string task;     // e.g. "image-classification"
  double accuracy = 0;  // top-1 in [0, 1]
  model::ModelProfile profile;
};

// One version of a catalog model.
struct ModelVersion {
  ModelArtifact artifact;
  std::uint64_t version = 0;  // 1, 2, ... per model id
  v1::Manifest manifest;      // signed, as published
  std::int64_t created_unix_ms = 0;
};

// One measurement from a vehicle report, as the estimators consume it.
struct MeasurementRecord {
  std::string vehicle_id;
  std::string device_key;
  std::string model_id;
  std::uint64_t model_version = 0;
  std::uint32_t batch = 1;
  std::uint32_t threads = 1;
  bool optimized = true;
  double p50_ms = 0;
  double p95_ms = 0;
  double mean_ms = 0;
  double peak_rss_mb = 0;
  double energy_j = 0;  // per inference call, 0 when not measurable
  std::uint64_t download_bytes = 0;
  double download_s = 0;
  std::int64_t received_unix_ms = 0;  // stamped by add_measurement; ignored on input

  bool operator==(const MeasurementRecord&) const = default;
};

// One assignment as published.
struct AssignmentRecord {
  std::string vehicle_id;
  std::uint64_t seq = 0;
  v1::Assignment assignment;  // signed
  std::string json;           // the same, as published on .../assignment/json
  std::int64_t created_unix_ms = 0;
};

// One operator event.
struct EventRecord {
  std::int64_t id = 0;  // grows with every event
  std::int64_t unix_ms = 0;
  std::string type;        // e.g. "assignment_changed", "deadline_miss", "vehicle_offline"
  std::string vehicle_id;  // "" for fleet-wide events
  nlohmann::json detail;
};

// One raw report, kept for audit.
struct ReportRecord {
  std::int64_t id = 0;
  std::int64_t received_unix_ms = 0;
  v1::Report report;
};

}  // namespace fleetml::storage
