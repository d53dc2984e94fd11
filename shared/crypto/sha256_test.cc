#include "shared/crypto/sha256.h"

#include <gtest/gtest.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/test_support.h"

namespace fleetml::crypto {
namespace {

// FIPS 180-2 / NIST example vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(to_hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, StreamingEqualsOneShotAndFinishStartsOver) {
  const std::string million(1'000'000, 'a');
  Sha256 h;
  for (std::size_t i = 0; i < million.size(); i += 4096) {
    h.update(std::string_view(million).substr(i, 4096));
  }
  EXPECT_EQ(h.size_bytes(), 1'000'000u);
  EXPECT_EQ(to_hex(h.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(h.size_bytes(), 0u);
  h.update("abc");
  EXPECT_EQ(h.finish(), sha256("abc"));
}

TEST(Sha256Test, FileIsHashedInPiecesAndSized) {
  ScopedTempDir dir;
  std::string content;
  for (int i = 0; i < 300'000; ++i) content.push_back(static_cast<char>(i * 7));
  file::write_atomic(dir / "blob", content);
  const FileDigest digest = sha256_file(dir / "blob");
  EXPECT_EQ(digest.size_bytes, content.size());
  EXPECT_EQ(digest.sha256, sha256(content));
}

TEST(Sha256Test, MissingFileErrorNamesThePath) {
  ScopedTempDir dir;
  try {
    sha256_file(dir / "absent.pt");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.pt"), std::string::npos);
  }
}

}  // namespace
}  // namespace fleetml::crypto
