// Operator events and estimator state.

#include <string>

#include "coordinator/storage/connection.h"
#include "coordinator/storage/database.h"
#include "shared/common/error.h"

namespace fleetml::storage {

using internal::require_non_empty;
using internal::sql_limit;
using internal::Stmt;

namespace {

// Newest `count` rows of the inner query, returned oldest first.
const std::string kRecentEvents =
    "SELECT id, unix_ms, type, vehicle_id, detail_json FROM (SELECT * FROM events ORDER BY id "
    "DESC LIMIT ?) ORDER BY id";
const std::string kRecentEventsOfType =
    "SELECT id, unix_ms, type, vehicle_id, detail_json FROM (SELECT * FROM events WHERE type = ? "
    "ORDER BY id DESC LIMIT ?) ORDER BY id";

nlohmann::json parse_stored_json(const std::string& what, const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error("storage: " + what + ": stored JSON does not parse: " + e.what());
  }
}

std::vector<EventRecord> events_from_rows(Stmt& rows) {
  std::vector<EventRecord> result;
  while (rows->executeStep()) {
    auto& e = result.emplace_back();
    e.id = rows->getColumn(0).getInt64();
    e.unix_ms = rows->getColumn(1).getInt64();
    e.type = rows->getColumn(2).getString();
    e.vehicle_id = rows->getColumn(3).getString();  // NULL reads as ""
    e.detail = parse_stored_json("event " + std::to_string(e.id), rows->getColumn(4).getString());
  }
  return result;
}

}  // namespace

std::int64_t Database::append_event(std::string_view type, std::string_view vehicle_id,
                                    const nlohmann::json& detail) {
  const std::string what = "append event '" + std::string(type) + "'";
  require_non_empty(what, "event type", type);
  const std::string detail_json = detail.dump();
  return connection_->write(what, [&] {
    auto insert = connection_->prepare(
        "INSERT INTO events (unix_ms, type, vehicle_id, detail_json) VALUES (?, ?, ?, ?)");
    insert->bind(1, clock_.now_unix_ms());
    insert->bind(2, std::string(type));
    if (vehicle_id.empty()) {
      insert->bind(3);
    } else {
      insert->bind(3, std::string(vehicle_id));
    }
    insert->bind(4, detail_json);
    insert->exec();
    return connection_->db().getLastInsertRowid();
  });
}

std::vector<EventRecord> Database::recent_events(std::size_t count) {
  return connection_->read("read events", [&] {
    auto rows = connection_->prepare(kRecentEvents.c_str());
    rows->bind(1, sql_limit(count));
    return events_from_rows(rows);
  });
}

std::vector<EventRecord> Database::recent_events_of_type(std::string_view type, std::size_t count) {
  const std::string t(type);
  return connection_->read("read events of type '" + t + "'", [&] {
    auto rows = connection_->prepare(kRecentEventsOfType.c_str());
    rows->bind(1, t);
    rows->bind(2, sql_limit(count));
    return events_from_rows(rows);
  });
}

std::optional<nlohmann::json> Database::device_correction(std::string_view device_key) {
  const std::string key(device_key);
  const std::string what = "read correction of device '" + key + "'";
  return connection_->read(what, [&]() -> std::optional<nlohmann::json> {
    auto row =
        connection_->prepare("SELECT correction_json FROM device_corrections WHERE device_key = ?");
    row->bind(1, key);
    if (!row->executeStep()) return std::nullopt;
    return parse_stored_json(what, row->getColumn(0).getString());
  });
}

void Database::put_device_correction(std::string_view device_key,
                                     const nlohmann::json& correction) {
  const std::string key(device_key);
  const std::string what = "save correction of device '" + key + "'";
  require_non_empty(what, "device key", key);
  const std::string text = correction.dump();
  connection_->write(what, [&] {
    auto upsert = connection_->prepare(
        "INSERT INTO device_corrections (device_key, correction_json, updated_unix_ms) "
        "VALUES (?, ?, ?) ON CONFLICT (device_key) DO UPDATE SET "
        "correction_json = excluded.correction_json, updated_unix_ms = excluded.updated_unix_ms");
    upsert->bind(1, key);
    upsert->bind(2, text);
    upsert->bind(3, clock_.now_unix_ms());
    upsert->exec();
  });
}

std::map<std::string, nlohmann::json> Database::device_corrections() {
  return connection_->read("read device corrections", [&] {
    auto rows = connection_->prepare("SELECT device_key, correction_json FROM device_corrections");
    std::map<std::string, nlohmann::json> result;
    while (rows->executeStep()) {
      std::string key = rows->getColumn(0).getString();
      result[key] =
          parse_stored_json("correction of device '" + key + "'", rows->getColumn(1).getString());
    }
    return result;
  });
}

std::optional<std::string> Database::blob(std::string_view name) {
  const std::string n(name);
  return connection_->read("read blob '" + n + "'", [&]() -> std::optional<std::string> {
    auto row = connection_->prepare("SELECT data FROM named_blobs WHERE name = ?");
    row->bind(1, n);
    if (!row->executeStep()) return std::nullopt;
    return row->getColumn(0).getString();
  });
}

void Database::put_blob(std::string_view name, std::string_view bytes) {
  const std::string n(name);
  const std::string what = "save blob '" + n + "'";
  require_non_empty(what, "blob name", n);
  connection_->write(what, [&] {
    auto upsert = connection_->prepare(
        "INSERT INTO named_blobs (name, data, updated_unix_ms) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET data = excluded.data, "
        "updated_unix_ms = excluded.updated_unix_ms");
    upsert->bind(1, n);
    internal::bind_blob(*upsert, 2, bytes);
    upsert->bind(3, clock_.now_unix_ms());
    upsert->exec();
  });
}

}  // namespace fleetml::storage
