#include "shared/delivery/download.h"

#include <algorithm>
#include <csignal>
#include <set>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/reasons.h"
#include "shared/crypto/test_support.h"
#include "shared/delivery/sinks.h"
#include "shared/delivery/test_support.h"

namespace fleetml::delivery {
namespace {

namespace fs = std::filesystem;
namespace reason = crypto::reason;
using crypto::ScopedTempDir;
using State = Download::State;
using Outcome = Download::ChunkOutcome;

constexpr std::uint32_t kBlock = 1024;
constexpr std::int64_t kFarFuture = 4'000'000'000'000;

class DownloadTest : public ::testing::Test {
 protected:
  DownloadTest()
      : store_(tmp_ / "store"),
        content_(test_bytes(20 * kBlock + 300, 7)),  // 21 blocks, the last one short
        manifest_(publish(store_, tmp_ / "in", content_, "mobilenet_v2", 4, kBlock, kFarFuture)) {}

  v1::Chunk answer(const v1::FetchRequest& r) const { return serve(store_, manifest_, r); }

  ScopedTempDir tmp_;
  ManualClock clock_;
  ContentStore store_;
  std::string content_;
  v1::ManifestBody manifest_;
};

TEST_F(DownloadTest, CompletesInOrderIntoAFile) {
  FileSink sink(tmp_ / "dl");
  Download d(manifest_, sink, clock_, {.window_blocks = 3});
  while (d.state() == State::kActive) {
    const auto requests = d.next_requests();
    ASSERT_FALSE(requests.empty());
    ASSERT_LE(requests.size(), 3u);
    for (const auto& r : requests) {
      EXPECT_EQ(r.offset() % kBlock, 0u);
      EXPECT_LE(r.max_bytes(), kBlock);
      EXPECT_EQ(d.on_chunk(answer(r)), Outcome::kAccepted);
    }
  }
  ASSERT_EQ(d.state(), State::kComplete) << d.failure_detail();
  EXPECT_EQ(d.verified_prefix(), content_.size());
  EXPECT_EQ(file::read(sink.artifact_path()), content_);
  EXPECT_FALSE(fs::exists(sink.artifact_path().string() + ".part"));
  EXPECT_FALSE(fs::exists(sink.artifact_path().string() + ".progress"));
  EXPECT_EQ(d.stats().bytes(), content_.size());
  EXPECT_EQ(d.stats().resumed_from(), 0u);
  EXPECT_EQ(d.counters().requests_sent, 21u);
}

TEST_F(DownloadTest, OutOfOrderChunksAreReassembled) {
  FileSink sink(tmp_ / "dl");
  Download d(manifest_, sink, clock_, {.window_blocks = 5});
  while (d.state() == State::kActive) {
    auto requests = d.next_requests();
    std::reverse(requests.begin(), requests.end());
    for (const auto& r : requests) EXPECT_EQ(d.on_chunk(answer(r)), Outcome::kAccepted);
  }
  ASSERT_EQ(d.state(), State::kComplete) << d.failure_detail();
  EXPECT_EQ(file::read(sink.artifact_path()), content_);
}

TEST_F(DownloadTest, DuplicateAndUnrelatedChunksAreIgnored) {
  HashOnlySink sink;
  DownloadOptions options;
  options.window_blocks = 4;  // block 15 is not requested yet
  Download d(manifest_, sink, clock_, options);
  const auto requests = d.next_requests();
  const v1::Chunk first = answer(requests[0]);
  EXPECT_EQ(d.on_chunk(first), Outcome::kAccepted);
  EXPECT_EQ(d.on_chunk(first), Outcome::kIgnored);  // duplicate
  v1::Chunk other_version = answer(requests[1]);
  other_version.set_version(3);
  EXPECT_EQ(d.on_chunk(other_version), Outcome::kIgnored);
  v1::Chunk misaligned = answer(requests[1]);
  misaligned.set_offset(misaligned.offset() + 1);
  EXPECT_EQ(d.on_chunk(misaligned), Outcome::kIgnored);
  v1::FetchRequest unrequested = requests[0];
  unrequested.set_offset(15 * kBlock);
  EXPECT_EQ(d.on_chunk(answer(unrequested)), Outcome::kIgnored);
  EXPECT_EQ(d.counters().ignored_chunks, 4u);
  EXPECT_EQ(d.counters().rejected_chunks, 0u);
  serve_until_done(d, store_, manifest_, clock_);
  EXPECT_EQ(d.state(), State::kComplete) << d.failure_detail();
}

TEST_F(DownloadTest, TamperedBlockIsRejectedAndRequestedAgain) {
  FileSink sink(tmp_ / "dl");
  Download d(manifest_, sink, clock_);
  auto requests = d.next_requests();
  v1::Chunk bad = answer(requests[1]);
  (*bad.mutable_data())[17] ^= 0x40;
  EXPECT_EQ(d.on_chunk(bad), Outcome::kRejected);
  EXPECT_EQ(d.state(), State::kActive);
  const auto again = d.next_requests();
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again[0].offset(), requests[1].offset());  // asked again at once, no timeout
  EXPECT_EQ(d.counters().timeouts, 0u);
  serve_until_done(d, store_, manifest_, clock_);
  ASSERT_EQ(d.state(), State::kComplete) << d.failure_detail();
  EXPECT_EQ(d.counters().rejected_chunks, 1u);
  EXPECT_EQ(file::read(sink.artifact_path()), content_);
}

TEST_F(DownloadTest, PersistentTamperingFailsWithTamperedChunk) {
  FileSink sink(tmp_ / "dl");
  Download d(manifest_, sink, clock_, {.max_rejected_chunks = 2});
  serve_until_done(d, store_, manifest_, clock_, [](v1::Chunk& c) {
    if (c.offset() == 3 * kBlock) (*c.mutable_data())[0] ^= 0x01;
  });
  EXPECT_EQ(d.state(), State::kFailed);
  EXPECT_EQ(d.failure_reason(), reason::kTamperedChunk);
  EXPECT_EQ(d.counters().rejected_chunks, 3u);
  EXPECT_EQ(d.verified_prefix(), 3 * kBlock);
  EXPECT_FALSE(fs::exists(sink.artifact_path()));
  EXPECT_TRUE(d.next_requests().empty());
}

TEST_F(DownloadTest, ChunkOfTheWrongLengthIsRejected) {
  HashOnlySink sink;
  Download d(manifest_, sink, clock_, {.max_rejected_chunks = 0});
  const auto requests = d.next_requests();
  v1::Chunk longer = answer(requests[0]);
  longer.mutable_data()->append("extra");
  EXPECT_EQ(d.on_chunk(longer), Outcome::kRejected);
  EXPECT_EQ(d.failure_reason(), reason::kTamperedChunk);
}

TEST_F(DownloadTest, ErrorChunkFailsAsUnavailable) {
  HashOnlySink sink;
  Download d(manifest_, sink, clock_);
  const auto requests = d.next_requests();
  v1::Chunk error;
  error.set_model_id(manifest_.model_id());
  error.set_version(manifest_.version());
  error.set_offset(requests[0].offset());
  error.set_error("unknown model version\n(forged second line)");
  EXPECT_EQ(d.on_chunk(error), Outcome::kRejected);
  EXPECT_EQ(d.failure_reason(), reason::kUnavailable);
  EXPECT_EQ(d.failure_detail().find('\n'), std::string::npos);
}

TEST_F(DownloadTest, UnansweredRequestsAreSentAgainAfterTheTimeout) {
  HashOnlySink sink;
  Download d(manifest_, sink, clock_,
             {.window_blocks = 2, .request_timeout = std::chrono::seconds(10)});
  const auto first = d.next_requests();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_TRUE(d.next_requests().empty());
  EXPECT_EQ(d.next_deadline(), clock_.now() + std::chrono::seconds(10));
  clock_.advance(std::chrono::seconds(9));
  EXPECT_TRUE(d.next_requests().empty());
  clock_.advance(std::chrono::seconds(1));
  const auto again = d.next_requests();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].offset(), first[0].offset());
  EXPECT_EQ(again[1].offset(), first[1].offset());
  EXPECT_EQ(d.counters().timeouts, 2u);
  // The original answer arriving late is still good.
  EXPECT_EQ(d.on_chunk(answer(first[0])), Outcome::kAccepted);
}

