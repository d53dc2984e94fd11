#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/repeated_ptr_field.h>
#include <nlohmann/json.hpp>

#include "coordinator/storage/records.h"
#include "schemas/fleet.pb.h"
#include "shared/common/clock.h"

namespace fleetml::storage {

namespace internal {
class Connection;
}

// The coordinator's SQLite database: everything it must still know after a restart.
//
// Durability. The file is in WAL mode. Every operation below is one transaction and is
// committed when it returns; transaction() batches several into one commit. With the default
// Synchronous::kNormal a commit survives the coordinator being killed (kill -9, crash) but an
// OS crash or power loss may lose the last commits (never corrupting the file: it reopens at an
// earlier consistent state). Synchronous::kFull also survives that, at the cost of an fsync per
// commit.
//
// Bad input is rejected with fleetml::Error before anything is written; an operation that fails
// half-way (e.g. the disk is full) leaves no partial rows and the Database stays usable.
//
// Threading. A Database is safe to use from any number of threads: it owns one connection and a
// (recursive) mutex that every operation holds while it runs, so operations are serialized; a
// transaction() holds it for its whole body. Other processes (or other Database objects) may open
// the same file; SQLite's locking and the busy timeout arbitrate between them.
class Database {
 public:
  enum class Synchronous {
    kNormal,  // survives a process crash; an OS crash may lose the last commits
    kFull,    // also survives an OS crash; one fsync per commit
  };

  struct Options {
    Synchronous synchronous = Synchronous::kNormal;
    // How long an operation waits for another connection's write lock before failing.
    std::chrono::milliseconds busy_timeout{5000};
    // Link samples kept per vehicle (newest by start time); older ones are deleted as new ones
    // arrive. >= 1.
    std::size_t link_samples_per_vehicle = 1000;
    // Capability history entries kept per vehicle (newest); >= 1.
    std::size_t capability_history_per_vehicle = 100;
    // Upper bound of the database file (rounded down to whole pages); writes that would grow it
    // beyond fail as a full disk does. 0: no bound.
    std::int64_t max_size_bytes = 0;
  };

  // Opens or creates the database at `path` (and its parent directories), applies pending
  // schema migrations, and stamps records with `clock`, which must outlive the Database. Throws
  // fleetml::Error if the file cannot be opened, is not a fleetml database of a version this
  // code knows, or the options are invalid.
  Database(const std::filesystem::path& path, const Clock& clock, Options options);
  Database(const std::filesystem::path& path, const Clock& clock);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::filesystem::path& path() const;

  // Schema version of the file (PRAGMA user_version).
  int schema_version();

  // Runs `body` as one transaction: the operations it calls commit together when it returns,
  // or not at all if it throws (the exception propagates). Nested calls are savepoints. An
  // operation that throws inside `body` has undone only its own writes, so `body` may catch
  // the error and go on, except after errors that make SQLite abandon the whole transaction
  // (full disk, I/O error): then later operations and the commit throw fleetml::Error too.
  // The database lock is held throughout: keep `body` short, and never make it wait for
  // another thread that uses this Database.
  void transaction(const std::function<void()>& body);

  // SQLite's integrity check: "ok", or the problems found, one per line.
  std::string integrity_check();

  // --- Vehicles --------------------------------------------------------------------------------

  // If its seq is greater than the last accepted capability seq of the vehicle (or the first),
  // records it as accepted (as accept_seq(kCapability) does), makes `capability` the vehicle's
  // latest (device key and receive time included) and appends it to its history, trimmed to
  // Options::capability_history_per_vehicle, and returns true; returns false and changes
  // nothing for a stale or duplicate seq. One operation, so there is no accept_seq call to make
  // for capabilities. Throws fleetml::Error on an empty vehicle id or device key.
  bool save_capability(const v1::Capability& capability, std::string_view device_key);

  // Makes `status` the vehicle's latest; online is state == ONLINE. Updates last seen unless
  // it is a Last Will (sent by the broker, not the vehicle). Throws on an empty vehicle id.
  void save_status(const v1::Status& status);

  std::optional<VehicleRecord> vehicle(std::string_view vehicle_id);
  // All vehicles, by id.
  std::vector<VehicleRecord> vehicles();

  // The vehicle's last `limit` capabilities, newest first.
  std::vector<CapabilityRecord> capability_history(std::string_view vehicle_id, std::size_t limit);

  // Last sequence number accepted from the vehicle for `kind`; none before the first.
  std::optional<std::uint64_t> last_seq(std::string_view vehicle_id, MessageKind kind);

  // Records `seq` as the last accepted one and returns true if it is greater than the last
  // accepted (or the first); returns false and changes nothing for a stale or duplicate seq.
  // Call it in the same transaction() as the writes the message causes, so a message is
  // either fully handled or can be handled again after a crash. (save_capability does both for
  // a capability.)
  bool accept_seq(std::string_view vehicle_id, MessageKind kind, std::uint64_t seq);

  // --- Link samples ----------------------------------------------------------------------------

