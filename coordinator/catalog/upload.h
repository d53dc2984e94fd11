#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "schemas/fleet.pb.h"
#include "shared/common/clock.h"

namespace fleetml::catalog {

// Assembles model artifacts that operators upload in parts (v1::ModelUpload, sent by
// `fleetctl models add`) into files in a staging directory, without holding them in memory.
// Parts must arrive in order (the uploader waits for each acknowledgement's received_bytes);
// a repeated part is acknowledged again, a gap is refused. Not thread-safe: one thread owns it.
class UploadAssembler {
 public:
  struct Limits {
    std::uint64_t max_artifact_bytes = std::uint64_t{2} << 30;  // 2 GiB
    std::size_t max_concurrent = 4;
    // An upload that receives nothing for this long is abandoned and its file removed.
    std::chrono::seconds idle_timeout{120};
  };

  // The state of one upload after a part.
  struct Progress {
    std::uint64_t received_bytes = 0;
    bool complete = false;       // all bytes there and their SHA-256 matches the announced one
    std::filesystem::path file;  // the assembled artifact once complete
  };

  // Removes leftovers of a previous run from `staging_dir` (created if missing).
  UploadAssembler(std::filesystem::path staging_dir, const Clock& clock, Limits limits);
  UploadAssembler(std::filesystem::path staging_dir, const Clock& clock);

  // Applies one part. Throws fleetml::Error (the upload is then abandoned) on an invalid
  // upload id, a size over the limit, metadata that changes between parts, a gap, data past
  // the announced size, a SHA-256 mismatch at the end, too many uploads at once, or I/O errors.
  Progress apply(const v1::ModelUpload& part);

  // Forgets a finished or failed upload and removes its file.
  void discard(const std::string& upload_id);

  // Abandons uploads idle longer than Limits::idle_timeout. Returns how many.
  std::size_t expire_idle();

  std::size_t active() const { return uploads_.size(); }

 private:
  struct Upload {
    v1::ModelUpload header;  // metadata of the first part, without data
    std::filesystem::path file;
    std::uint64_t received = 0;
    Clock::TimePoint last_activity;
  };

  std::filesystem::path staging_dir_;
  const Clock& clock_;
  Limits limits_;
  std::map<std::string, Upload> uploads_;
};

}  // namespace fleetml::catalog
