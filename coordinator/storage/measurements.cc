// Measurements and raw reports from vehicles.

#include <cmath>
#include <string>

#include "coordinator/storage/connection.h"
#include "coordinator/storage/database.h"

namespace fleetml::storage {

using internal::reject;
using internal::require_non_empty;
using internal::require_non_negative;
using internal::Stmt;
using internal::to_sql_int;

namespace {

const std::string kSelectMeasurements =
    "SELECT vehicle_id, device_key, model_id, model_version, batch, threads, optimized, p50_ms, "
    "p95_ms, mean_ms, peak_rss_mb, energy_j, download_bytes, download_s, received_unix_ms "
    "FROM measurements ";
const std::string kSelectForDevice = kSelectMeasurements + "WHERE device_key = ? ORDER BY id";
const std::string kSelectForDeviceModel =
    kSelectMeasurements + "WHERE device_key = ? AND model_id = ? ORDER BY id";
const std::string kSelectAll = kSelectMeasurements + "ORDER BY id";

void validate(std::string_view what, const MeasurementRecord& m) {
  require_non_empty(what, "vehicle id", m.vehicle_id);
  require_non_empty(what, "device key", m.device_key);
  require_non_empty(what, "model id", m.model_id);
  if (m.model_version == 0) reject(what, "model version is 0");
  if (m.batch == 0) reject(what, "batch is 0");
  if (m.threads == 0) reject(what, "threads is 0");
  for (const auto& [name, ms] : {std::pair{"p50_ms", m.p50_ms}, std::pair{"p95_ms", m.p95_ms},
                                 std::pair{"mean_ms", m.mean_ms}}) {
    if (!std::isfinite(ms) || ms <= 0) {
      reject(what, std::string(name) + " must be a finite number > 0, got " + std::to_string(ms));
    }
  }
  if (m.p95_ms < m.p50_ms) reject(what, "p95_ms is below p50_ms");
  require_non_negative(what, "peak_rss_mb", m.peak_rss_mb);
  require_non_negative(what, "energy_j", m.energy_j);
  require_non_negative(what, "download_s", m.download_s);
}

std::vector<MeasurementRecord> measurements_from_rows(Stmt& rows) {
  std::vector<MeasurementRecord> result;
  while (rows->executeStep()) {
    auto& m = result.emplace_back();
    m.vehicle_id = rows->getColumn(0).getString();
    m.device_key = rows->getColumn(1).getString();
    m.model_id = rows->getColumn(2).getString();
    m.model_version = static_cast<std::uint64_t>(rows->getColumn(3).getInt64());
    m.batch = rows->getColumn(4).getUInt();
    m.threads = rows->getColumn(5).getUInt();
    m.optimized = rows->getColumn(6).getInt() != 0;
    m.p50_ms = rows->getColumn(7).getDouble();
    m.p95_ms = rows->getColumn(8).getDouble();
    m.mean_ms = rows->getColumn(9).getDouble();
    m.peak_rss_mb = rows->getColumn(10).getDouble();
    m.energy_j = rows->getColumn(11).getDouble();
    m.download_bytes = static_cast<std::uint64_t>(rows->getColumn(12).getInt64());
    m.download_s = rows->getColumn(13).getDouble();
    m.received_unix_ms = rows->getColumn(14).getInt64();
  }
  return result;
}

}  // namespace

void Database::add_measurement(const MeasurementRecord& m) {
  const std::string what =
      "add measurement of model '" + m.model_id + "' from vehicle '" + m.vehicle_id + "'";
  validate(what, m);
  const std::int64_t version = to_sql_int(what, "model version", m.model_version);
  const std::int64_t download_bytes = to_sql_int(what, "download_bytes", m.download_bytes);
  connection_->write(what, [&] {
    ensure_vehicle(m.vehicle_id);
    auto insert = connection_->prepare(
        "INSERT INTO measurements (vehicle_id, device_key, model_id, model_version, batch, "
        "threads, optimized, p50_ms, p95_ms, mean_ms, peak_rss_mb, energy_j, download_bytes, "
        "download_s, received_unix_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert->bind(1, m.vehicle_id);
    insert->bind(2, m.device_key);
    insert->bind(3, m.model_id);
    insert->bind(4, version);
    insert->bind(5, m.batch);
    insert->bind(6, m.threads);
    insert->bind(7, m.optimized ? 1 : 0);
    insert->bind(8, m.p50_ms);
    insert->bind(9, m.p95_ms);
    insert->bind(10, m.mean_ms);
    insert->bind(11, m.peak_rss_mb);
    insert->bind(12, m.energy_j);
    insert->bind(13, download_bytes);
    insert->bind(14, m.download_s);
    insert->bind(15, clock_.now_unix_ms());
    insert->exec();
  });
}

std::vector<MeasurementRecord> Database::measurements_for_device(std::string_view device_key) {
  const std::string key(device_key);
  return connection_->read("read measurements of device '" + key + "'", [&] {
    auto rows = connection_->prepare(kSelectForDevice.c_str());
    rows->bind(1, key);
    return measurements_from_rows(rows);
  });
}

std::vector<MeasurementRecord> Database::measurements_for(std::string_view device_key,
                                                          std::string_view model_id) {
  const std::string key(device_key);
  const std::string model(model_id);
  return connection_->read("read measurements of model '" + model + "' on device '" + key + "'",
                           [&] {
                             auto rows = connection_->prepare(kSelectForDeviceModel.c_str());
                             rows->bind(1, key);
                             rows->bind(2, model);
                             return measurements_from_rows(rows);
                           });
}

std::vector<MeasurementRecord> Database::all_measurements() {
  return connection_->read("read measurements", [&] {
    auto rows = connection_->prepare(kSelectAll.c_str());
    return measurements_from_rows(rows);
  });
}

std::int64_t Database::save_report(const v1::Report& report) {
  const std::string what = "save report of vehicle '" + report.vehicle_id() + "'";
  require_non_empty(what, "vehicle id", report.vehicle_id());
  const std::int64_t seq = to_sql_int(what, "seq", report.seq());
  const std::string bytes = internal::serialize(what, report);
  return connection_->write(what, [&] {
    touch_vehicle(report.vehicle_id());
    auto insert = connection_->prepare(
        "INSERT INTO reports (vehicle_id, seq, kind, received_unix_ms, report) "
        "VALUES (?, ?, ?, ?, ?)");
    insert->bind(1, report.vehicle_id());
    insert->bind(2, seq);
    // A kind newer than this code has no name here; keep its number.
    const std::string& kind = v1::Report::Kind_Name(report.kind());
    insert->bind(3, kind.empty() ? std::to_string(report.kind()) : kind);
    insert->bind(4, clock_.now_unix_ms());
    internal::bind_blob(*insert, 5, bytes);
    insert->exec();
    return connection_->db().getLastInsertRowid();
  });
}

std::vector<ReportRecord> Database::recent_reports(std::string_view vehicle_id, std::size_t count) {
  const std::string id(vehicle_id);
  const std::string what = "read reports of vehicle '" + id + "'";
  return connection_->read(what, [&] {
    auto rows = connection_->prepare(
        "SELECT id, received_unix_ms, report FROM (SELECT id, received_unix_ms, report FROM "
        "reports WHERE vehicle_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id");
    rows->bind(1, id);
    rows->bind(2, internal::sql_limit(count));
    std::vector<ReportRecord> result;
    while (rows->executeStep()) {
      auto& r = result.emplace_back();
      r.id = rows->getColumn(0).getInt64();
      r.received_unix_ms = rows->getColumn(1).getInt64();
      internal::parse_column(what, rows->getColumn(2), r.report);
    }
    return result;
  });
}

}  // namespace fleetml::storage
