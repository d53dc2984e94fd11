#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "schemas/fleet.pb.h"
#include "shared/common/clock.h"
#include "shared/crypto/sha256.h"

namespace fleetml::delivery {

// Where a Download puts verified bytes. The Download hands it blocks strictly in order, each
// already checked against the manifest's block hash, so a sink only ever holds a verified
// prefix of the artifact.
class DownloadSink {
 public:
  virtual ~DownloadSink() = default;

  // Prepares to receive the artifact `manifest` describes (its shape already checked) and
  // returns how many leading bytes it already holds, verified against the manifest's block
  // hashes: a multiple of block_size, or size_bytes. The download resumes there.
  virtual std::uint64_t open(const v1::ManifestBody& manifest) = 0;
  // The next verified bytes, contiguous with everything appended before.
  virtual void append(std::string_view data) = 0;
  // Makes everything appended so far survive a crash, so a later open() returns at least it.
  virtual void commit() = 0;
  // SHA-256 and size of everything the sink holds, computed from what it stores.
  virtual crypto::FileDigest digest() = 0;
  // The whole artifact matched the manifest; the sink may now publish it.
  virtual void complete() = 0;
};

// The largest download window a vehicle may use: the coordinator keeps this many pending
// FetchRequests per vehicle and drops the oldest beyond them (docs/protocol.md), so the
// requests of a larger window would be dropped and time out.
inline constexpr std::uint32_t kMaxWindowBlocks = 32;

struct DownloadOptions {
  // Requests in flight at once (W), one block each, 1 to kMaxWindowBlocks. A larger window
  // fills a long fat link; after a crash at most this many blocks are fetched again.
  std::uint32_t window_blocks = 16;
  // A request unanswered for this long (Clock time) is sent again.
  Clock::Duration request_timeout = std::chrono::seconds(30);
  // Chunks that fail their length or block hash are re-requested; one more than this many
  // and the download fails with reason tampered_chunk.
  std::uint32_t max_rejected_chunks = 3;
  // The sink commits the verified prefix once it has grown by commit_bytes, or commit_interval
  // (Clock time) after the last commit, not at every block: a commit is an fsync or two, which
  // on an SD card costs more than receiving a 256 KiB block over 5G. After a crash, what is
  // fetched again is at most this plus one window. 0 bytes: commit at every block.
  std::uint64_t commit_bytes = 8 << 20;
  Clock::Duration commit_interval = std::chrono::seconds(1);
};

struct DownloadCounters {
  std::uint64_t bytes_received = 0;   // chunk payload bytes received, rejected ones included
  std::uint64_t requests_sent = 0;    // FetchRequests handed out, retries included
  std::uint64_t timeouts = 0;         // requests sent again after request_timeout
  std::uint32_t rejected_chunks = 0;  // failed the length or block-hash check
  std::uint64_t ignored_chunks = 0;   // other model/version, unrequested block, duplicate
};

// A resumable, verified, pull-based download of one artifact (vehicle side). Pure logic plus
// the sink: the caller moves FetchRequests and Chunks over MQTT.
//
//   Download d(verified_manifest, sink, clock);
//   loop: publish d.next_requests(); on each Chunk: d.on_chunk(c); until d.state() != kActive
//
// Blocks may arrive in any order; verified blocks ahead of the contiguous prefix wait in memory
// (at most W blocks) and reach the sink in order. Requests only ever cover the W blocks after
// the verified prefix, and the sink commits the prefix as it grows (DownloadOptions::
// commit_bytes, commit_interval), so after a crash the bytes fetched again are at most W blocks
// plus what had not been committed yet. Not thread-safe: call from one thread.
class Download {
 public:
  enum class State { kActive, kComplete, kFailed };
  enum class ChunkOutcome { kAccepted, kIgnored, kRejected };

  // `manifest` must have passed Verifier::check_manifest (and check_target). Opens `sink`,
  // which may resume; when the sink already holds everything the download completes (or
  // fails its final check) right away. `sink` and `clock` must outlive the Download.
  // Throws fleetml::Error when the manifest's block list is malformed or the sink fails.
  Download(v1::ManifestBody manifest, DownloadSink& sink, const Clock& clock,
           DownloadOptions options = {});