TEST_F(DownloadTest, WindowNeverRunsAheadOfTheVerifiedPrefix) {
  HashOnlySink sink;
  Download d(manifest_, sink, clock_, {.window_blocks = 4});
  const auto requests = d.next_requests();
  ASSERT_EQ(requests.size(), 4u);
  // Everything but block 0 arrives: nothing new may be asked until block 0 is in.
  for (std::size_t i = 1; i < requests.size(); ++i) d.on_chunk(answer(requests[i]));
  EXPECT_TRUE(d.next_requests().empty());
  EXPECT_EQ(d.verified_prefix(), 0u);
  d.on_chunk(answer(requests[0]));
  EXPECT_EQ(d.verified_prefix(), 4 * kBlock);
  const auto next = d.next_requests();
  ASSERT_EQ(next.size(), 4u);
  EXPECT_EQ(next.front().offset(), 4 * kBlock);
  EXPECT_EQ(next.back().offset(), 7 * kBlock);
}

// A simulated vehicle's link delivers chunks later than the broker hands them over: each is
// verified and stored at once (nothing of it needs keeping), the window and the outcome follow
// the delivery times.
// A HashOnlySink that counts what reached it (digest() would end the hash) and records the
// prefix it held at each commit.
class CountingSink final : public DownloadSink {
 public:
  std::uint64_t open(const v1::ManifestBody& manifest) override { return sink_.open(manifest); }
  void append(std::string_view data) override {
    appended += data.size();
    sink_.append(data);
  }
  void commit() override { commits.push_back(appended); }
  crypto::FileDigest digest() override { return sink_.digest(); }
  void complete() override {}

