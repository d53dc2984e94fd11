#include "coordinator/storage/connection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <system_error>

#include <google/protobuf/message.h>
#include <sqlite3.h>

#include "coordinator/storage/schema.h"
#include "shared/common/error.h"

namespace fleetml::storage::internal {
namespace {

SQLite::Database open_database(const std::filesystem::path& path, int busy_timeout_ms) {
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      throw Error("storage " + path.string() + ": cannot create directory " +
                  path.parent_path().string() + ": " + ec.message());
    }
  }
  try {
    return SQLite::Database(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, busy_timeout_ms);
  } catch (const SQLite::Exception& e) {
    throw Error("storage " + path.string() + ": cannot open: " + e.what());
  }
}

// Connection settings; they are not stored in the file (except journal_mode) so they are set on
// every open.
void configure(SQLite::Database& db, const ConnectionConfig& config) {
  db.exec("PRAGMA foreign_keys = ON");
  const std::string mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
  if (mode != "wal") throw Error("cannot switch to WAL mode (journal_mode is " + mode + ")");
  db.exec(config.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  // Checkpoint when the WAL holds 8000 pages (32 MB at 4 KiB), not SQLite's 1000: the
  // coordinator rewrites the same vehicle rows with every capability burst, and a checkpoint
  // copies each page once however often it was rewritten since the last one (ingest bench,
  // 1000 vehicles x 8 updates, 4 alternated runs each: ingest CPU per update 27-39 us against
  // 32-35 us, about 5% less relative to the same run's Paho thread: near the noise). After a
  // checkpoint, a WAL that one big transaction inflated shrinks back to the same 32 MB.
  db.exec("PRAGMA wal_autocheckpoint = 8000");
  db.exec("PRAGMA journal_size_limit = 33554432");
  if (config.max_size_bytes > 0) {
    const std::int64_t page_size = db.execAndGet("PRAGMA page_size").getInt64();
    const std::int64_t pages = std::max<std::int64_t>(1, config.max_size_bytes / page_size);
    db.exec("PRAGMA max_page_count = " + std::to_string(pages));
  }
}

}  // namespace

Connection::Connection(const std::filesystem::path& path, const ConnectionConfig& config)
    : path_(path), db_(open_database(path, config.busy_timeout_ms)) {
  try {
    configure(db_, config);
    schema::migrate(db_, schema::latest_version());
  } catch (const SQLite::Exception& e) {
    throw Error("storage " + path_.string() + ": cannot open: " + e.what());
  } catch (const Error& e) {
    throw Error("storage " + path_.string() + ": cannot open: " + e.what());
  }
}

Connection::~Connection() = default;

Stmt Connection::prepare(const char* sql) {
  auto& slot = statements_[sql];
  if (!slot) slot = std::make_unique<SQLite::Statement>(db_, sql);
  slot->tryReset();  // a previous use may have ended in an error
  return Stmt(*slot);
}

void Connection::open_scope(std::string_view what, bool outermost) {
  if (!outermost && doomed_) {
    throw Error("storage " + path_.string() + ": " + std::string(what) +
                ": the enclosing transaction was already rolled back after an earlier error");
  }
  // Cached statements: the coordinator opens a scope per stored message, and parsing the SQL
  // text each time (sqlite3_exec) cost as much as the message's own statements.
  prepare(outermost ? "BEGIN IMMEDIATE" : "SAVEPOINT nested")->exec();
  ++depth_;
}

void Connection::close_scope(std::string_view what, bool outermost) {
  if (doomed_) {
    throw Error("storage " + path_.string() + ": " + std::string(what) +
                ": rolled back after an earlier error inside it; nothing was written");
  }
  prepare(outermost ? "COMMIT" : "RELEASE nested")->exec();
  --depth_;
  if (outermost) doomed_ = false;
}

void Connection::abandon_scope(bool outermost) noexcept {
  --depth_;
  // On a full disk, an I/O error or memory exhaustion SQLite may have rolled back the whole
  // transaction already; then there is nothing left to undo here, and enclosing scopes are told.
  if (sqlite3_get_autocommit(db_.getHandle()) != 0) {
    doomed_ = !outermost;
  } else if (outermost) {
    try_run("ROLLBACK");
  } else if (!try_run("ROLLBACK TO nested") || !try_run("RELEASE nested")) {
    doomed_ = true;
  }
  if (outermost) doomed_ = false;
}

bool Connection::try_run(const char* sql) noexcept {
  try {
    return prepare(sql)->tryExecuteStep() == SQLITE_DONE;
  } catch (...) {
    return false;  // could not even prepare it (out of memory)
  }
}

void Connection::rethrow_translated(std::string_view what) const {
  try {
    throw;
  } catch (const SQLite::Exception& e) {
    throw Error("storage " + path_.string() + ": " + std::string(what) + ": " + e.what());
  }
}

void reject(std::string_view what, std::string_view why) {
  throw Error("storage: " + std::string(what) + ": " + std::string(why));
}

void require_non_empty(std::string_view what, std::string_view name, std::string_view value) {
  if (value.empty()) reject(what, std::string(name) + " is empty");
}

std::int64_t to_sql_int(std::string_view what, std::string_view name, std::uint64_t value) {
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    reject(what, std::string(name) + " " + std::to_string(value) + " is too large (max 2^63-1)");
  }
  return static_cast<std::int64_t>(value);
}

std::int64_t sql_limit(std::size_t count) {
  return static_cast<std::int64_t>(
      std::min<std::size_t>(count, std::numeric_limits<std::int64_t>::max()));
}

void require_non_negative(std::string_view what, std::string_view name, double value) {
  if (!std::isfinite(value) || value < 0) {
    reject(what, std::string(name) + " must be a finite number >= 0, got " + std::to_string(value));
  }
}

std::string serialize(std::string_view what, const google::protobuf::Message& message) {
  std::string bytes;
  if (!message.SerializeToString(&bytes)) {
    reject(what, "cannot serialize " + message.GetTypeName());
  }
  return bytes;
}

void parse_column(std::string_view what, const SQLite::Column& column,
                  google::protobuf::Message& message) {
  if (!message.ParseFromArray(column.getBlob(), column.getBytes())) {
    throw Error("storage: " + std::string(what) + ": stored " + message.GetTypeName() +
                " does not parse");
  }
}

void bind_blob(SQLite::Statement& statement, int index, std::string_view bytes) {
  // A null pointer would bind SQL NULL, not an empty blob.
  statement.bind(index, bytes.empty() ? "" : bytes.data(), static_cast<int>(bytes.size()));
}

bool carries_signature(const v1::Signature& signature) {
  return signature.ed25519().size() == 64 && !signature.key_id().empty();
}

}  // namespace fleetml::storage::internal
