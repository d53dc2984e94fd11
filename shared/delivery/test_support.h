#pragma once

// Test-only helpers for the delivery tests (header-only, never linked into production code).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "schemas/fleet.pb.h"
#include "shared/common/clock.h"
#include "shared/common/file.h"
#include "shared/delivery/content_store.h"
#include "shared/delivery/download.h"

namespace fleetml::delivery {

// Deterministic pseudo-random bytes (xorshift), different for each seed.
inline std::string test_bytes(std::size_t n, std::uint32_t seed) {
  std::string out(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return out;
}

// Writes `content` to a file in `scratch`, stores it in `store` and returns the manifest body
// a coordinator would sign for it (expiring at `expires_unix_ms`).
inline v1::ManifestBody publish(ContentStore& store, const std::filesystem::path& scratch,
                                const std::string& content, const std::string& model_id,
                                std::uint64_t version, std::uint32_t block_size,
                                std::int64_t expires_unix_ms) {
  std::filesystem::create_directories(scratch);
  const std::filesystem::path file = scratch / (model_id + "-v" + std::to_string(version) + ".pt");
  file::write_atomic(file, content);
  v1::ManifestBody body;
  body.set_model_id(model_id);
  body.set_version(version);
  body.set_task("image-classification");
  body.set_expires_unix_ms(expires_unix_ms);
  describe_artifact(store.put(file, block_size), body);
  return body;
}

// Plays the coordinator for `download`: answers every request from `store` (after `tamper`,
// if any, edits the chunk) until the download ends or `max_rounds` rounds pass. When nothing
// is due it waits, as the vehicle agent would, by moving `clock` to the next deadline.
// Returns the rounds used.
inline int serve_until_done(Download& download, const ContentStore& store,
                            const v1::ManifestBody& manifest, ManualClock& clock,
                            const std::function<void(v1::Chunk&)>& tamper = {},
                            int max_rounds = 10'000) {
  int rounds = 0;
  while (download.state() == Download::State::kActive && rounds < max_rounds) {
    ++rounds;
    const std::vector<v1::FetchRequest> requests = download.next_requests();
    if (requests.empty() && download.next_deadline()) clock.set(*download.next_deadline());
    for (const v1::FetchRequest& request : requests) {
      v1::Chunk chunk = serve(store, manifest, request);
      if (tamper) tamper(chunk);
      download.on_chunk(chunk);
    }
  }
  return rounds;
}

}  // namespace fleetml::delivery
