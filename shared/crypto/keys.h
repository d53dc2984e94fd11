#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct evp_pkey_st;

namespace fleetml::crypto {

inline constexpr std::size_t kEd25519PublicKeyBytes = 32;
inline constexpr std::size_t kEd25519SignatureBytes = 64;

// Identifier of a public key as it travels in Signature.key_id: lower-case hex of the first
// 16 bytes of SHA-256 of the 32 raw public-key bytes (32 hex characters).
std::string key_id_of(std::string_view raw_public_key);

// An Ed25519 public key (OpenSSL EVP_PKEY inside). Immutable and cheap to copy: copies share
// the underlying key, which OpenSSL allows to be used from several threads at once.
class PublicKey {
 public:
  // From the 32 raw bytes; throws fleetml::Error if they are not a valid Ed25519 key.
  static PublicKey from_raw(std::string_view raw);
  // From PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----"); throws fleetml::Error when
  // the text is not an Ed25519 public key.
  static PublicKey from_pem(std::string_view pem);
  // Reads a PEM public key file; throws fleetml::Error naming the path.
  static PublicKey load(const std::filesystem::path& path);

  // PEM SubjectPublicKeyInfo.
  std::string to_pem() const;
  // Writes to_pem() atomically (file::write_atomic), mode 0644.
  void save(const std::filesystem::path& path) const;

  // The 32 raw key bytes.
  const std::string& raw() const { return raw_; }
  const std::string& key_id() const { return key_id_; }

  // True when `signature` is a valid Ed25519 signature of `message` by this key. Any
  // malformed input (wrong length, garbage) simply yields false: never throws.
  bool verify(std::string_view message, std::string_view signature) const noexcept;

 private:
  explicit PublicKey(std::shared_ptr<evp_pkey_st> pkey);
  std::shared_ptr<evp_pkey_st> pkey_;
  std::string raw_;
  std::string key_id_;

  friend class PrivateKey;
};

// An Ed25519 private key. Move-only so secret material is not silently duplicated.
class PrivateKey {
 public:
  // A fresh key from OpenSSL's CSPRNG; throws fleetml::Error if generation fails.
  static PrivateKey generate();
  // From PEM PKCS#8 ("-----BEGIN PRIVATE KEY-----", unencrypted); throws fleetml::Error
  // when the text is not an Ed25519 private key.
  static PrivateKey from_pem(std::string_view pem);
  // Reads a PEM PKCS#8 file; throws fleetml::Error naming the path. Logs a warning when the
  // file is readable by group or others.
  static PrivateKey load(const std::filesystem::path& path);

  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;

  // Unencrypted PEM PKCS#8.
  std::string to_pem() const;
  // Writes to_pem() atomically with mode 0600 (the temporary file is 0600 from its creation).
  void save(const std::filesystem::path& path) const;

  const PublicKey& public_key() const { return public_; }
  const std::string& key_id() const { return public_.key_id(); }

  // 64-byte Ed25519 signature of `message` (PureEdDSA, RFC 8032). Throws fleetml::Error only
  // if OpenSSL fails.
  std::string sign(std::string_view message) const;

 private:
  explicit PrivateKey(std::shared_ptr<evp_pkey_st> pkey);
  std::shared_ptr<evp_pkey_st> pkey_;
  PublicKey public_;
};

}  // namespace fleetml::crypto