  std::uint64_t appended = 0;
  std::vector<std::uint64_t> commits;

 private:
  HashOnlySink sink_;
};

TEST_F(DownloadTest, ChunksDeliveredLaterAreStoredAtOnceAndPaceTheWindow) {
  using std::chrono::seconds;
  CountingSink sink;
  Download d(manifest_, sink, clock_, {.window_blocks = 2});
  const Clock::TimePoint start = clock_.now();
  const auto first = d.next_requests();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(d.on_chunk(answer(first[0]), start + seconds(1)), Outcome::kAccepted);
  EXPECT_EQ(d.on_chunk(answer(first[1]), start + seconds(2)), Outcome::kAccepted);
  EXPECT_EQ(sink.appended, 2 * kBlock);  // in the running hash already
  EXPECT_EQ(d.verified_prefix(), 2 * kBlock);
  EXPECT_TRUE(d.next_requests().empty());  // both still occupy the window
  EXPECT_EQ(d.next_deadline(), start + seconds(1));
  EXPECT_EQ(d.on_chunk(answer(first[0])), Outcome::kIgnored);  // taken, landing
  clock_.set(start + seconds(1));
  auto next = d.next_requests();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].offset(), 2 * kBlock);
  clock_.set(start + seconds(2));
  next.push_back(d.next_requests().at(0));
  EXPECT_EQ(next[1].offset(), 3 * kBlock);
  // The rest arrives in one go, the link delivering the last block at start + 9 s.
  Clock::TimePoint delivered = start + seconds(2);
  while (d.verified_prefix() < content_.size()) {
    for (const auto& r : next) {
      delivered += std::chrono::milliseconds(350);
      EXPECT_EQ(d.on_chunk(answer(r), delivered), Outcome::kAccepted);
    }
    clock_.set(delivered);
    next = d.next_requests();
  }
  EXPECT_EQ(sink.appended, content_.size());
  clock_.set(start + seconds(2));
  EXPECT_EQ(d.state(), State::kActive);  // verified, but its last chunk has not arrived
  EXPECT_EQ(d.next_deadline(), delivered);
  clock_.set(delivered);
  ASSERT_EQ(d.state(), State::kComplete) << d.failure_detail();
  EXPECT_DOUBLE_EQ(d.stats().duration_s(),
                   std::chrono::duration<double>(delivered - start).count());
  EXPECT_EQ(d.counters().requests_sent, 21u);
}

