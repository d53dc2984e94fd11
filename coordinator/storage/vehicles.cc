// Vehicles: latest capability and status, capability history, accepted sequence numbers and
// link samples.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "coordinator/storage/connection.h"
#include "coordinator/storage/database.h"

namespace fleetml::storage {

using internal::bind_blob;
using internal::parse_column;
using internal::reject;
using internal::require_non_empty;
using internal::sql_limit;
using internal::Stmt;
using internal::to_sql_int;

namespace {

// The statement cache keys on the SQL text, so composed queries live in static strings.
const std::string kSelectVehicles =
    "SELECT vehicle_id, capability, capability_seq, device_key, capability_unix_ms, status, "
    "online, last_seen_unix_ms FROM vehicles ";
const std::string kSelectVehicleById = kSelectVehicles + "WHERE vehicle_id = ?";
const std::string kSelectAllVehicles = kSelectVehicles + "ORDER BY vehicle_id";

VehicleRecord vehicle_from_row(Stmt& row) {
  VehicleRecord v;
  v.vehicle_id = row->getColumn(0).getString();
  const std::string what = "vehicle " + v.vehicle_id;
  if (!row->isColumnNull(1)) {
    parse_column(what, row->getColumn(1), v.capability.emplace());
    v.capability_seq = static_cast<std::uint64_t>(row->getColumn(2).getInt64());
    v.device_key = row->getColumn(3).getString();
    v.capability_unix_ms = row->getColumn(4).getInt64();
  }
  if (!row->isColumnNull(5)) parse_column(what, row->getColumn(5), v.status.emplace());
  v.online = row->getColumn(6).getInt() != 0;
  v.last_seen_unix_ms = row->getColumn(7).getInt64();
  return v;
}

std::vector<v1::LinkSample> samples_from_rows(Stmt& rows) {
  std::vector<v1::LinkSample> samples;
  while (rows->executeStep()) {
    auto& s = samples.emplace_back();
    s.set_start_unix_ms(rows->getColumn(0).getInt64());
    s.set_duration_ms(rows->getColumn(1).getUInt());
    s.set_downlink_kbps(rows->getColumn(2).getDouble());
    s.set_network(rows->getColumn(3).getString());
  }
  return samples;
}

}  // namespace

bool Database::save_capability(const v1::Capability& capability, std::string_view device_key) {
  const std::string what = "save capability of vehicle '" + capability.vehicle_id() + "'";
  require_non_empty(what, "vehicle id", capability.vehicle_id());
  require_non_empty(what, "device key", device_key);
  const std::int64_t seq = to_sql_int(what, "seq", capability.seq());
  const std::string bytes = internal::serialize(what, capability);
  const std::string key(device_key);
  return connection_->write(what, [&] {
    const std::int64_t now = clock_.now_unix_ms();
    std::int64_t history_count = 0;  // the vehicle's, this capability included
    {
      // One upsert for ensure_vehicle + the seq check + touch_vehicle + update: this runs for
      // every capability a fleet sends. A new vehicle has no accepted seq (the foreign key), so
      // only the update path needs the check; its WHERE makes a stale or duplicate seq a no-op,
      // reported by the change count.
      auto upsert = connection_->prepare(
          "INSERT INTO vehicles (vehicle_id, capability, capability_seq, device_key, "
          "capability_unix_ms, last_seen_unix_ms, capability_history_count) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1) "
          "ON CONFLICT (vehicle_id) DO UPDATE SET capability = excluded.capability, "
          "capability_seq = excluded.capability_seq, device_key = excluded.device_key, "
          "capability_unix_ms = excluded.capability_unix_ms, "
          "last_seen_unix_ms = max(last_seen_unix_ms, excluded.last_seen_unix_ms), "
          "capability_history_count = capability_history_count + 1 "
          "WHERE excluded.capability_seq > coalesce((SELECT seq FROM accepted_seqs "
          "WHERE vehicle_id = excluded.vehicle_id AND kind = 'capability'), -1)");
      upsert->bind(1, capability.vehicle_id());
      bind_blob(*upsert, 2, bytes);
      upsert->bind(3, seq);
      upsert->bind(4, key);
      upsert->bind(5, now);
      if (upsert->exec() == 0) return false;
    }
    {
      // Read back rather than RETURNING: SQLite gathers an upsert's RETURNING rows in a
      // temporary table first, which cost more than this lookup of the row just written
      // (storage bench, batched capabilities: about 7% more saves per second).
      auto count = connection_->prepare(
          "SELECT capability_history_count FROM vehicles WHERE vehicle_id = ?");
      count->bind(1, capability.vehicle_id());
      if (!count->executeStep()) reject(what, "the vehicle's row is gone after its upsert");
      history_count = count->getColumn(0).getInt64();
    }
    {
      auto accepted = connection_->prepare(
          "INSERT INTO accepted_seqs (vehicle_id, kind, seq) VALUES (?, 'capability', ?) "
          "ON CONFLICT (vehicle_id, kind) DO UPDATE SET seq = excluded.seq");
      accepted->bind(1, capability.vehicle_id());
      accepted->bind(2, seq);
      accepted->exec();
    }
    {
      auto insert = connection_->prepare(
          "INSERT INTO capability_history (vehicle_id, seq, received_unix_ms, device_key, "
          "capability) VALUES (?, ?, ?, ?, ?)");
      insert->bind(1, capability.vehicle_id());
      insert->bind(2, seq);
      insert->bind(3, now);
      insert->bind(4, key);
      bind_blob(*insert, 5, bytes);
      insert->exec();
    }
    const auto keep = sql_limit(options_.capability_history_per_vehicle);
    if (history_count > keep) {
      // The oldest history_count - keep entries: a walk from the vehicle's first entry.
      auto trim = connection_->prepare(
          "DELETE FROM capability_history WHERE vehicle_id = ?1 AND id <= (SELECT id FROM "
          "capability_history WHERE vehicle_id = ?1 ORDER BY id LIMIT 1 OFFSET ?2)");
      trim->bind(1, capability.vehicle_id());
      trim->bind(2, history_count - keep - 1);
      trim->exec();
      auto count = connection_->prepare(
          "UPDATE vehicles SET capability_history_count = ?2 WHERE vehicle_id = ?1");
      count->bind(1, capability.vehicle_id());
      count->bind(2, keep);
      count->exec();
    }
    return true;
  });
}

void Database::save_status(const v1::Status& status) {
  const std::string what = "save status of vehicle '" + status.vehicle_id() + "'";
  require_non_empty(what, "vehicle id", status.vehicle_id());
  const std::string bytes = internal::serialize(what, status);
  connection_->write(what, [&] {
    if (status.last_will()) {
      ensure_vehicle(status.vehicle_id());
    } else {
      touch_vehicle(status.vehicle_id());
    }
    auto update =
        connection_->prepare("UPDATE vehicles SET status = ?, online = ? WHERE vehicle_id = ?");
    bind_blob(*update, 1, bytes);
    update->bind(2, status.state() == v1::Status::ONLINE ? 1 : 0);
    update->bind(3, status.vehicle_id());
    update->exec();
  });
}

std::optional<VehicleRecord> Database::vehicle(std::string_view vehicle_id) {
  const std::string id(vehicle_id);
  return connection_->read("read vehicle '" + id + "'", [&]() -> std::optional<VehicleRecord> {
    auto row = connection_->prepare(kSelectVehicleById.c_str());
    row->bind(1, id);
    if (!row->executeStep()) return std::nullopt;
    return vehicle_from_row(row);
  });
}

std::vector<VehicleRecord> Database::vehicles() {
  return connection_->read("list vehicles", [&] {
    auto rows = connection_->prepare(kSelectAllVehicles.c_str());
    std::vector<VehicleRecord> result;
    while (rows->executeStep()) result.push_back(vehicle_from_row(rows));
    return result;
  });
}

std::vector<CapabilityRecord> Database::capability_history(std::string_view vehicle_id,
                                                           std::size_t limit) {
  const std::string id(vehicle_id);
  const std::string what = "read capability history of vehicle '" + id + "'";
  return connection_->read(what, [&] {
    auto rows = connection_->prepare(
        "SELECT capability, device_key, received_unix_ms FROM capability_history "
        "WHERE vehicle_id = ? ORDER BY id DESC LIMIT ?");
    rows->bind(1, id);
    rows->bind(2, sql_limit(limit));
    std::vector<CapabilityRecord> result;
    while (rows->executeStep()) {
      auto& r = result.emplace_back();
      parse_column(what, rows->getColumn(0), r.capability);
      r.device_key = rows->getColumn(1).getString();
      r.received_unix_ms = rows->getColumn(2).getInt64();
    }
    return result;
  });
}

std::optional<std::uint64_t> Database::last_seq(std::string_view vehicle_id, MessageKind kind) {
  const std::string id(vehicle_id);
  const std::string what =
      "read last " + std::string(to_string(kind)) + " seq of vehicle '" + id + "'";
  return connection_->read(what, [&]() -> std::optional<std::uint64_t> {
    auto row =
        connection_->prepare("SELECT seq FROM accepted_seqs WHERE vehicle_id = ? AND kind = ?");
    row->bind(1, id);
    row->bind(2, std::string(to_string(kind)));
    if (!row->executeStep()) return std::nullopt;
    return static_cast<std::uint64_t>(row->getColumn(0).getInt64());
  });
}

bool Database::accept_seq(std::string_view vehicle_id, MessageKind kind, std::uint64_t seq) {
  const std::string id(vehicle_id);
  const std::string what = "accept " + std::string(to_string(kind)) + " seq " +
                           std::to_string(seq) + " of vehicle '" + id + "'";
  require_non_empty(what, "vehicle id", id);
  const std::int64_t value = to_sql_int(what, "seq", seq);
  return connection_->write(what, [&] {
    ensure_vehicle(id);
    // The upsert's WHERE turns a stale or duplicate seq into a no-op, reported by the change
    // count.
    auto upsert = connection_->prepare(
        "INSERT INTO accepted_seqs (vehicle_id, kind, seq) VALUES (?, ?, ?) "
        "ON CONFLICT (vehicle_id, kind) DO UPDATE SET seq = excluded.seq "
        "WHERE excluded.seq > accepted_seqs.seq");
    upsert->bind(1, id);
    upsert->bind(2, std::string(to_string(kind)));
    upsert->bind(3, value);
    return upsert->exec() > 0;
  });
}

void Database::append_link_samples(
    std::string_view vehicle_id,
    const google::protobuf::RepeatedPtrField<v1::LinkSample>& samples) {
  const std::string id(vehicle_id);
  const std::string what = "append link samples of vehicle '" + id + "'";
  require_non_empty(what, "vehicle id", id);
  for (const auto& s : samples) {
    if (s.duration_ms() == 0) reject(what, "a sample has duration_ms 0");
    if (!std::isfinite(s.downlink_kbps()) || s.downlink_kbps() < 0) {
      reject(what, "a sample has downlink_kbps " + std::to_string(s.downlink_kbps()));
    }
  }
  connection_->write(what, [&] {
    const std::int64_t now = clock_.now_unix_ms();
    touch_vehicle(id);
    {
      auto insert = connection_->prepare(
          "INSERT INTO link_samples (vehicle_id, start_unix_ms, duration_ms, downlink_kbps, "
          "network, received_unix_ms) VALUES (?, ?, ?, ?, ?, ?)");
      for (const auto& s : samples) {
        insert->reset();
        insert->bind(1, id);
        insert->bind(2, s.start_unix_ms());
        insert->bind(3, s.duration_ms());
        insert->bind(4, s.downlink_kbps());
        insert->bind(5, s.network());
        insert->bind(6, now);
        insert->exec();
      }
    }
    auto trim = connection_->prepare(
        "DELETE FROM link_samples WHERE vehicle_id = ?1 AND id IN (SELECT id FROM link_samples "
        "WHERE vehicle_id = ?1 ORDER BY start_unix_ms DESC, id DESC LIMIT -1 OFFSET ?2)");
    trim->bind(1, id);
    trim->bind(2, sql_limit(options_.link_samples_per_vehicle));
    trim->exec();
  });
}

std::vector<v1::LinkSample> Database::link_samples_since(std::string_view vehicle_id,
                                                         std::int64_t since_unix_ms) {
  const std::string id(vehicle_id);
  return connection_->read("read link samples of vehicle '" + id + "'", [&] {
    auto rows = connection_->prepare(
        "SELECT start_unix_ms, duration_ms, downlink_kbps, network FROM link_samples "
        "WHERE vehicle_id = ? AND start_unix_ms >= ? ORDER BY start_unix_ms, id");
    rows->bind(1, id);
    rows->bind(2, since_unix_ms);
    return samples_from_rows(rows);
  });
}

std::vector<v1::LinkSample> Database::recent_link_samples(std::string_view vehicle_id,
                                                          std::size_t count) {
  const std::string id(vehicle_id);
  return connection_->read("read link samples of vehicle '" + id + "'", [&] {
    auto rows = connection_->prepare(
        "SELECT start_unix_ms, duration_ms, downlink_kbps, network FROM link_samples "
        "WHERE vehicle_id = ? ORDER BY start_unix_ms DESC, id DESC LIMIT ?");
    rows->bind(1, id);
    rows->bind(2, sql_limit(count));
    auto samples = samples_from_rows(rows);
    std::reverse(samples.begin(), samples.end());
    return samples;
  });
}

}  // namespace fleetml::storage
