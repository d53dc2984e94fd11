#include "shared/delivery/content_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/sha256.h"
#include "shared/crypto/test_support.h"
#include "shared/delivery/test_support.h"
#include "shared/delivery/verifier.h"

namespace fleetml::delivery {
namespace {

namespace fs = std::filesystem;
using crypto::ScopedTempDir;

TEST(ContentStoreTest, PutStoresContentAddressedWithBlockHashes) {
  ScopedTempDir tmp;
  ContentStore store(tmp / "store");
  const std::string content = test_bytes(10'000, 1);
  file::write_atomic(tmp / "model.pt", content);

  const StoredArtifact a = store.put(tmp / "model.pt", 4096);
  EXPECT_EQ(a.sha256, crypto::to_hex(crypto::sha256(content)));
  EXPECT_EQ(a.size_bytes, 10'000u);
  EXPECT_EQ(a.block_size, 4096u);
  ASSERT_EQ(a.block_sha256.size(), 3u);
  EXPECT_EQ(a.block_sha256[0], crypto::sha256(content.substr(0, 4096)));
  EXPECT_EQ(a.block_sha256[1], crypto::sha256(content.substr(4096, 4096)));
  EXPECT_EQ(a.block_sha256[2], crypto::sha256(content.substr(8192)));

  const fs::path stored = tmp / "store" / "sha256" / a.sha256.substr(0, 2) / a.sha256;
  EXPECT_EQ(store.path(a.sha256), stored);
  EXPECT_TRUE(store.has(a.sha256));
  EXPECT_EQ(file::read(stored), content);
  EXPECT_EQ(crypto::mode_of(stored) & fs::perms::owner_write, fs::perms::none);  // immutable
  EXPECT_TRUE(fs::is_empty(tmp / "store" / "tmp"));
}

TEST(ContentStoreTest, BlockHashesMatchTheManifestShapeRules) {
  ScopedTempDir tmp;
  ContentStore store(tmp / "store");
  for (std::size_t size : {0, 1, 4095, 4096, 4097, 3 * 4096}) {
    const v1::ManifestBody body =
        publish(store, tmp / "in", test_bytes(size, 2), "m", size + 1, 4096, 2'000'000'000'000);
    EXPECT_EQ(manifest_shape_error(body), std::nullopt) << size;
  }
}

TEST(ContentStoreTest, PutTwiceKeepsOneCopy) {
  ScopedTempDir tmp;
  ContentStore store(tmp / "store");
  file::write_atomic(tmp / "a.pt", "same bytes");
  file::write_atomic(tmp / "b.pt", "same bytes");
  const StoredArtifact a = store.put(tmp / "a.pt", 4);
  const StoredArtifact b = store.put(tmp / "b.pt", 4);
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_EQ(a.block_sha256, b.block_sha256);
  EXPECT_TRUE(fs::is_empty(tmp / "store" / "tmp"));
}

TEST(ContentStoreTest, RejectsBadInput) {
  ScopedTempDir tmp;
  ContentStore store(tmp / "store");
  file::write_atomic(tmp / "a.pt", "x");
  EXPECT_THROW(store.put(tmp / "a.pt", 0), Error);
  EXPECT_THROW(store.put(tmp / "a.pt", kMaxBlockBytes + 1), Error);
  EXPECT_THROW(store.put(tmp / "absent.pt", 4096), Error);
  EXPECT_THROW(store.path("../../etc/passwd"), Error);
  EXPECT_THROW(store.path(std::string(64, 'A')), Error);
  EXPECT_FALSE(store.has("../../etc/passwd"));
  EXPECT_THROW(store.read(std::string(64, 'a'), 0, 10), Error);
}

TEST(ContentStoreTest, RestartRemovesInterruptedPuts) {
  ScopedTempDir tmp;
  { ContentStore store(tmp / "store"); }
  file::write_atomic(tmp / "store" / "tmp" / "put-abcdef", "half a model");
  ContentStore store(tmp / "store");
  EXPECT_TRUE(fs::is_empty(tmp / "store" / "tmp"));
}

TEST(ContentStoreTest, ServeByRangesReassemblesTheFile) {
  ScopedTempDir tmp;
  ContentStore store(tmp / "store");
  const std::string content = test_bytes(50'000, 3);
  const v1::ManifestBody m = publish(store, tmp / "in", content, "resnet18", 2, 8192, 0);
  std::string assembled;
  v1::FetchRequest request;
  request.set_model_id("resnet18");
  request.set_version(2);
  request.set_max_bytes(7000);  // deliberately not the block size
  while (assembled.size() < content.size()) {
    request.set_offset(assembled.size());
    const v1::Chunk chunk = serve(store, m, request);
    ASSERT_EQ(chunk.error(), "");
    EXPECT_EQ(chunk.offset(), assembled.size());
    EXPECT_EQ(chunk.total_size(), content.size());
    EXPECT_LE(chunk.data().size(), 7000u);
    ASSERT_FALSE(chunk.data().empty());
    assembled += chunk.data();
  }
  EXPECT_EQ(assembled, content);
  request.set_offset(content.size());
  const v1::Chunk end = serve(store, m, request);
  EXPECT_EQ(end.error(), "");
  EXPECT_TRUE(end.data().empty());
}

TEST(ContentStoreTest, ServeSetsErrorInsteadOfThrowing) {
  ScopedTempDir tmp;
  ContentStore store(tmp / "store");
  const v1::ManifestBody m = publish(store, tmp / "in", test_bytes(100, 4), "resnet18", 2, 64, 0);
  v1::FetchRequest good;
  good.set_model_id("resnet18");
  good.set_version(2);
  good.set_max_bytes(64);
  auto error_of = [&](auto edit, const v1::ManifestBody& manifest) {
    v1::FetchRequest r = good;
    edit(r);
    const v1::Chunk c = serve(store, manifest, r);
    EXPECT_TRUE(c.data().empty());
    return c.error();
  };
  EXPECT_EQ(error_of([](auto& r) { r.set_version(1); }, m), "unknown model version");
  EXPECT_EQ(error_of([](auto& r) { r.set_model_id("vgg19"); }, m), "unknown model version");
  EXPECT_EQ(error_of([](auto&) {}, v1::ManifestBody()), "unknown model version");
  EXPECT_EQ(error_of([](auto& r) { r.set_offset(101); }, m), "offset past end");
  EXPECT_EQ(error_of([](auto& r) { r.set_max_bytes(0); }, m), "max_bytes is 0");
  v1::ManifestBody missing = m;
  missing.set_sha256(std::string(64, '0'));
  EXPECT_EQ(error_of([](auto&) {}, missing), "artifact not in store");
  v1::ManifestBody hostile = m;
  hostile.set_sha256("../../../etc/passwd");
  EXPECT_EQ(error_of([](auto&) {}, hostile), "artifact not in store");
}

// An 8 GiB sparse artifact: serving its tail must cost one bounded read, not 8 GiB of memory.
TEST(ContentStoreTest, ServingNeverLoadsTheWholeFile) {
  ScopedTempDir tmp;
  ContentStore store(tmp / "store");
  const std::string sha(64, 'b');
  const fs::path p = store.path(sha);
  fs::create_directories(p.parent_path());
  constexpr std::uint64_t kSize = 8ull << 30;
  const int fd = ::open(p.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(kSize)), 0);
  ASSERT_EQ(::pwrite(fd, "tail", 4, static_cast<off_t>(kSize - 4)), 4);
  ::close(fd);

  v1::ManifestBody m;
  m.set_model_id("huge");
  m.set_version(1);
  m.set_sha256(sha);
  m.set_size_bytes(kSize);
  v1::FetchRequest r;
  r.set_model_id("huge");
  r.set_version(1);
  r.set_offset(kSize - 1000);
  r.set_max_bytes(1u << 31);  // asks for 2 GiB: served at most kMaxBlockBytes
  const v1::Chunk chunk = serve(store, m, r);
  ASSERT_EQ(chunk.error(), "");
  ASSERT_EQ(chunk.data().size(), 1000u);
  EXPECT_EQ(chunk.data().substr(996), "tail");
  r.set_offset(0);
  EXPECT_EQ(serve(store, m, r).data().size(), kMaxBlockBytes);
}

}  // namespace
}  // namespace fleetml::delivery
