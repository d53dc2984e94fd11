#include "coordinator/storage/schema.h"

#include <array>
#include <string>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Transaction.h>

#include "shared/common/error.h"

namespace fleetml::storage::schema {
namespace {

// Migration i takes a file from user_version i to i + 1. Append new ones; never edit one that
// has shipped. Tables are STRICT so a wrongly typed value is an error, not a silent coercion.
// Every row that names a vehicle belongs to a `vehicles` row (created on first write), except
// events, which may name a vehicle the coordinator rejected.
//
// Versions 1 and 2 were written together; the split gives the upgrade path (an existing file
// with data, one version behind) a real test from the start.
constexpr std::array kMigrations = {
    // 1: vehicles, their sequence numbers and links; the model catalog.
    R"sql(
CREATE TABLE vehicles (
  vehicle_id TEXT PRIMARY KEY NOT NULL,
  capability BLOB,                 -- latest Capability, NULL until one arrives
  capability_seq INTEGER,
  capability_unix_ms INTEGER,      -- when it was received
  device_key TEXT,
  status BLOB,                     -- latest Status, NULL until one arrives
  online INTEGER NOT NULL DEFAULT 0,
  last_seen_unix_ms INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX vehicles_by_device_key ON vehicles(device_key);

CREATE TABLE capability_history (
  id INTEGER PRIMARY KEY,
  vehicle_id TEXT NOT NULL REFERENCES vehicles(vehicle_id),
  seq INTEGER NOT NULL,
  received_unix_ms INTEGER NOT NULL,
  device_key TEXT NOT NULL,
  capability BLOB NOT NULL
) STRICT;
CREATE INDEX capability_history_by_vehicle ON capability_history(vehicle_id, id);

CREATE TABLE accepted_seqs (
  vehicle_id TEXT NOT NULL REFERENCES vehicles(vehicle_id),
  kind TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (vehicle_id, kind)
) STRICT, WITHOUT ROWID;

CREATE TABLE link_samples (
  id INTEGER PRIMARY KEY,
  vehicle_id TEXT NOT NULL REFERENCES vehicles(vehicle_id),
  start_unix_ms INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  downlink_kbps REAL NOT NULL,
  network TEXT NOT NULL,
  received_unix_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX link_samples_by_vehicle_time ON link_samples(vehicle_id, start_unix_ms);

CREATE TABLE model_versions (
  model_id TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
  size_bytes INTEGER NOT NULL CHECK (size_bytes > 0),
  task TEXT NOT NULL,
  accuracy REAL NOT NULL CHECK (accuracy >= 0 AND accuracy <= 1),
  input_shape TEXT NOT NULL,       -- "1x3x224x224"
  profile_json TEXT NOT NULL,      -- fleetml::model::to_json(ModelProfile)
  manifest BLOB NOT NULL,          -- signed Manifest
  created_unix_ms INTEGER NOT NULL,
  PRIMARY KEY (model_id, version)
) STRICT;
)sql",
    // 2: what the fleet did: measurements, assignments, events, reports, estimator state.
    R"sql(
CREATE TABLE measurements (
  id INTEGER PRIMARY KEY,
  vehicle_id TEXT NOT NULL REFERENCES vehicles(vehicle_id),
  device_key TEXT NOT NULL,
  model_id TEXT NOT NULL,
  model_version INTEGER NOT NULL,
  batch INTEGER NOT NULL,
  threads INTEGER NOT NULL,
  optimized INTEGER NOT NULL,
  p50_ms REAL NOT NULL,
  p95_ms REAL NOT NULL,
  mean_ms REAL NOT NULL,
  peak_rss_mb REAL NOT NULL,
  energy_j REAL NOT NULL,
  download_bytes INTEGER NOT NULL,
  download_s REAL NOT NULL,
  received_unix_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX measurements_by_device_model ON measurements(device_key, model_id);

CREATE TABLE assignment_seqs (
  vehicle_id TEXT PRIMARY KEY NOT NULL REFERENCES vehicles(vehicle_id),
  last_reserved INTEGER NOT NULL
) STRICT;

CREATE TABLE assignments (
  vehicle_id TEXT NOT NULL REFERENCES vehicles(vehicle_id),
  seq INTEGER NOT NULL,
  assignment BLOB NOT NULL,        -- signed Assignment
  json TEXT NOT NULL,
  created_unix_ms INTEGER NOT NULL,
  PRIMARY KEY (vehicle_id, seq)
) STRICT;

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  unix_ms INTEGER NOT NULL,
  type TEXT NOT NULL,
  vehicle_id TEXT,                 -- NULL for fleet-wide events; deliberately no foreign key
  detail_json TEXT NOT NULL
) STRICT;
CREATE INDEX events_by_type ON events(type, id);

CREATE TABLE reports (
  id INTEGER PRIMARY KEY,
  vehicle_id TEXT NOT NULL REFERENCES vehicles(vehicle_id),
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  received_unix_ms INTEGER NOT NULL,
  report BLOB NOT NULL
) STRICT;
CREATE INDEX reports_by_vehicle ON reports(vehicle_id, id);

CREATE TABLE device_corrections (
  device_key TEXT PRIMARY KEY NOT NULL,
  correction_json TEXT NOT NULL,
  updated_unix_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE named_blobs (
  name TEXT PRIMARY KEY NOT NULL,
  data BLOB NOT NULL,
  updated_unix_ms INTEGER NOT NULL
) STRICT;
)sql",
    // 3: the length of each vehicle's capability history, kept in its row: every capability
    // appends an entry and, once the history is full, deletes the oldest; with the count at hand
    // that delete no longer walks the whole history (100 entries by default) to find it.
    R"sql(
ALTER TABLE vehicles ADD COLUMN capability_history_count INTEGER NOT NULL DEFAULT 0;
UPDATE vehicles SET capability_history_count =
  (SELECT count(*) FROM capability_history h WHERE h.vehicle_id = vehicles.vehicle_id);
)sql",
};

}  // namespace

int latest_version() { return static_cast<int>(kMigrations.size()); }

int version(SQLite::Database& db) { return db.execAndGet("PRAGMA user_version").getInt(); }

void migrate(SQLite::Database& db, int target) {
  if (target < 0 || target > latest_version()) {
    throw Error("no schema version " + std::to_string(target));
  }
  if (const int current = version(db); current > latest_version()) {
    throw Error("schema version " + std::to_string(current) +
                " is newer than this program knows (" + std::to_string(latest_version()) +
                "); refusing to touch it");
  }
  for (int step = 1; step <= target; ++step) {
    SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
    if (version(db) >= step) continue;  // already there (maybe by another process)
    db.exec(kMigrations[step - 1]);
    db.exec("PRAGMA user_version = " + std::to_string(step));
    transaction.commit();
  }
}

}  // namespace fleetml::storage::schema
