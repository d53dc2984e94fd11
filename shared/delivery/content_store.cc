#include "shared/delivery/content_store.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/sha256.h"
#include "shared/delivery/posix_io.h"
#include "shared/delivery/verifier.h"

namespace fleetml::delivery {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kCopyBytes = 1 << 16;

fs::path tmp_dir(const fs::path& root) { return root / "tmp"; }

// A uniquely named temporary file in the store's tmp directory (same filesystem as the
// destination, so the final rename is atomic).
io::Fd make_temp(const fs::path& dir) {
  std::string name = (dir / "put-XXXXXX").string();
  const int fd = ::mkstemp(name.data());
  if (fd < 0)
    throw Error("cannot create a temporary file in " + dir.string() + ": " + std::strerror(errno));
  ::close(fd);
  return io::Fd(name, O_RDWR);
}

}  // namespace

void describe_artifact(const StoredArtifact& artifact, v1::ManifestBody& body) {
  body.set_sha256(artifact.sha256);
  body.set_size_bytes(artifact.size_bytes);
  body.set_block_size(artifact.block_size);
  body.clear_block_sha256();
  for (const std::string& h : artifact.block_sha256) body.add_block_sha256(h);
}

ContentStore::ContentStore(fs::path root) : root_(std::move(root)) {
  std::error_code ec;
  fs::create_directories(root_ / "sha256", ec);
  if (!ec) fs::remove_all(tmp_dir(root_), ec);
  if (!ec) fs::create_directories(tmp_dir(root_), ec);
  if (ec) throw Error("cannot prepare content store " + root_.string() + ": " + ec.message());
}

StoredArtifact ContentStore::put(const fs::path& file, std::uint32_t block_size) {
  if (block_size == 0 || block_size > kMaxBlockBytes) {
    throw Error("block size " + std::to_string(block_size) + " is outside 1.." +
                std::to_string(kMaxBlockBytes));
  }
  const io::Fd in(file, O_RDONLY);
  io::Fd tmp = make_temp(tmp_dir(root_));
  const fs::path tmp_path = tmp.path();
  StoredArtifact artifact;
  artifact.block_size = block_size;
  try {
    crypto::Sha256 whole;
    crypto::Sha256 block;
    std::uint64_t offset = 0;
    while (true) {
      // Never read across a block boundary, so each block's hash closes exactly at its end.
      const std::uint64_t block_left = block_size - block.size_bytes();
      const std::string data = in.read_at(offset, std::min<std::uint64_t>(kCopyBytes, block_left));
      if (data.empty()) break;
      tmp.write_at(offset, data);
      whole.update(data);
      block.update(data);
      offset += data.size();
      if (block.size_bytes() == block_size) artifact.block_sha256.push_back(block.finish());
    }
    if (block.size_bytes() > 0) artifact.block_sha256.push_back(block.finish());
    artifact.size_bytes = offset;
    artifact.sha256 = crypto::to_hex(whole.finish());
    tmp.sync();
    tmp.close();

    const fs::path dest = path(artifact.sha256);
    if (fs::exists(dest)) {
      fs::remove(tmp_path);
      return artifact;
    }
    fs::create_directories(dest.parent_path());
    fs::permissions(tmp_path,
                    fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    fs::rename(tmp_path, dest);
    file::sync_directory(dest.parent_path());
    file::sync_directory(dest.parent_path().parent_path());
  } catch (const fs::filesystem_error& e) {
    std::error_code ignored;
    fs::remove(tmp_path, ignored);
    throw Error("cannot store " + file.string() + ": " + e.what());
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp_path, ignored);
    throw;
  }
  return artifact;
}

bool ContentStore::has(std::string_view sha256) const {
  if (!crypto::is_lower_hex(sha256, crypto::kSha256Bytes)) return false;
  std::error_code ec;
  return fs::is_regular_file(path(sha256), ec);
}

fs::path ContentStore::path(std::string_view sha256) const {
  if (!crypto::is_lower_hex(sha256, crypto::kSha256Bytes)) {
    throw Error("content store: '" + printable(sha256, 80) + "' is not a SHA-256 in hex");
  }
  return root_ / "sha256" / std::string(sha256.substr(0, 2)) / std::string(sha256);
}

std::string ContentStore::read(std::string_view sha256, std::uint64_t offset,
                               std::uint32_t max_bytes) const {
  const io::Fd fd(path(sha256), O_RDONLY);
  return fd.read_at(offset, max_bytes);
}

v1::Chunk serve(const ContentStore& store, const v1::ManifestBody& manifest,
                const v1::FetchRequest& request) {
  v1::Chunk chunk;
  chunk.set_model_id(request.model_id());
  chunk.set_version(request.version());
  chunk.set_offset(request.offset());
  if (manifest.model_id().empty() || request.model_id() != manifest.model_id() ||
      request.version() != manifest.version()) {
    chunk.set_error("unknown model version");
    return chunk;
  }
  chunk.set_total_size(manifest.size_bytes());
  if (request.offset() > manifest.size_bytes()) {
    chunk.set_error("offset past end");
    return chunk;
  }
  if (request.max_bytes() == 0) {
    chunk.set_error("max_bytes is 0");
    return chunk;
  }
  if (!store.has(manifest.sha256())) {
    chunk.set_error("artifact not in store");
    return chunk;
  }
  const std::uint64_t left = manifest.size_bytes() - request.offset();
  const auto n = static_cast<std::uint32_t>(
      std::min<std::uint64_t>({request.max_bytes(), kMaxBlockBytes, left}));
  std::string data = store.read(manifest.sha256(), request.offset(), n);
  if (data.size() != n) {
    chunk.set_error("artifact shorter than its manifest");
    return chunk;
  }
  chunk.set_data(std::move(data));
  return chunk;
}

}  // namespace fleetml::delivery
