#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace fleetml::crypto {

inline constexpr std::size_t kSha256Bytes = 32;

// SHA-256 of `data`: 32 raw bytes (to_hex() for the 64-character form).
std::string sha256(std::string_view data);

// Incremental SHA-256 for data that arrives in pieces or does not fit in memory.
// Throws fleetml::Error only if OpenSSL itself fails (out of memory).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::string_view data);
  // The 32-byte digest of everything updated so far; the hasher then starts over, empty.
  std::string finish();
  // Bytes passed to update() since construction or the last finish().
  std::uint64_t size_bytes() const { return size_bytes_; }

 private:
  struct CtxDeleter {
    void operator()(evp_md_ctx_st* ctx) const noexcept;
  };
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx_;
  std::uint64_t size_bytes_ = 0;
};

struct FileDigest {
  std::string sha256;  // 32 raw bytes
  std::uint64_t size_bytes = 0;
};

// Streams a file through SHA-256 in fixed-size reads (constant memory, any file size).
// Throws fleetml::Error naming the path when it cannot be opened or read.
FileDigest sha256_file(const std::filesystem::path& path);

}  // namespace fleetml::crypto