  // Appends the vehicle's samples, then deletes its oldest beyond
  // Options::link_samples_per_vehicle. All or nothing: throws fleetml::Error on an empty
  // vehicle id or a sample with a non-positive duration or a negative or non-finite rate.
  void append_link_samples(std::string_view vehicle_id,
                           const google::protobuf::RepeatedPtrField<v1::LinkSample>& samples);

  // The vehicle's samples starting at or after `since_unix_ms`, oldest first.
  std::vector<v1::LinkSample> link_samples_since(std::string_view vehicle_id,
                                                 std::int64_t since_unix_ms);
  // The vehicle's newest `count` samples (by start time), oldest first.
  std::vector<v1::LinkSample> recent_link_samples(std::string_view vehicle_id, std::size_t count);

  // --- Model catalog ---------------------------------------------------------------------------

  // Adds the next version of `artifact.model_id` (1 for a new id) in one transaction: `sign` is
  // called with the new version number while the database lock is held and returns the signed
  // Manifest to store. Returns the stored version. Throws fleetml::Error, storing nothing, on an
  // invalid artifact (empty id or task, sha256 not 64 lowercase hex digits, accuracy outside
  // [0, 1], non-positive size or input dimension) or a manifest whose body disagrees with it
  // (model id, version, sha256, size, task, accuracy, input shape); exceptions from `sign`
  // propagate.
  ModelVersion add_model_version(const ModelArtifact& artifact,
                                 const std::function<v1::Manifest(std::uint64_t version)>& sign);

  std::optional<ModelVersion> model_version(std::string_view model_id, std::uint64_t version);
  std::optional<ModelVersion> latest_model_version(std::string_view model_id);
  // The latest version of every model, by model id.
  std::vector<ModelVersion> latest_model_versions();
  // Every version of `model_id`, oldest first.
  std::vector<ModelVersion> model_versions(std::string_view model_id);

  // --- Measurements ----------------------------------------------------------------------------

  // Stores a measurement, stamping received_unix_ms. Throws fleetml::Error on empty ids or key,
  // version 0, batch or threads 0, non-positive or non-finite latencies, p95 < p50, or negative
  // or non-finite memory, energy or download figures.
  void add_measurement(const MeasurementRecord& measurement);

  // In the order they were stored.
  std::vector<MeasurementRecord> measurements_for_device(std::string_view device_key);
  std::vector<MeasurementRecord> measurements_for(std::string_view device_key,
                                                  std::string_view model_id);
  std::vector<MeasurementRecord> all_measurements();

  // --- Assignments -----------------------------------------------------------------------------

  // Reserves and returns the vehicle's next assignment sequence number: 1, 2, ... never reused,
  // also across restarts (a reserved number that is never saved is skipped).
  std::uint64_t next_assignment_seq(std::string_view vehicle_id);

  // Stores a signed assignment and its JSON. Its body names the vehicle and seq, which must have
  // been reserved with next_assignment_seq and be greater than the vehicle's latest saved one.
  // Throws fleetml::Error otherwise, or if the body does not parse or the JSON is not JSON.
  void save_assignment(const v1::Assignment& assignment, std::string_view json);

  std::optional<AssignmentRecord> latest_assignment(std::string_view vehicle_id);
  // The latest assignment of every vehicle that has one, by vehicle id.
  std::vector<AssignmentRecord> latest_assignments();

  // --- Events ----------------------------------------------------------------------------------

  // Appends an operator event stamped now and returns its id. `vehicle_id` may be "" (a
  // fleet-wide event) and need not be a known vehicle. Throws fleetml::Error on an empty type.
  std::int64_t append_event(std::string_view type, std::string_view vehicle_id,
                            const nlohmann::json& detail);

  // The newest `count` events (of `type`), oldest first.
  std::vector<EventRecord> recent_events(std::size_t count);
  std::vector<EventRecord> recent_events_of_type(std::string_view type, std::size_t count);

  // --- Estimator state -------------------------------------------------------------------------

  // Per-device-key correction of an estimator (its own JSON document).
  std::optional<nlohmann::json> device_correction(std::string_view device_key);
  void put_device_correction(std::string_view device_key, const nlohmann::json& correction);
  std::map<std::string, nlohmann::json> device_corrections();

  // Named opaque bytes, e.g. a trained regressor. put_blob replaces any previous value.
  std::optional<std::string> blob(std::string_view name);
  void put_blob(std::string_view name, std::string_view bytes);

  // --- Reports ---------------------------------------------------------------------------------

  // Stores a raw report for audit and returns its id. Throws fleetml::Error on an empty
  // vehicle id.
  std::int64_t save_report(const v1::Report& report);

  // The vehicle's newest `count` reports, oldest first.
  std::vector<ReportRecord> recent_reports(std::string_view vehicle_id, std::size_t count);

 private:
  void ensure_vehicle(std::string_view vehicle_id);
  void touch_vehicle(std::string_view vehicle_id);

  const Clock& clock_;
  Options options_;
  std::unique_ptr<internal::Connection> connection_;
};

}  // namespace fleetml::storage
