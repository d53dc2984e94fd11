#include "shared/crypto/sha256.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "shared/common/error.h"

namespace fleetml::crypto {
namespace {

constexpr std::size_t kReadBytes = 1 << 16;

void check(int ok, const char* what) {
  if (ok != 1) throw Error(std::string("SHA-256: ") + what + " failed in OpenSSL");
}

}  // namespace

void Sha256::CtxDeleter::operator()(evp_md_ctx_st* ctx) const noexcept { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw Error("SHA-256: cannot allocate a digest context");
  check(EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr), "init");
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view data) {
  check(EVP_DigestUpdate(ctx_.get(), data.data(), data.size()), "update");
  size_bytes_ += data.size();
}

std::string Sha256::finish() {
  std::string out(kSha256Bytes, '\0');
  unsigned int n = 0;
  check(EVP_DigestFinal_ex(ctx_.get(), reinterpret_cast<unsigned char*>(out.data()), &n), "final");
  check(EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr), "init");
  size_bytes_ = 0;
  return out;
}

std::string sha256(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

FileDigest sha256_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open " + path.string() + ": " + std::strerror(errno));
  Sha256 h;
  std::vector<char> buffer(kReadBytes);
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      throw Error("cannot read " + path.string() + ": " + std::strerror(saved));
    }
    if (n == 0) break;
    h.update({buffer.data(), static_cast<std::size_t>(n)});
  }
  ::close(fd);
  FileDigest digest;
  digest.size_bytes = h.size_bytes();
  digest.sha256 = h.finish();
  return digest;
}

}  // namespace fleetml::crypto
