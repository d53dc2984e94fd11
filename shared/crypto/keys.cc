#include "shared/crypto/keys.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/common/log.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/sha256.h"

namespace fleetml::crypto {
namespace {

namespace fs = std::filesystem;

// The first OpenSSL error on this thread's queue (then clears the queue), for messages.
std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
}

std::shared_ptr<evp_pkey_st> own(EVP_PKEY* pkey) {
  return std::shared_ptr<evp_pkey_st>(pkey, [](EVP_PKEY* p) { EVP_PKEY_free(p); });
}

struct BioDeleter {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

Bio read_bio(std::string_view text) {
  Bio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) throw Error("cannot allocate an OpenSSL buffer");
  return bio;
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

void require_ed25519(EVP_PKEY* pkey, std::string_view what) {
  if (EVP_PKEY_is_a(pkey, "ED25519") != 1) {
    EVP_PKEY_free(pkey);
    throw Error(std::string(what) + " is not an Ed25519 key");
  }
}

std::string raw_public_of(EVP_PKEY* pkey) {
  std::string raw(kEd25519PublicKeyBytes, '\0');
  std::size_t n = raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey, reinterpret_cast<unsigned char*>(raw.data()), &n) != 1 ||
      n != kEd25519PublicKeyBytes) {
    throw Error("cannot extract an Ed25519 public key: " + openssl_reason());
  }
  return raw;
}

// A PublicKey-only EVP_PKEY from a private one, so the public side never holds the secret.
std::shared_ptr<evp_pkey_st> public_half(EVP_PKEY* private_key) {
  const std::string raw = raw_public_of(private_key);
  EVP_PKEY* pub = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (pub == nullptr) throw Error("cannot derive an Ed25519 public key: " + openssl_reason());
  return own(pub);
}

}  // namespace

std::string key_id_of(std::string_view raw_public_key) {
  return to_hex(sha256(raw_public_key).substr(0, 16));
}

// ------------------------------------------------------------------------------------------
// PublicKey

PublicKey::PublicKey(std::shared_ptr<evp_pkey_st> pkey)
    : pkey_(std::move(pkey)), raw_(raw_public_of(pkey_.get())), key_id_(key_id_of(raw_)) {}

PublicKey PublicKey::from_raw(std::string_view raw) {
  if (raw.size() != kEd25519PublicKeyBytes) {
    throw Error("Ed25519 public key must be 32 bytes, got " + std::to_string(raw.size()));
  }
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (pkey == nullptr) throw Error("invalid Ed25519 public key: " + openssl_reason());
  return PublicKey(own(pkey));
}

PublicKey PublicKey::from_pem(std::string_view pem) {
  Bio bio = read_bio(pem);
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (pkey == nullptr) throw Error("not a PEM public key: " + openssl_reason());
  require_ed25519(pkey, "PEM public key");
  return PublicKey(own(pkey));
}

PublicKey PublicKey::load(const fs::path& path) {
  try {
    return from_pem(file::read(path));
  } catch (const Error& e) {
    throw Error("public key " + path.string() + ": " + e.what());
  }
}

std::string PublicKey::to_pem() const {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) {
    throw Error("cannot encode a public key as PEM: " + openssl_reason());
  }
  return drain(bio.get());
}

void PublicKey::save(const fs::path& path) const {
  using fs::perms;
  file::write_atomic(
      path, to_pem(),
      perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
}

bool PublicKey::verify(std::string_view message, std::string_view signature) const noexcept {
  if (signature.size() != kEd25519SignatureBytes) return false;
  MdCtx ctx(EVP_MD_CTX_new());
  bool ok =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  // A failed verification leaves entries on the error queue; do not leak them to later calls.
  ERR_clear_error();
  return ok;
}

// ------------------------------------------------------------------------------------------
// PrivateKey

PrivateKey::PrivateKey(std::shared_ptr<evp_pkey_st> pkey)
    : pkey_(std::move(pkey)), public_(public_half(pkey_.get())) {}

PrivateKey PrivateKey::generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (pkey == nullptr) throw Error("cannot generate an Ed25519 key: " + openssl_reason());
  return PrivateKey(own(pkey));
}

PrivateKey PrivateKey::from_pem(std::string_view pem) {
  Bio bio = read_bio(pem);
  // An empty passphrase callback result makes encrypted keys fail instead of prompting.
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
  if (pkey == nullptr) throw Error("not an unencrypted PEM private key: " + openssl_reason());
  require_ed25519(pkey, "PEM private key");
  return PrivateKey(own(pkey));
}

PrivateKey PrivateKey::load(const fs::path& path) {
  std::string pem;
  try {
    pem = file::read(path);
  } catch (const Error& e) {
    throw Error(std::string("private key: ") + e.what());
  }
  std::error_code ec;
  const fs::perms mode = fs::status(path, ec).permissions();
  if (!ec && (mode & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none) {
    log::warn("crypto", "private key file is accessible by group or others; chmod 600 it",
              {{"path", path.string()}});
  }
  try {
    return from_pem(pem);
  } catch (const Error& e) {
    throw Error("private key " + path.string() + ": " + e.what());
  }
}

std::string PrivateKey::to_pem() const {
  Bio bio(BIO_new(BIO_s_mem()));
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY") in OpenSSL 3.
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    throw Error("cannot encode a private key as PEM: " + openssl_reason());
  }
  return drain(bio.get());
}

void PrivateKey::save(const fs::path& path) const {
  file::write_atomic(path, to_pem(), fs::perms::owner_read | fs::perms::owner_write);
}

std::string PrivateKey::sign(std::string_view message) const {
  MdCtx ctx(EVP_MD_CTX_new());
  std::string signature(kEd25519SignatureBytes, '\0');
  std::size_t n = signature.size();
  // Ed25519 is one-shot PureEdDSA: no digest may be named and no streaming update is possible.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &n,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      n != kEd25519SignatureBytes) {
    throw Error("Ed25519 signing failed: " + openssl_reason());
  }
  return signature;
}

}  // namespace fleetml::crypto
