#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/fleet.pb.h"

namespace fleetml::delivery {

// What ContentStore::put learned while copying an artifact in.
struct StoredArtifact {
  std::string sha256;  // 64 lower-case hex, the store key
  std::uint64_t size_bytes = 0;
  std::uint32_t block_size = 0;
  std::vector<std::string> block_sha256;  // 32 raw bytes per block, last block may be short
};

// Copies the artifact's identity (sha256, size, block size and block hashes) into a manifest
// body; the caller sets model id, version, expiry and the rest, then signs it.
void describe_artifact(const StoredArtifact& artifact, v1::ManifestBody& body);

// The coordinator's content-addressed artifact store: `<root>/sha256/<aa>/<hex>` where <aa> is
// the first two hex digits. Files are immutable once stored. Reads are positioned (pread) and
// bounded, so serving never loads a whole artifact into memory. Safe to read from several
// threads; put() may run concurrently with reads.
class ContentStore {
 public:
  // Creates `root` if missing and removes temporaries left by an interrupted put().
  // Throws fleetml::Error naming the directory on failure.
  explicit ContentStore(std::filesystem::path root);

  // Streams `file` into the store (temporary file, fsync, rename, directory fsync), hashing
  // it whole and in blocks of `block_size` bytes on the way (one pass, constant memory).
  // Storing content that is already present keeps the existing copy. Throws fleetml::Error
  // when `file` cannot be read, the store cannot be written, or block_size is outside
  // 1..kMaxBlockBytes.
  StoredArtifact put(const std::filesystem::path& file, std::uint32_t block_size);

  bool has(std::string_view sha256) const;

  // Where the artifact with this (64 lower-case hex) sha256 lives, whether or not present.
  // Throws fleetml::Error for anything that is not 64 lower-case hex, so a request can never
  // name a path outside the store.
  std::filesystem::path path(std::string_view sha256) const;

  // Up to `max_bytes` bytes at `offset` (fewer at end of file, none past it). Throws
  // fleetml::Error when the artifact is absent or unreadable.
  std::string read(std::string_view sha256, std::uint64_t offset, std::uint32_t max_bytes) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

// Answers one FetchRequest for the artifact `manifest` describes. Never throws on request
// content: a request for another model/version than `manifest` (pass an empty ManifestBody
// when the catalog knows no such model), an offset past the end, max_bytes of 0, or an
// artifact missing from the store yields a Chunk with `error` set and no data. Serves at most
// min(max_bytes, kMaxBlockBytes) bytes. Throws fleetml::Error only on store I/O failure.
v1::Chunk serve(const ContentStore& store, const v1::ManifestBody& manifest,
                const v1::FetchRequest& request);

}  // namespace fleetml::delivery
