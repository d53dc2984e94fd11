#include "coordinator/storage/database.h"

#include <limits>

#include "coordinator/storage/connection.h"
#include "coordinator/storage/schema.h"
#include "shared/common/error.h"

namespace fleetml::storage {
namespace {

internal::ConnectionConfig connection_config(const std::filesystem::path& path,
                                             const Database::Options& options) {
  const auto invalid = [&](const std::string& why) {
    throw Error("storage " + path.string() + ": invalid options: " + why);
  };
  if (options.link_samples_per_vehicle < 1) invalid("link_samples_per_vehicle must be >= 1");
  if (options.capability_history_per_vehicle < 1) {
    invalid("capability_history_per_vehicle must be >= 1");
  }
  if (options.max_size_bytes < 0) invalid("max_size_bytes must be >= 0");
  const auto timeout_ms = options.busy_timeout.count();
  if (timeout_ms < 0 || timeout_ms > std::numeric_limits<int>::max()) {
    invalid("busy_timeout out of range");
  }
  return {.busy_timeout_ms = static_cast<int>(timeout_ms),
          .synchronous_full = options.synchronous == Database::Synchronous::kFull,
          .max_size_bytes = options.max_size_bytes};
}

}  // namespace

std::string_view to_string(MessageKind kind) {
  switch (kind) {
    case MessageKind::kCapability:
      return "capability";
    case MessageKind::kStatus:
      return "status";
    case MessageKind::kLink:
      return "link";
    case MessageKind::kFetch:
      return "fetch";
    case MessageKind::kReport:
      return "report";
  }
  throw Error("unknown message kind " + std::to_string(static_cast<int>(kind)));
}

Database::Database(const std::filesystem::path& path, const Clock& clock, Options options)
    : clock_(clock),
      options_(options),
      connection_(std::make_unique<internal::Connection>(path, connection_config(path, options))) {}

Database::Database(const std::filesystem::path& path, const Clock& clock)
    : Database(path, clock, Options{}) {}

Database::~Database() = default;

const std::filesystem::path& Database::path() const { return connection_->path(); }

int Database::schema_version() {
  return connection_->read("read schema version",
                           [&] { return schema::version(connection_->db()); });
}

void Database::transaction(const std::function<void()>& body) {
  connection_->write("transaction", body);
}

std::string Database::integrity_check() {
  return connection_->read("integrity check", [&] {
    std::string result;
    SQLite::Statement check(connection_->db(), "PRAGMA integrity_check");
    while (check.executeStep()) {
      if (!result.empty()) result += '\n';
      result += check.getColumn(0).getString();
    }
    return result;
  });
}

void Database::ensure_vehicle(std::string_view vehicle_id) {
  auto insert = connection_->prepare("INSERT OR IGNORE INTO vehicles (vehicle_id) VALUES (?)");
  insert->bind(1, std::string(vehicle_id));
  insert->exec();
}

void Database::touch_vehicle(std::string_view vehicle_id) {
  ensure_vehicle(vehicle_id);
  auto update = connection_->prepare(
      "UPDATE vehicles SET last_seen_unix_ms = max(last_seen_unix_ms, ?) WHERE vehicle_id = ?");
  update->bind(1, clock_.now_unix_ms());
  update->bind(2, std::string(vehicle_id));
  update->exec();
}

}  // namespace fleetml::storage