TEST_F(DownloadTest, RejectionsAndFailuresActWhenTheBadChunkIsDelivered) {
  using std::chrono::seconds;
  HashOnlySink sink;
  Download d(manifest_, sink, clock_, {.window_blocks = 2, .max_rejected_chunks = 1});
  const Clock::TimePoint start = clock_.now();
  const auto requests = d.next_requests();
  v1::Chunk bad = answer(requests[0]);
  (*bad.mutable_data())[5] ^= 0x40;
  EXPECT_EQ(d.on_chunk(bad, start + seconds(2)), Outcome::kRejected);
  EXPECT_TRUE(d.next_requests().empty());  // asked again only once it has arrived
  clock_.set(start + seconds(2));
  const auto again = d.next_requests();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].offset(), requests[0].offset());
  // The second bad chunk fails the download, visibly only when the link delivers it.
  EXPECT_EQ(d.on_chunk(bad, start + seconds(5)), Outcome::kRejected);
  EXPECT_EQ(d.state(), State::kActive);
  EXPECT_TRUE(d.next_requests().empty());
  clock_.set(start + seconds(5));
  EXPECT_EQ(d.state(), State::kFailed);
  EXPECT_EQ(d.failure_reason(), reason::kTamperedChunk);
  EXPECT_DOUBLE_EQ(d.stats().duration_s(), 5);
}

TEST_F(DownloadTest, ARequestWhoseChunkIsStillLandingTimesOut) {
  HashOnlySink sink;
  Download d(manifest_, sink, clock_,
             {.window_blocks = 1, .request_timeout = std::chrono::seconds(10)});
  const auto first = d.next_requests();
  d.on_chunk(answer(first[0]), clock_.now() + std::chrono::seconds(15));
  clock_.advance(std::chrono::seconds(10));
  const auto again = d.next_requests();  // a real vehicle would not have it by now either
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].offset(), 0u);
  EXPECT_EQ(d.counters().timeouts, 1u);
  clock_.advance(std::chrono::seconds(5));
  const auto next = d.next_requests();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].offset(), kBlock);
  EXPECT_EQ(d.on_chunk(answer(again[0])), Outcome::kIgnored);  // the duplicate
}

TEST_F(DownloadTest, ResumesAfterReopeningTheFileSinkWithinOneWindow) {
  constexpr std::uint32_t kWindow = 4;
  std::set<std::uint64_t> received;  // offsets whose bytes reached the first run
  {
    FileSink sink(tmp_ / "dl");
    Download d(manifest_, sink, clock_, {.window_blocks = kWindow, .commit_bytes = 0});
    // Answer in reverse within each window and stop half way, with the last window's later
    // blocks verified but waiting for its first one.
    for (int round = 0; round < 3; ++round) {
      auto requests = d.next_requests();
      std::reverse(requests.begin(), requests.end());
      for (const auto& r : requests) {
        if (round == 2 && r.offset() == 8 * kBlock) continue;
        d.on_chunk(answer(r));
        received.insert(r.offset());
      }
    }
    EXPECT_EQ(d.verified_prefix(), 8 * kBlock);
  }  // "crash": the Download and its in-memory blocks are gone
  FileSink sink(tmp_ / "dl");
  Download d(manifest_, sink, clock_, {.window_blocks = kWindow, .commit_bytes = 0});
  EXPECT_EQ(d.resumed_from(), 8 * kBlock);
  std::uint64_t refetched = 0;
  while (d.state() == State::kActive) {
    for (const auto& r : d.next_requests()) {
      EXPECT_GE(r.offset(), 8 * kBlock);
      if (received.contains(r.offset())) refetched += r.max_bytes();
      d.on_chunk(answer(r));
    }
  }
  ASSERT_EQ(d.state(), State::kComplete) << d.failure_detail();
  EXPECT_LE(refetched, kWindow * kBlock);
  EXPECT_EQ(d.stats().resumed_from(), 8 * kBlock);
  EXPECT_EQ(file::read(sink.artifact_path()), content_);
}

