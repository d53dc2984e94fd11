#include "shared/delivery/download.h"

#include <algorithm>

#include "shared/common/error.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/reasons.h"
#include "shared/delivery/verifier.h"

namespace fleetml::delivery {

namespace reason = crypto::reason;

Download::Download(v1::ManifestBody manifest, DownloadSink& sink, const Clock& clock,
                   DownloadOptions options)
    : manifest_(std::move(manifest)),
      sink_(sink),
      clock_(clock),
      options_(options),
      started_(clock.now()) {
  if (auto error = manifest_shape_error(manifest_)) {
    throw Error("download of manifest " + printable(manifest_.model_id(), 64) + " v" +
                std::to_string(manifest_.version()) + ": " + *error);
  }
  options_.window_blocks = std::max<std::uint32_t>(options_.window_blocks, 1);
  blocks_ = block_count(manifest_.size_bytes(), manifest_.block_size());
  const std::uint64_t held = sink_.open(manifest_);
  if (held > manifest_.size_bytes() ||
      (held % manifest_.block_size() != 0 && held != manifest_.size_bytes())) {
    throw Error("download sink resumed at " + std::to_string(held) + ", not a block boundary of " +
                printable(manifest_.model_id(), 64));
  }
  prefix_blocks_ = block_count(held, manifest_.block_size());
  resumed_from_ = committed_bytes_ = held;
  last_commit_ = started_;
  if (prefix_blocks_ == blocks_) finish(clock_.now());
}

Download::State Download::state() const {
  return state_ != State::kActive && clock_.now() < *finished_ ? State::kActive : state_;
}

std::uint64_t Download::verified_prefix() const {
  return std::min<std::uint64_t>(prefix_blocks_ * manifest_.block_size(), manifest_.size_bytes());
}

std::uint64_t Download::block_length(std::uint64_t block) const {
  const std::uint64_t start = block * manifest_.block_size();
  return std::min<std::uint64_t>(manifest_.block_size(), manifest_.size_bytes() - start);
}

v1::FetchRequest Download::request_for(std::uint64_t block) {
  v1::FetchRequest request;
  request.set_model_id(manifest_.model_id());
  request.set_version(manifest_.version());
  request.set_offset(block * manifest_.block_size());
  request.set_max_bytes(static_cast<std::uint32_t>(block_length(block)));
  ++counters_.requests_sent;
  return request;
}

std::vector<v1::FetchRequest> Download::next_requests() {
  std::vector<v1::FetchRequest> requests;
  if (state_ != State::kActive) return requests;
  const Clock::TimePoint now = clock_.now();
  maybe_commit(now);  // a stalled download still makes its prefix durable
  // Chunks whose link has delivered them by now: accepted ones leave the window, rejected
  // ones are asked again below.
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    InFlight& flight = it->second;
    if (flight.landing && *flight.landing <= now) {
      flight.landing.reset();
      if (!flight.resend) {
        it = in_flight_.erase(it);
        continue;
      }
    }
    ++it;
  }
  std::uint64_t anchor = prefix_blocks_;  // the first block whose chunk has not landed
  for (auto& [block, flight] : in_flight_) {
    if (flight.landing) anchor = std::min(anchor, block);
    if (flight.landing && flight.resend) continue;  // asked again once it has landed
    if (flight.resend || flight.deadline <= now) {
      if (!flight.resend) ++counters_.timeouts;
      flight.resend = false;
      flight.deadline = now + options_.request_timeout;
      requests.push_back(request_for(block));
    }
  }
  // The window is anchored at the verified prefix (or the first block still landing): never
  // run further ahead than W blocks.
  const std::uint64_t end = std::min(blocks_, anchor + options_.window_blocks);
  for (std::uint64_t block = prefix_blocks_; block < end; ++block) {
    if (in_flight_.contains(block) || ahead_.contains(block)) continue;
    in_flight_[block] = InFlight{now + options_.request_timeout, false, std::nullopt};
    requests.push_back(request_for(block));
  }
  return requests;
}

std::optional<Clock::TimePoint> Download::next_deadline() const {
  std::optional<Clock::TimePoint> earliest;
  if (state_ != State::kActive && clock_.now() < *finished_) earliest = *finished_;
  for (const auto& [block, flight] : in_flight_) {
    Clock::TimePoint t = flight.resend ? clock_.now() : flight.deadline;
    if (flight.landing) t = flight.resend ? *flight.landing : std::min(t, *flight.landing);
    if (!earliest || t < *earliest) earliest = t;
  }
  if (state_ == State::kActive && verified_prefix() > committed_bytes_) {
    const Clock::TimePoint commit = last_commit_ + options_.commit_interval;
    if (!earliest || commit < *earliest) earliest = commit;
  }
  return earliest;
}