  // Requests to publish now: unanswered ones past their timeout and re-requests of rejected
  // blocks first, then new blocks until W are in flight. model_id, version, offset and
  // max_bytes are set; vehicle_id and seq are the caller's. Empty unless kActive.
  std::vector<v1::FetchRequest> next_requests();

  // When next_requests() will have something to resend, if anything is in flight, a chunk
  // taken with a later delivery time lands, or the verified prefix is due for a commit (which
  // next_requests() also does).
  std::optional<Clock::TimePoint> next_deadline() const;

  // Takes one chunk. Chunks for another model or version, for blocks not in flight, or
  // duplicates are ignored. A chunk of the wrong length or failing its block hash is rejected
  // and its block requested again, up to max_rejected_chunks (then kFailed, tampered_chunk).
  // A chunk carrying `error` for a block in flight fails the download (unavailable). When the
  // last block arrives, the sink's digest is compared with the manifest's sha256 and size
  // (hash_mismatch, size_mismatch) before the sink is completed. Throws fleetml::Error only
  // when the sink fails (the download is then unusable; make a new one to resume).
  //
  // `delivered`: when the vehicle's link delivers the chunk, if later than now (a simulated
  // vehicle whose trace link is slower than the broker that handed the chunk over). The chunk
  // is checked and its bytes reach the sink at once, so the caller keeps none of them, but
  // the download behaves as if the chunk came at `delivered`: until then its block occupies
  // the window (next_requests asks for nothing past it), a rejected block is asked again only
  // then, a request still times out (its chunk has not "arrived"), other chunks for the block
  // are ignored, and if the chunk decides the outcome (last block, final check, or a
  // failure) state() stays kActive and stats() runs until `delivered`.
  ChunkOutcome on_chunk(const v1::Chunk& chunk, std::optional<Clock::TimePoint> delivered = {});

  // The outcome as of now: kActive until the chunk that decided it has been delivered.
  State state() const;
  // Reason code (shared/crypto/reasons.h) and one-line detail when kFailed.
  const std::string& failure_reason() const { return failure_reason_; }
  const std::string& failure_detail() const { return failure_detail_; }

  // Bytes from the start of the artifact that are verified and handed to the sink.
  std::uint64_t verified_prefix() const;
  // Where this run started (what the sink already held).
  std::uint64_t resumed_from() const { return resumed_from_; }
  const DownloadCounters& counters() const { return counters_; }
  // For Report.download: bytes received, Clock time from construction to completion (or
  // now), resumed_from.
  v1::DownloadStats stats() const;
  const v1::ManifestBody& manifest() const { return manifest_; }

 private:
  struct InFlight {
    Clock::TimePoint deadline;
    bool resend = false;  // rejected: ask again at the next next_requests()
    // Its chunk was taken but the link delivers it only then: the block keeps its place in
    // the window (and a rejected one waits to be asked again) until that time.
    std::optional<Clock::TimePoint> landing;
  };

  std::uint64_t block_length(std::uint64_t block) const;
  v1::FetchRequest request_for(std::uint64_t block);
  // `landing`: when the rejected chunk is delivered (a failure then shows from there).
  void reject(std::uint64_t block, std::string detail, std::optional<Clock::TimePoint> landing);
  // `at`: when the outcome becomes visible (the deciding chunk's delivery).
  void fail(std::string_view reason, std::string detail, Clock::TimePoint at);
  void finish(Clock::TimePoint at);
  // Commits the verified prefix when it has grown enough or waited long enough (`at`: now).
  void maybe_commit(Clock::TimePoint at);

  v1::ManifestBody manifest_;
  DownloadSink& sink_;
  const Clock& clock_;
  DownloadOptions options_;
  std::uint64_t blocks_ = 0;
  std::uint64_t prefix_blocks_ = 0;  // contiguous blocks handed to the sink
  std::uint64_t committed_bytes_ = 0;
  Clock::TimePoint last_commit_;
  std::map<std::uint64_t, InFlight> in_flight_;
  std::map<std::uint64_t, std::string> ahead_;  // verified blocks beyond the prefix
  State state_ = State::kActive;                // decided; state() shows it from *finished_ on
  std::string failure_reason_;
  std::string failure_detail_;
  std::uint64_t resumed_from_ = 0;
  DownloadCounters counters_;
  Clock::TimePoint started_;
  std::optional<Clock::TimePoint> finished_;
};

}  // namespace fleetml::delivery