TEST_F(DownloadTest, CommitsEveryFewBlocksOrEverySoOftenNotAtEveryBlock) {
  CountingSink by_bytes;
  Download d(manifest_, by_bytes, clock_, {.window_blocks = 4, .commit_bytes = 5 * kBlock});
  serve_until_done(d, store_, manifest_, clock_);
  ASSERT_EQ(d.state(), State::kComplete) << d.failure_detail();
  // 21 blocks: committed once the prefix had grown by 5 blocks (in-order arrival), the last
  // stretch made durable by complete() instead.
  EXPECT_EQ(by_bytes.commits,
            (std::vector<std::uint64_t>{5 * kBlock, 10 * kBlock, 15 * kBlock, 20 * kBlock}));

  CountingSink by_time;
  Download t(
      manifest_, by_time, clock_,
      {.window_blocks = 1, .commit_bytes = 1 << 30, .commit_interval = std::chrono::seconds(10)});
  for (int block = 0; block < 6; ++block) {
    clock_.advance(std::chrono::seconds(3));
    t.on_chunk(answer(t.next_requests().at(0)));
  }
  // Blocks at 3, 6, ..., 18 s: one commit at 12 s, 10 s after the start, of the 3 blocks
  // verified when the 4th was asked for.
  EXPECT_EQ(by_time.commits, (std::vector<std::uint64_t>{3 * kBlock}));
  // A stalled download commits when asked for requests once the interval has passed, and
  // says when that will be.
  EXPECT_EQ(t.next_deadline(), clock_.now() + std::chrono::seconds(4));  // 12 s + 10 s
  clock_.advance(std::chrono::seconds(4));
  t.next_requests();
  EXPECT_EQ(by_time.commits, (std::vector<std::uint64_t>{3 * kBlock, 6 * kBlock}));
  clock_.advance(std::chrono::seconds(20));
  t.next_requests();  // nothing new to commit
  EXPECT_EQ(by_time.commits.size(), 2u);
}

