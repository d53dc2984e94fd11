#pragma once

// Internal to fleetml_storage (and its tests): the schema and its migrations.

namespace SQLite {
class Database;
}

namespace fleetml::storage::schema {

// The schema version this code writes (PRAGMA user_version of a fully migrated file).
int latest_version();

// The file's PRAGMA user_version; 0 for a new, empty file.
int version(SQLite::Database& db);

// Applies the missing migrations up to `target`, each in its own IMMEDIATE transaction that
// re-reads the version first, so re-running it, or two processes opening the same file at once,
// is harmless. Forward only: a file already past `target` is left as it is, and one newer than
// this code knows (a newer coordinator wrote it) is refused with fleetml::Error, as is a
// `target` out of range. SQLite errors propagate as SQLite::Exception.
void migrate(SQLite::Database& db, int target);

}  // namespace fleetml::storage::schema
