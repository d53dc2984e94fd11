#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "shared/crypto/sha256.h"
#include "shared/delivery/download.h"
#include "shared/delivery/posix_io.h"

namespace fleetml::delivery {

// Download sink of a real vehicle: survives restarts and kill -9.
//
//   <dir>/<sha256>.part      verified prefix, appended in order
//   <dir>/<sha256>.progress  {"sha256": ..., "verified_bytes": N}, replaced atomically after
//                            an fdatasync of the .part, so it never claims undurable bytes
//   <dir>/<sha256>           the complete artifact, after the Download's final check
//
// open() resumes at the recorded offset after re-hashing that prefix block by block against
// the manifest (stopping at the first mismatch) and truncates anything beyond it. Files are
// named by the manifest's sha256, so a new version with the same content resumes too.
class FileSink final : public DownloadSink {
 public:
  // Creates `dir` if missing; throws fleetml::Error naming it on failure.
  explicit FileSink(std::filesystem::path dir);

  std::uint64_t open(const v1::ManifestBody& manifest) override;
  void append(std::string_view data) override;
  void commit() override;
  crypto::FileDigest digest() override;
  void complete() override;

  // <dir>/<sha256> of the opened manifest: the verified artifact once the Download completed
  // (hand it to Installer::install, which moves it away).
  std::filesystem::path artifact_path() const;
  // Removes every file of the opened manifest (.part, .progress, complete artifact), e.g.
  // after a failed download that should start from scratch.
  void discard();

 private:
  std::filesystem::path file(std::string_view suffix) const;

  std::filesystem::path dir_;
  std::string sha256_;
  io::Fd part_;
  std::uint64_t appended_ = 0;
  std::uint64_t committed_ = 0;
};

// Download sink of a simulated vehicle: hashes the verified stream and stores nothing, so a
// thousand simulated vehicles cost no disk. Never resumes (open() returns 0).
class HashOnlySink final : public DownloadSink {
 public:
  std::uint64_t open(const v1::ManifestBody& manifest) override;
  void append(std::string_view data) override;
  void commit() override {}
  crypto::FileDigest digest() override;
  void complete() override {}

 private:
  crypto::Sha256 hash_;
};

}  // namespace fleetml::delivery