// A real kill -9 in the middle of a download (forked child), then a resume in this process.
TEST_F(DownloadTest, KillNineMidDownloadResumesWithinOneWindow) {
  constexpr std::uint32_t kWindow = 3;
  constexpr int kChunksBeforeKill = 11;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    FileSink sink(tmp_ / "dl");
    Download d(manifest_, sink, clock_, {.window_blocks = kWindow, .commit_bytes = 0});
    int delivered = 0;
    while (true) {
      auto requests = d.next_requests();
      std::reverse(requests.begin(), requests.end());
      for (const auto& r : requests) {
        d.on_chunk(answer(r));
        if (++delivered == kChunksBeforeKill) ::raise(SIGKILL);
      }
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  FileSink sink(tmp_ / "dl");
  Download d(manifest_, sink, clock_, {.window_blocks = kWindow, .commit_bytes = 0});
  EXPECT_GE(d.resumed_from() + kWindow * kBlock, std::uint64_t{kChunksBeforeKill} * kBlock);
  serve_until_done(d, store_, manifest_, clock_);
  ASSERT_EQ(d.state(), State::kComplete) << d.failure_detail();
  EXPECT_EQ(file::read(sink.artifact_path()), content_);
}

TEST_F(DownloadTest, CorruptedPartialFileIsReverifiedOnResume) {
  {
    FileSink sink(tmp_ / "dl");
    Download d(manifest_, sink, clock_, {.window_blocks = 1, .commit_bytes = 0});
    for (int i = 0; i < 5; ++i) {
      for (const auto& r : d.next_requests()) d.on_chunk(answer(r));
    }
    EXPECT_EQ(d.verified_prefix(), 5 * kBlock);
  }
  const fs::path part = tmp_ / "dl" / (manifest_.sha256() + ".part");
  std::string bytes = file::read(part);
  bytes[2 * kBlock + 5] ^= 0x01;  // bit rot in block 2
  file::write_atomic(part, bytes);

  FileSink sink(tmp_ / "dl");
  Download d(manifest_, sink, clock_);
  EXPECT_EQ(d.resumed_from(), 2 * kBlock);
  EXPECT_EQ(fs::file_size(part), 2 * kBlock);  // anything beyond is dropped
  serve_until_done(d, store_, manifest_, clock_);
  ASSERT_EQ(d.state(), State::kComplete) << d.failure_detail();
  EXPECT_EQ(file::read(sink.artifact_path()), content_);
}

TEST_F(DownloadTest, CompletedArtifactIsRecheckedAndReusedOnReopen) {
  {
    FileSink sink(tmp_ / "dl");
    Download d(manifest_, sink, clock_);
    serve_until_done(d, store_, manifest_, clock_);
    ASSERT_EQ(d.state(), State::kComplete);
  }
  FileSink sink(tmp_ / "dl");
  Download d(manifest_, sink, clock_);
  EXPECT_EQ(d.state(), State::kComplete);
  EXPECT_EQ(d.resumed_from(), content_.size());
  EXPECT_TRUE(d.next_requests().empty());
  EXPECT_EQ(file::read(sink.artifact_path()), content_);
}

TEST_F(DownloadTest, DiscardRemovesEveryFileOfTheArtifact) {
  FileSink sink(tmp_ / "dl");
  Download d(manifest_, sink, clock_, {.window_blocks = 2, .commit_bytes = 0});
  for (const auto& r : d.next_requests()) d.on_chunk(answer(r));
  EXPECT_TRUE(fs::exists(tmp_ / "dl" / (manifest_.sha256() + ".progress")));
  sink.discard();
  EXPECT_TRUE(fs::is_empty(tmp_ / "dl"));
  FileSink fresh(tmp_ / "dl");
  EXPECT_EQ(Download(manifest_, fresh, clock_).resumed_from(), 0u);
}

TEST_F(DownloadTest, ProgressOfAnotherArtifactIsIgnored) {
  fs::create_directories(tmp_ / "dl");
  file::write_atomic(tmp_ / "dl" / (manifest_.sha256() + ".progress"),
                     R"({"sha256": "0000", "verified_bytes": 99999})");
  file::write_atomic(tmp_ / "dl" / (manifest_.sha256() + ".part"), std::string(5000, 'x'));
  FileSink sink(tmp_ / "dl");
  Download d(manifest_, sink, clock_);
  EXPECT_EQ(d.resumed_from(), 0u);
  serve_until_done(d, store_, manifest_, clock_);
  EXPECT_EQ(d.state(), State::kComplete) << d.failure_detail();
}

TEST_F(DownloadTest, EmptyArtifactCompletesAtOnce) {
  const v1::ManifestBody empty = publish(store_, tmp_ / "in", "", "empty", 1, kBlock, kFarFuture);
  HashOnlySink sink;
  Download d(empty, sink, clock_);
  EXPECT_EQ(d.state(), State::kComplete) << d.failure_detail();
  EXPECT_TRUE(d.next_requests().empty());
}

TEST_F(DownloadTest, MalformedManifestIsAProgrammingError) {
  v1::ManifestBody broken = manifest_;
  broken.mutable_block_sha256()->RemoveLast();
  HashOnlySink sink;
  EXPECT_THROW(Download(broken, sink, clock_), Error);
}

// Stand-in for storage that corrupts or loses data after the block check passed: only the
// final whole-file check can catch it.
class LossyStorageSink : public DownloadSink {
 public:
  enum class Fault { kFlipByte, kDropByte };
  explicit LossyStorageSink(Fault fault) : fault_(fault) {}
  std::uint64_t open(const v1::ManifestBody&) override { return 0; }
  void append(std::string_view data) override {
    std::string stored(data);
    if (!corrupted_) {
      if (fault_ == Fault::kFlipByte) stored[0] ^= 0x01;
      if (fault_ == Fault::kDropByte) stored.pop_back();
      corrupted_ = true;
    }
    hash_.update(stored);
  }
  void commit() override {}
  crypto::FileDigest digest() override {
    crypto::FileDigest d;
    d.size_bytes = hash_.size_bytes();
    d.sha256 = hash_.finish();
    return d;
  }
  void complete() override { completed_ = true; }
  bool completed_ = false;

 private:
  Fault fault_;
  bool corrupted_ = false;
  crypto::Sha256 hash_;
};

TEST_F(DownloadTest, FinalWholeFileCheckCatchesStorageFaults) {
  for (auto [fault, expected] :
       {std::pair{LossyStorageSink::Fault::kFlipByte, reason::kHashMismatch},
        std::pair{LossyStorageSink::Fault::kDropByte, reason::kSizeMismatch}}) {
    LossyStorageSink sink(fault);
    Download d(manifest_, sink, clock_);
    serve_until_done(d, store_, manifest_, clock_);
    EXPECT_EQ(d.state(), State::kFailed);
    EXPECT_EQ(d.failure_reason(), expected);
    EXPECT_FALSE(sink.completed_);
  }
}

}  // namespace
}  // namespace fleetml::delivery