Download::ChunkOutcome Download::on_chunk(const v1::Chunk& chunk,
                                          std::optional<Clock::TimePoint> delivered) {
  const Clock::TimePoint now = clock_.now();
  const Clock::TimePoint at = delivered ? std::max(*delivered, now) : now;
  const std::optional<Clock::TimePoint> landing =
      at > now ? std::optional<Clock::TimePoint>(at) : std::nullopt;
  if (state_ != State::kActive || chunk.model_id() != manifest_.model_id() ||
      chunk.version() != manifest_.version()) {
    ++counters_.ignored_chunks;
    return ChunkOutcome::kIgnored;
  }
  counters_.bytes_received += chunk.data().size();
  const std::uint64_t block = chunk.offset() / manifest_.block_size();
  const auto flight = in_flight_.find(block);
  if (chunk.offset() % manifest_.block_size() != 0 || flight == in_flight_.end() ||
      flight->second.landing) {
    ++counters_.ignored_chunks;
    return ChunkOutcome::kIgnored;
  }
  if (!chunk.error().empty()) {
    fail(reason::kUnavailable,
         "coordinator cannot serve " + printable(manifest_.model_id(), 64) + " v" +
             std::to_string(manifest_.version()) + ": " + printable(chunk.error()),
         at);
    return ChunkOutcome::kRejected;
  }
  const std::uint64_t expected = block_length(block);
  if (chunk.data().size() != expected) {
    reject(block,
           "block " + std::to_string(block) + " has " + std::to_string(chunk.data().size()) +
               " bytes, expected " + std::to_string(expected),
           landing);
    return ChunkOutcome::kRejected;
  }
  if (crypto::sha256(chunk.data()) != manifest_.block_sha256(static_cast<int>(block))) {
    reject(block, "block " + std::to_string(block) + " does not match its SHA-256", landing);
    return ChunkOutcome::kRejected;
  }
  if (landing) {
    flight->second.landing = landing;  // keeps its place in the window until delivered
  } else {
    in_flight_.erase(flight);
  }
  if (block == prefix_blocks_) {
    sink_.append(chunk.data());
    ++prefix_blocks_;
    for (auto next = ahead_.find(prefix_blocks_); next != ahead_.end();
         next = ahead_.find(prefix_blocks_)) {
      sink_.append(next->second);
      ahead_.erase(next);
      ++prefix_blocks_;
    }
    if (prefix_blocks_ == blocks_) {
      finish(at);  // complete() makes it durable
    } else {
      maybe_commit(at);
    }
  } else {
    ahead_.emplace(block, chunk.data());
  }
  return ChunkOutcome::kAccepted;
}

void Download::maybe_commit(Clock::TimePoint at) {
  const std::uint64_t prefix = verified_prefix();
  if (prefix == committed_bytes_ || (prefix - committed_bytes_ < options_.commit_bytes &&
                                     at - last_commit_ < options_.commit_interval)) {
    return;
  }
  sink_.commit();
  committed_bytes_ = prefix;
  last_commit_ = at;
}

void Download::reject(std::uint64_t block, std::string detail,
                      std::optional<Clock::TimePoint> landing) {
  ++counters_.rejected_chunks;
  if (counters_.rejected_chunks > options_.max_rejected_chunks) {
    fail(reason::kTamperedChunk,
         printable(manifest_.model_id(), 64) + " v" + std::to_string(manifest_.version()) + ": " +
             detail + " (" + std::to_string(counters_.rejected_chunks) + " bad chunks, giving up)",
         landing.value_or(clock_.now()));
    return;
  }
  InFlight& flight = in_flight_[block];
  flight.resend = true;
  flight.landing = landing;
}

void Download::fail(std::string_view why, std::string detail, Clock::TimePoint at) {
  state_ = State::kFailed;
  failure_reason_ = std::string(why);
  failure_detail_ = std::move(detail);
  in_flight_.clear();
  ahead_.clear();
  finished_ = at;
}

void Download::finish(Clock::TimePoint at) {
  const crypto::FileDigest digest = sink_.digest();
  const std::string label =
      printable(manifest_.model_id(), 64) + " v" + std::to_string(manifest_.version());
  if (digest.size_bytes != manifest_.size_bytes()) {
    fail(reason::kSizeMismatch,
         label + ": " + std::to_string(digest.size_bytes) + " bytes, manifest says " +
             std::to_string(manifest_.size_bytes()),
         at);
    return;
  }
  if (crypto::to_hex(digest.sha256) != manifest_.sha256()) {
    fail(reason::kHashMismatch,
         label + ": SHA-256 " + crypto::to_hex(digest.sha256) + " differs from the manifest's " +
             manifest_.sha256(),
         at);
    return;
  }
  sink_.complete();
  state_ = State::kComplete;
  finished_ = at;
}

v1::DownloadStats Download::stats() const {
  v1::DownloadStats stats;
  stats.set_bytes(counters_.bytes_received);
  const Clock::TimePoint end = finished_.value_or(clock_.now());
  stats.set_duration_s(std::chrono::duration<double>(end - started_).count());
  stats.set_resumed_from(resumed_from_);
  return stats;
}

}  // namespace fleetml::delivery
