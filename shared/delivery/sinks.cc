#include "shared/delivery/sinks.h"

#include <algorithm>

#include <fcntl.h>
#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/common/log.h"
#include "shared/crypto/hex.h"
#include "shared/delivery/verifier.h"

namespace fleetml::delivery {
namespace {

namespace fs = std::filesystem;

// The verified_bytes a progress file records for `sha256`, or 0 when it is missing, unreadable
// or about something else (the prefix is re-hashed anyway, so 0 only costs a re-download).
std::uint64_t recorded_progress(const fs::path& path, const std::string& sha256) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return 0;
  try {
    const nlohmann::json progress = nlohmann::json::parse(file::read(path));
    if (progress.at("sha256").get<std::string>() != sha256) return 0;
    return progress.at("verified_bytes").get<std::uint64_t>();
  } catch (const std::exception& e) {
    log::warn("delivery", "ignoring unreadable download progress",
              {{"path", path.string()}, {"error", e.what()}});
    return 0;
  }
}

}  // namespace

FileSink::FileSink(fs::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error("cannot create download directory " + dir_.string() + ": " + ec.message());
}

fs::path FileSink::file(std::string_view suffix) const {
  return dir_ / (sha256_ + std::string(suffix));
}

fs::path FileSink::artifact_path() const { return file(""); }

std::uint64_t FileSink::open(const v1::ManifestBody& manifest) {
  if (auto error = manifest_shape_error(manifest)) {
    throw Error("download sink: manifest " + printable(manifest.model_id(), 64) + ": " + *error);
  }
  sha256_ = manifest.sha256();
  const std::uint32_t block_size = manifest.block_size();
  std::uint64_t claimed = 0;
  if (fs::exists(artifact_path())) {
    // A completed artifact left by a crash before install: re-checked like a partial one.
    fs::rename(artifact_path(), file(".part"));
    claimed = manifest.size_bytes();
  } else {
    claimed = recorded_progress(file(".progress"), sha256_);
  }
  part_ = io::Fd(file(".part"), O_RDWR | O_CREAT, 0644);
  claimed = std::min({claimed, part_.size(), manifest.size_bytes()});
  if (claimed != manifest.size_bytes()) claimed -= claimed % block_size;

  // Trust nothing on disk: re-hash the claimed prefix, one block at a time.
  std::uint64_t verified = 0;
  for (int block = 0; verified < claimed; ++block) {
    const std::string data =
        part_.read_at(verified, std::min<std::uint64_t>(block_size, claimed - verified));
    if (crypto::sha256(data) != manifest.block_sha256(block)) {
      log::warn("delivery", "partial download failed re-verification; resuming earlier",
                {{"model", manifest.model_id()}, {"block", block}});
      break;
    }
    verified += data.size();
  }
  part_.truncate(verified);
  appended_ = committed_ = verified;
  return verified;
}

void FileSink::append(std::string_view data) {
  part_.write_at(appended_, data);
  appended_ += data.size();
}

void FileSink::commit() {
  if (committed_ == appended_) return;
  part_.sync_data();
  const nlohmann::json progress = {{"sha256", sha256_}, {"verified_bytes", appended_}};
  file::write_atomic(file(".progress"), progress.dump());
  committed_ = appended_;
}

crypto::FileDigest FileSink::digest() { return crypto::sha256_file(file(".part")); }

void FileSink::complete() {
  part_.sync();
  part_.close();
  fs::rename(file(".part"), artifact_path());
  std::error_code ignored;
  fs::remove(file(".progress"), ignored);
  file::sync_directory(dir_);
}

void FileSink::discard() {
  part_.close();
  std::error_code ignored;
  for (const char* suffix : {".part", ".progress", ""}) fs::remove(file(suffix), ignored);
}

std::uint64_t HashOnlySink::open(const v1::ManifestBody&) {
  hash_ = crypto::Sha256();
  return 0;
}

void HashOnlySink::append(std::string_view data) { hash_.update(data); }

crypto::FileDigest HashOnlySink::digest() {
  crypto::FileDigest digest;
  digest.size_bytes = hash_.size_bytes();
  digest.sha256 = hash_.finish();
  return digest;
}

}  // namespace fleetml::delivery
