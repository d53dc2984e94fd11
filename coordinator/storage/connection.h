#pragma once

// Internal to fleetml_storage: the one SQLite connection behind a Database, its lock, its
// transaction scopes and its prepared-statement cache. Not part of the public API.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include "schemas/fleet.pb.h"

namespace google::protobuf {
class Message;
}

namespace fleetml::storage::internal {

// A cached prepared statement, borrowed for one use. Resetting it when the borrow ends keeps a
// half-read SELECT from holding a read snapshot (which would stall WAL checkpoints).
class Stmt {
 public:
  explicit Stmt(SQLite::Statement& statement) : statement_(statement) {}
  ~Stmt() { statement_.tryReset(); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  SQLite::Statement* operator->() { return &statement_; }
  SQLite::Statement& operator*() { return statement_; }

 private:
  SQLite::Statement& statement_;
};

// Opening parameters, already validated by Database.
struct ConnectionConfig {
  int busy_timeout_ms = 5000;
  bool synchronous_full = false;
  std::int64_t max_size_bytes = 0;  // 0: no limit
};

// One connection guarded by a recursive mutex. Every access goes through read() or write(),
// which hold the mutex for the whole call; write() wraps its body in a transaction (the
// outermost one BEGIN IMMEDIATE ... COMMIT, nested ones SAVEPOINTs), so each operation is
// atomic on its own and a caller's transaction() batches many operations into one commit.
class Connection {
 public:
  // Opens (creating the file and its parent directories) and migrates the schema. Throws
  // fleetml::Error naming `path` on failure.
  Connection(const std::filesystem::path& path, const ConnectionConfig& config);
  ~Connection();

  const std::filesystem::path& path() const { return path_; }

  // Runs `fn` with the lock held, inside a transaction scope that commits when `fn` returns
  // and rolls back (only its own writes, if nested) when it throws. SQLite errors leave as
  // fleetml::Error prefixed with the path and `what`; other exceptions pass through unchanged.
  template <typename F>
  auto write(std::string_view what, F&& fn) -> decltype(fn());

  // Runs `fn` with the lock held and SQLite errors translated as in write().
  template <typename F>
  auto read(std::string_view what, F&& fn) -> decltype(fn());

  // The cached statement for `sql` (a string literal: the cache keys on its text). Only
  // inside read() or write(), and never two live borrows of the same text.
  Stmt prepare(const char* sql);

  SQLite::Database& db() { return db_; }

 private:
  void open_scope(std::string_view what, bool outermost);
  void close_scope(std::string_view what, bool outermost);
  void abandon_scope(bool outermost) noexcept;
  // Runs a cached statement that returns no rows; false on any failure.
  bool try_run(const char* sql) noexcept;
  [[noreturn]] void rethrow_translated(std::string_view what) const;

  std::filesystem::path path_;
  SQLite::Database db_;
  std::recursive_mutex mutex_;
  // Open transaction scopes on the thread holding mutex_ (0: none).
  int depth_ = 0;
  // SQLite rolled back the whole transaction under a nested scope (it does so on some errors,
  // e.g. a full disk); the enclosing scopes must not carry on as if their writes were pending.
  bool doomed_ = false;
  std::unordered_map<std::string_view, std::unique_ptr<SQLite::Statement>> statements_;
};

template <typename F>
auto Connection::write(std::string_view what, F&& fn) -> decltype(fn()) {
  std::lock_guard lock(mutex_);
  const bool outermost = depth_ == 0;
  try {
    open_scope(what, outermost);
  } catch (...) {
    rethrow_translated(what);
  }
  try {
    if constexpr (std::is_void_v<decltype(fn())>) {
      fn();
      close_scope(what, outermost);
    } else {
      auto result = fn();
      close_scope(what, outermost);
      return result;
    }
  } catch (...) {
    abandon_scope(outermost);
    rethrow_translated(what);
  }
}

template <typename F>
auto Connection::read(std::string_view what, F&& fn) -> decltype(fn()) {
  std::lock_guard lock(mutex_);
  try {
    return fn();
  } catch (...) {
    rethrow_translated(what);
  }
}

// --- Binding and reading helpers shared by the operation files -------------------------------

// Throws fleetml::Error "storage: <what>: <why>": the one way operations reject bad input.
[[noreturn]] void reject(std::string_view what, std::string_view why);

// Rejects an empty `value` (an id or key) as "<name> is empty".
void require_non_empty(std::string_view what, std::string_view name, std::string_view value);

// SQLite integers are signed 64-bit; larger unsigned values are rejected rather than wrapped.
std::int64_t to_sql_int(std::string_view what, std::string_view name, std::uint64_t value);

// A LIMIT for `count` rows (SQLite's is signed; larger counts mean all rows).
std::int64_t sql_limit(std::size_t count);

// Rejects NaN, infinities and negative values.
void require_non_negative(std::string_view what, std::string_view name, double value);

std::string serialize(std::string_view what, const google::protobuf::Message& message);

// Parses a stored blob column into `message`; throws fleetml::Error if the row is unreadable.
void parse_column(std::string_view what, const SQLite::Column& column,
                  google::protobuf::Message& message);

void bind_blob(SQLite::Statement& statement, int index, std::string_view bytes);

// Whether a signed message carries a signature of the right shape. Storage does not verify it
// (shared/crypto does, before anything is stored); it only refuses unsigned metadata.
bool carries_signature(const v1::Signature& signature);

}  // namespace fleetml::storage::internal
