// Opening, migrations, transactions, threads, a full database and crash consistency.

#include "coordinator/storage/database.h"

#include <atomic>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coordinator/storage/schema.h"
#include "coordinator/storage/test_util.h"
#include "shared/common/error.h"

namespace fleetml::storage {
namespace {

using ::testing::HasSubstr;
using testing::make_capability;

class DatabaseTest : public testing::StorageTest {
 protected:
  // The schema as SQLite describes it, to compare files migrated along different paths.
  static std::string schema_sql(const std::filesystem::path& path) {
    SQLite::Database raw(path, SQLite::OPEN_READONLY);
    SQLite::Statement rows(raw, "SELECT type, name, sql FROM sqlite_master ORDER BY name");
    std::string out;
    while (rows.executeStep()) {
      out += rows.getColumn(0).getString() + " " + rows.getColumn(1).getString() + " " +
             rows.getColumn(2).getString() + "\n";
    }
    return out;
  }
};

TEST_F(DatabaseTest, CreatesFileAndParentDirectoriesInWalMode) {
  auto db = open();
  EXPECT_TRUE(std::filesystem::exists(db_path()));
  EXPECT_EQ(db->path(), db_path());
  EXPECT_EQ(db->schema_version(), schema::latest_version());
  EXPECT_EQ(db->integrity_check(), "ok");
  SQLite::Database raw(db_path(), SQLite::OPEN_READONLY);
  EXPECT_EQ(raw.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST_F(DatabaseTest, FullSynchronousModeWorks) {
  Database::Options options;
  options.synchronous = Database::Synchronous::kFull;
  {
    auto db = open(options);
    db->put_blob("x", "1");
  }
  EXPECT_EQ(open(options)->blob("x"), "1");
}

TEST_F(DatabaseTest, RejectsInvalidOptionsAndUnopenablePaths) {
  Database::Options options;
  options.link_samples_per_vehicle = 0;
  EXPECT_THROW(open(options), Error);
  options = {};
  options.max_size_bytes = -1;
  EXPECT_THROW(open(options), Error);
  // A directory where the file should be.
  std::filesystem::create_directories(db_path());
  try {
    open();
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(db_path().string()));
  }
}

TEST_F(DatabaseTest, RefusesFilesThatAreNotDatabases) {
  std::filesystem::create_directories(db_path().parent_path());
  std::ofstream(db_path()) << "this is not an SQLite database, just some text long enough.....";
  EXPECT_THROW(open(), Error);
}

TEST_F(DatabaseTest, MigratesAnEmptyFile) {
  std::filesystem::create_directories(db_path().parent_path());
  std::ofstream(db_path()).close();  // zero bytes, as a failed earlier start might leave
  auto db = open();
  EXPECT_EQ(db->schema_version(), schema::latest_version());
  db->save_capability(make_capability("v", 1), "k");
}

TEST_F(DatabaseTest, ReopeningIsIdempotent) {
  { open()->save_capability(make_capability("v", 1), "k"); }
  const std::string before = schema_sql(db_path());
  {
    auto db = open();
    EXPECT_EQ(db->schema_version(), schema::latest_version());
    EXPECT_EQ(db->vehicle("v")->capability_seq, 1u);
  }
  SQLite::Database raw(db_path(), SQLite::OPEN_READWRITE);
  schema::migrate(raw, schema::latest_version());
  EXPECT_EQ(schema_sql(db_path()), before);
}

// Every older version, with data in it, upgrades to the same schema as a fresh file and keeps
// its rows.
TEST_F(DatabaseTest, MigratesFromEveryEarlierVersion) {
  { open(); }
  const std::string fresh = schema_sql(db_path());
  std::filesystem::remove_all(db_path().parent_path());

  for (int from = 0; from < schema::latest_version(); ++from) {
    SCOPED_TRACE("from version " + std::to_string(from));
    std::filesystem::remove_all(db_path().parent_path());
    std::filesystem::create_directories(db_path().parent_path());
    {
      SQLite::Database raw(db_path(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      raw.exec("PRAGMA journal_mode = WAL");
      schema::migrate(raw, from);
      ASSERT_EQ(schema::version(raw), from);
      if (from >= 1) {  // version 1 has vehicles and accepted seqs
        const auto cap = make_capability("old", 4).SerializeAsString();
        SQLite::Statement insert(raw,
                                 "INSERT INTO vehicles (vehicle_id, capability, capability_seq, "
                                 "device_key, capability_unix_ms) VALUES ('old', ?, 4, 'k', 5)");
        insert.bind(1, cap.data(), static_cast<int>(cap.size()));
        insert.exec();
        raw.exec("INSERT INTO accepted_seqs VALUES ('old', 'capability', 4)");
        for (int seq = 2; seq <= 4; ++seq) {
          SQLite::Statement history(raw,
                                    "INSERT INTO capability_history (vehicle_id, seq, "
                                    "received_unix_ms, device_key, capability) "
                                    "VALUES ('old', ?, 5, 'k', ?)");
          history.bind(1, seq);
          history.bind(2, cap.data(), static_cast<int>(cap.size()));
          history.exec();
        }
      }
    }
    Database::Options three_kept;
    three_kept.capability_history_per_vehicle = 3;
    auto db = open(three_kept);
    EXPECT_EQ(db->schema_version(), schema::latest_version());
    if (from >= 1) {
      const auto v = db->vehicle("old");
      ASSERT_TRUE(v.has_value());
      EXPECT_EQ(v->capability->seq(), 4u);
      EXPECT_FALSE(db->accept_seq("old", MessageKind::kCapability, 4));
      // Version 3 counted the three entries it found: the next capability trims exactly one.
      ASSERT_TRUE(db->save_capability(make_capability("old", 5), "k"));
      const auto history = db->capability_history("old", 10);
      ASSERT_EQ(history.size(), 3u);
      EXPECT_EQ(history.front().capability.seq(), 5u);
    }
    db->add_measurement(testing::make_measurement("old", "k", "m", 5));  // a version-2 table
    db.reset();
    EXPECT_EQ(schema_sql(db_path()), fresh);
  }
}

TEST_F(DatabaseTest, RefusesAFileFromANewerVersion) {
  { open(); }
  {
    SQLite::Database raw(db_path(), SQLite::OPEN_READWRITE);
    raw.exec("PRAGMA user_version = " + std::to_string(schema::latest_version() + 1));
  }
  try {
    open();
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("newer"));
  }
}

TEST_F(DatabaseTest, TransactionCommitsAllOrNothing) {
  auto db = open();
  db->transaction([&] {
    for (std::uint64_t seq = 1; seq <= 100; ++seq) {
      ASSERT_TRUE(db->save_capability(make_capability("v", seq), "k"));
    }
  });
  EXPECT_EQ(db->vehicle("v")->capability_seq, 100u);

  EXPECT_THROW(db->transaction([&] {
    ASSERT_TRUE(db->save_capability(make_capability("v", 101), "k"));
    db->append_event("x", "v", {});
    throw std::runtime_error("handler failed");
  }),
               std::runtime_error);
  EXPECT_EQ(db->vehicle("v")->capability_seq, 100u);
  EXPECT_EQ(db->last_seq("v", MessageKind::kCapability), 100u);
  EXPECT_TRUE(db->recent_events(10).empty());
}

TEST_F(DatabaseTest, FailedOperationInsideTransactionUndoesOnlyItself) {
  auto db = open();
  db->transaction([&] {
    db->save_capability(make_capability("v", 1), "k");
    // Rejected before it starts...
    EXPECT_THROW(db->add_measurement(testing::make_measurement("v", "", "m", 1)), Error);
    // ... and after it has started writing (the seq check runs inside its own scope).
    EXPECT_THROW(db->save_assignment(testing::make_assignment("v", 7), "{}"), Error);
    // A nested transaction that throws undoes its own writes only.
    EXPECT_THROW(db->transaction([&] {
      db->append_event("inner", "v", {});
      throw Error("inner failed");
    }),
                 Error);
    db->append_event("outer", "v", {});
  });
  EXPECT_EQ(db->vehicle("v")->capability_seq, 1u);
  EXPECT_TRUE(db->all_measurements().empty());
  EXPECT_FALSE(db->latest_assignment("v").has_value());
  const auto events = db->recent_events(10);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "outer");
}

TEST_F(DatabaseTest, ConcurrentWritersOnOneDatabase) {
  auto db = open();
  constexpr int kPerThread = 300;
  std::atomic<int> errors{0};
  auto ingest = [&] {
    try {
      for (int i = 1; i <= kPerThread; ++i) {
        google::protobuf::RepeatedPtrField<v1::LinkSample> s;
        *s.Add() = testing::make_sample(i * 1000, i);
        db->transaction([&] {
          db->save_capability(make_capability("a", i), "k");
          db->append_link_samples("a", s);
        });
      }
    } catch (...) {
      ++errors;
    }
  };
  auto planner = [&] {
    try {
      for (int i = 1; i <= kPerThread; ++i) {
        db->append_event("tick", "", {{"i", i}});
        db->save_assignment(testing::make_assignment("b", db->next_assignment_seq("b")), "{}");
        db->vehicles();
      }
    } catch (...) {
      ++errors;
    }
  };
  std::thread t1(ingest);
  std::thread t2(planner);
  t1.join();
  t2.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(db->vehicle("a")->capability_seq, static_cast<std::uint64_t>(kPerThread));
  EXPECT_EQ(db->recent_link_samples("a", 10'000).size(), static_cast<std::size_t>(kPerThread));
  EXPECT_EQ(db->recent_events(10'000).size(), static_cast<std::size_t>(kPerThread));
  EXPECT_EQ(db->latest_assignment("b")->seq, static_cast<std::uint64_t>(kPerThread));
}

// Two Database objects (two connections, as two processes would have) on one file: SQLite's
// locks and the busy timeout serialize them.
TEST_F(DatabaseTest, ConcurrentWritersOnTwoConnections) {
  auto first = open();
  auto second = open();
  constexpr int kPerThread = 200;
  std::atomic<int> errors{0};
  auto writer = [&](Database& db, const std::string& tag) {
    try {
      for (int i = 0; i < kPerThread; ++i) {
        db.transaction([&] {
          db.append_event(tag, "", {{"i", i}});
          db.put_blob(tag, std::to_string(i));
        });
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
      ++errors;
    }
  };
  std::thread t1(writer, std::ref(*first), "first");
  std::thread t2(writer, std::ref(*second), "second");
  t1.join();
  t2.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(first->recent_events_of_type("second", 1000).size(),
            static_cast<std::size_t>(kPerThread));
  EXPECT_EQ(second->blob("first"), std::to_string(kPerThread - 1));
  EXPECT_EQ(first->integrity_check(), "ok");
}

TEST_F(DatabaseTest, FullDatabaseIsAClearErrorAndRecoverable) {
  Database::Options options;
  options.max_size_bytes = 512 * 1024;
  auto db = open(options);
  db->save_capability(make_capability("v", 1), "k");
  const std::string chunk(32 * 1024, 'x');
  int stored = 0;
  std::string message;
  for (; stored < 100; ++stored) {
    try {
      db->put_blob("fill-" + std::to_string(stored), chunk);
    } catch (const Error& e) {
      message = e.what();
      break;
    }
  }
  ASSERT_LT(stored, 100) << "the size bound never hit";
  ASSERT_GT(stored, 0);
  EXPECT_THAT(message, HasSubstr("full"));
  EXPECT_THAT(message, HasSubstr("fill-" + std::to_string(stored)));
  EXPECT_FALSE(db->blob("fill-" + std::to_string(stored)).has_value());

  // A transaction that runs into the bound leaves none of its writes behind.
  EXPECT_THROW(db->transaction([&] {
    db->append_event("before-full", "", {});
    db->put_blob("too-much", chunk);
  }),
               Error);
  EXPECT_TRUE(db->recent_events_of_type("before-full", 10).empty());

  // A body that catches the error either commits its other writes (SQLite undid only the failed
  // statement) or is refused as a whole (SQLite abandoned the transaction): never a part.
  bool committed = true;
  try {
    db->transaction([&] {
      db->append_event("around-full", "", {});
      try {
        db->put_blob("too-much", chunk);
      } catch (const Error&) {
      }
      db->append_event("around-full", "", {});
    });
  } catch (const Error&) {
    committed = false;
  }
  EXPECT_EQ(db->recent_events_of_type("around-full", 10).size(), committed ? 2u : 0u);
  EXPECT_FALSE(db->blob("too-much").has_value());

  // Reads and small updates of existing pages still work; freeing space makes room again.
  EXPECT_EQ(db->vehicle("v")->capability_seq, 1u);
  EXPECT_EQ(db->integrity_check(), "ok");
  db->transaction([&] {
    for (int i = 0; i < 4; ++i) db->put_blob("fill-" + std::to_string(i), "");
  });
  db->put_blob("after", std::string(64 * 1024, 'y'));
  EXPECT_EQ(db->blob("after")->size(), 64u * 1024);
  db->save_capability(make_capability("v", 2), "k");
  EXPECT_EQ(db->integrity_check(), "ok");
  db.reset();
  EXPECT_EQ(open(options)->vehicle("v")->capability_seq, 2u);
}

// A child process streams transactions and reports each commit on a pipe; the test kills it with
// SIGKILL mid-stream, reopens the file and checks it holds exactly the whole transactions, at
// least every acknowledged one. Each transaction writes 10 events tagged with its number and a
// counter blob; every 4th also rewrites a 3 MB blob, more than SQLite's page cache holds, so
// uncommitted pages are spilled into the WAL before the commit and a kill can land there.
TEST_F(DatabaseTest, KillNineMidStreamLeavesOnlyWholeTransactions) {
  constexpr int kEventsPerTransaction = 10;
  std::int64_t acknowledged = 0;
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      try {
        Database db(db_path(), SystemClock::instance());
        const auto counter = db.blob("counter");
        for (std::int64_t tx = counter ? std::stoll(*counter) + 1 : 1;; ++tx) {
          db.transaction([&] {
            for (int k = 0; k < kEventsPerTransaction; ++k) {
              db.append_event("tx", "", {{"tx", tx}, {"k", k}});
              if (k == 5 && tx % 4 == 0) {
                db.put_blob("ballast", std::string(3 << 20, static_cast<char>(tx)));
              }
            }
            db.put_blob("counter", std::to_string(tx));
          });
          if (::write(fds[1], &tx, sizeof tx) != sizeof tx) ::_exit(3);
        }
      } catch (...) {
        ::_exit(2);
      }
    }
    ::close(fds[1]);
    // Let it commit a while, then kill it wherever it is; the pause varies the spot.
    std::int64_t tx = 0;
    for (int seen = 0; seen < 30 && ::read(fds[0], &tx, sizeof tx) == sizeof tx; ++seen) {
      acknowledged = tx;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(3 * round));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    while (::read(fds[0], &tx, sizeof tx) == sizeof tx) acknowledged = tx;  // drain
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);

    auto db = open();
    EXPECT_EQ(db->integrity_check(), "ok");
    const std::int64_t committed = std::stoll(db->blob("counter").value());
    EXPECT_GE(committed, acknowledged);
    std::map<std::int64_t, int> per_tx;
    for (const auto& e : db->recent_events_of_type("tx", 1'000'000)) {
      ++per_tx[e.detail["tx"].get<std::int64_t>()];
    }
    ASSERT_EQ(per_tx.size(), static_cast<std::size_t>(committed));
    EXPECT_EQ(per_tx.begin()->first, 1);
    EXPECT_EQ(per_tx.rbegin()->first, committed);
    for (const auto& [number, count] : per_tx) {
      ASSERT_EQ(count, kEventsPerTransaction) << "transaction " << number;
    }
    const std::string ballast = db->blob("ballast").value();
    ASSERT_EQ(ballast.size(), 3u << 20);
    EXPECT_EQ(ballast.front(), static_cast<char>(committed / 4 * 4));
    EXPECT_EQ(ballast.find_first_not_of(ballast.front()), std::string::npos);
  }
}

}  // namespace
}  // namespace fleetml::storage
