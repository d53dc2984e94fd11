#include "coordinator/catalog/upload.h"

#include <fstream>

#include "shared/common/error.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/sha256.h"
#include "shared/messages/topics.h"

namespace fleetml::catalog {
namespace {

bool same_metadata(const v1::ModelUpload& a, const v1::ModelUpload& b) {
  return a.model_id() == b.model_id() && a.task() == b.task() && a.accuracy() == b.accuracy() &&
         a.total_size() == b.total_size() && a.sha256() == b.sha256() &&
         std::equal(a.input_shape().begin(), a.input_shape().end(), b.input_shape().begin(),
                    b.input_shape().end());
}

}  // namespace

UploadAssembler::UploadAssembler(std::filesystem::path staging_dir, const Clock& clock,
                                 Limits limits)
    : staging_dir_(std::move(staging_dir)), clock_(clock), limits_(limits) {
  std::filesystem::remove_all(staging_dir_);
  std::filesystem::create_directories(staging_dir_);
}

UploadAssembler::UploadAssembler(std::filesystem::path staging_dir, const Clock& clock)
    : UploadAssembler(std::move(staging_dir), clock, Limits{}) {}

UploadAssembler::Progress UploadAssembler::apply(const v1::ModelUpload& part) {
  const std::string& id = part.upload_id();
  if (!messages::is_valid_id(id)) throw Error("upload: invalid upload id");
  try {
    auto it = uploads_.find(id);
    if (it == uploads_.end()) {
      if (part.offset() != 0) throw Error("upload " + id + ": unknown upload (restarted?)");
      if (uploads_.size() >= limits_.max_concurrent) {
        throw Error("upload " + id + ": too many uploads in progress");
      }
      if (part.total_size() == 0 || part.total_size() > limits_.max_artifact_bytes) {
        throw Error("upload " + id + ": size " + std::to_string(part.total_size()) +
                    " bytes is outside 1.." + std::to_string(limits_.max_artifact_bytes));
      }
      if (!crypto::is_lower_hex(part.sha256(), 32)) {
        throw Error("upload " + id + ": sha256 must be 64 lower-case hex digits");
      }
      Upload upload;
      upload.header = part;
      upload.header.clear_data();
      upload.file = staging_dir_ / (id + ".part");
      std::ofstream create(upload.file, std::ios::binary | std::ios::trunc);
      if (!create) throw Error("upload " + id + ": cannot create " + upload.file.string());
      it = uploads_.emplace(id, std::move(upload)).first;
    }
    Upload& upload = it->second;
    if (!same_metadata(upload.header, part)) {
      throw Error("upload " + id + ": metadata changed between parts");
    }
    upload.last_activity = clock_.now();
    const std::uint64_t end = part.offset() + part.data().size();
    if (end > upload.header.total_size()) {
      throw Error("upload " + id + ": data past the announced size");
    }
    if (part.offset() > upload.received) {
      throw Error("upload " + id + ": gap at offset " + std::to_string(upload.received));
    }
    if (end > upload.received) {  // new bytes (a repeated part only gets a new ack)
      std::fstream out(upload.file, std::ios::binary | std::ios::in | std::ios::out);
      out.seekp(static_cast<std::streamoff>(upload.received));
      const std::uint64_t skip = upload.received - part.offset();
      out.write(part.data().data() + skip, static_cast<std::streamsize>(end - upload.received));
      if (!out) throw Error("upload " + id + ": cannot write " + upload.file.string());
      upload.received = end;
    }
    Progress progress{upload.received, false, {}};
    if (upload.received == upload.header.total_size()) {
      const auto digest = crypto::sha256_file(upload.file);
      if (crypto::to_hex(digest.sha256) != upload.header.sha256()) {
        throw Error("upload " + id + ": sha256 of the received bytes does not match");
      }
      progress.complete = true;
      progress.file = upload.file;
    }
    return progress;
  } catch (const Error&) {
    discard(id);
    throw;
  }
}

void UploadAssembler::discard(const std::string& upload_id) {
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) return;
  std::error_code ignored;
  std::filesystem::remove(it->second.file, ignored);
  uploads_.erase(it);
}

std::size_t UploadAssembler::expire_idle() {
  const auto now = clock_.now();
  std::size_t expired = 0;
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    auto next = std::next(it);
    if (now - it->second.last_activity > limits_.idle_timeout) {
      discard(it->first);
      ++expired;
    }
    it = next;
  }
  return expired;
}

}  // namespace fleetml::catalog
