// Assignments: per-vehicle sequence numbers and the signed assignments published.

#include <string>

#include "coordinator/storage/connection.h"
#include "coordinator/storage/database.h"

namespace fleetml::storage {

using internal::reject;
using internal::require_non_empty;
using internal::Stmt;

namespace {

const std::string kSelectAssignments =
    "SELECT vehicle_id, seq, assignment, json, created_unix_ms FROM assignments a ";
const std::string kSelectLatestOfVehicle =
    kSelectAssignments + "WHERE vehicle_id = ? ORDER BY seq DESC LIMIT 1";
const std::string kSelectLatestOfEach =
    kSelectAssignments +
    "WHERE seq = (SELECT max(seq) FROM assignments WHERE vehicle_id = a.vehicle_id) "
    "ORDER BY vehicle_id";

AssignmentRecord assignment_from_row(Stmt& row) {
  AssignmentRecord a;
  a.vehicle_id = row->getColumn(0).getString();
  a.seq = static_cast<std::uint64_t>(row->getColumn(1).getInt64());
  internal::parse_column(
      "assignment " + std::to_string(a.seq) + " of vehicle '" + a.vehicle_id + "'",
      row->getColumn(2), a.assignment);
  a.json = row->getColumn(3).getString();
  a.created_unix_ms = row->getColumn(4).getInt64();
  return a;
}

}  // namespace

std::uint64_t Database::next_assignment_seq(std::string_view vehicle_id) {
  const std::string id(vehicle_id);
  const std::string what = "reserve assignment seq of vehicle '" + id + "'";
  require_non_empty(what, "vehicle id", id);
  return connection_->write(what, [&] {
    ensure_vehicle(id);
    {
      auto reserve = connection_->prepare(
          "INSERT INTO assignment_seqs (vehicle_id, last_reserved) VALUES (?, 1) "
          "ON CONFLICT (vehicle_id) DO UPDATE SET last_reserved = last_reserved + 1");
      reserve->bind(1, id);
      reserve->exec();
    }
    auto reserved =
        connection_->prepare("SELECT last_reserved FROM assignment_seqs WHERE vehicle_id = ?");
    reserved->bind(1, id);
    reserved->executeStep();
    return static_cast<std::uint64_t>(reserved->getColumn(0).getInt64());
  });
}

void Database::save_assignment(const v1::Assignment& assignment, std::string_view json) {
  v1::AssignmentBody body;
  if (!body.ParseFromString(assignment.body())) {
    reject("save assignment", "assignment body does not parse");
  }
  const std::string what =
      "save assignment " + std::to_string(body.seq()) + " of vehicle '" + body.vehicle_id() + "'";
  require_non_empty(what, "vehicle id", body.vehicle_id());
  if (!internal::carries_signature(assignment.signature()))
    reject(what, "assignment is not signed");
  if (!nlohmann::json::accept(json)) reject(what, "its JSON does not parse");
  const std::int64_t seq = internal::to_sql_int(what, "seq", body.seq());
  const std::string bytes = internal::serialize(what, assignment);
  connection_->write(what, [&] {
    {
      auto reserved =
          connection_->prepare("SELECT last_reserved FROM assignment_seqs WHERE vehicle_id = ?");
      reserved->bind(1, body.vehicle_id());
      if (!reserved->executeStep() || reserved->getColumn(0).getInt64() < seq) {
        reject(what, "seq was not reserved with next_assignment_seq");
      }
    }
    {
      auto latest = connection_->prepare("SELECT max(seq) FROM assignments WHERE vehicle_id = ?");
      latest->bind(1, body.vehicle_id());
      latest->executeStep();
      if (!latest->isColumnNull(0) && latest->getColumn(0).getInt64() >= seq) {
        reject(what, "not newer than the saved assignment " +
                         std::to_string(latest->getColumn(0).getInt64()));
      }
    }
    auto insert = connection_->prepare(
        "INSERT INTO assignments (vehicle_id, seq, assignment, json, created_unix_ms) "
        "VALUES (?, ?, ?, ?, ?)");
    insert->bind(1, body.vehicle_id());
    insert->bind(2, seq);
    internal::bind_blob(*insert, 3, bytes);
    insert->bind(4, std::string(json));
    insert->bind(5, clock_.now_unix_ms());
    insert->exec();
  });
}

std::optional<AssignmentRecord> Database::latest_assignment(std::string_view vehicle_id) {
  const std::string id(vehicle_id);
  return connection_->read("read assignment of vehicle '" + id + "'",
                           [&]() -> std::optional<AssignmentRecord> {
                             auto row = connection_->prepare(kSelectLatestOfVehicle.c_str());
                             row->bind(1, id);
                             if (!row->executeStep()) return std::nullopt;
                             return assignment_from_row(row);
                           });
}

std::vector<AssignmentRecord> Database::latest_assignments() {
  return connection_->read("list assignments", [&] {
    auto rows = connection_->prepare(kSelectLatestOfEach.c_str());
    std::vector<AssignmentRecord> result;
    while (rows->executeStep()) result.push_back(assignment_from_row(rows));
    return result;
  });
}

}  // namespace fleetml::storage
