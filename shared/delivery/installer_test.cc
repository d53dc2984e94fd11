#include "shared/delivery/installer.h"

#include <gtest/gtest.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/reasons.h"
#include "shared/crypto/sha256.h"
#include "shared/crypto/test_support.h"
#include "shared/delivery/test_support.h"

namespace fleetml::delivery {
namespace {

namespace fs = std::filesystem;
namespace reason = crypto::reason;
using crypto::ScopedTempDir;

// Stand-in for the LibTorch smoke inference (wired later by the vehicle agent): "loads" the
// file by checking its magic prefix, and can be told to fail.
struct FakeSmoke {
  bool fail = false;
  int runs = 0;
  SmokeResult operator()(const fs::path& file, const v1::ManifestBody&) {
    ++runs;
    if (fail) return {false, "forward() raised: shape mismatch"};
    return file::read(file).starts_with("MODEL") ? SmokeResult{true, ""}
                                                 : SmokeResult{false, "not a model"};
  }
};

class InstallerTest : public ::testing::Test {
 protected:
  fs::path root() const { return tmp_ / "vehicle"; }

  Installer make(std::size_t keep_inactive = 2) {
    return Installer(root(),
                     [this](const fs::path& f, const v1::ManifestBody& m) { return smoke_(f, m); },
                     {.keep_inactive = keep_inactive});
  }

  // A downloaded, verified artifact for `model` v`version` and its manifest.
  std::pair<fs::path, v1::ManifestBody> artifact(const std::string& model, std::uint64_t version) {
    const std::string content = "MODEL " + model + " " + std::to_string(version) + " " +
                                test_bytes(3000, static_cast<std::uint32_t>(version));
    const fs::path file = tmp_ / "downloads" / (model + std::to_string(version));
    fs::create_directories(file.parent_path());
    file::write_atomic(file, content);
    v1::ManifestBody m;
    m.set_model_id(model);
    m.set_version(version);
    m.set_sha256(crypto::to_hex(crypto::sha256(content)));
    m.set_size_bytes(content.size());
    m.set_block_size(1024);
    for (std::size_t off = 0; off < content.size(); off += 1024) {
      m.add_block_sha256(crypto::sha256(content.substr(off, 1024)));
    }
    return {file, m};
  }

  ScopedTempDir tmp_;
  FakeSmoke smoke_;
};

TEST_F(InstallerTest, InstallPlacesTheFileAndActivatesIt) {
  Installer installer = make();
  auto [file, m] = artifact("resnet18", 3);
  const std::string content = file::read(file);
  const InstallResult r = installer.install(file, m, "front-camera");
  ASSERT_TRUE(r.ok()) << r.reason << ": " << r.detail;
  const fs::path placed = root() / "models" / "resnet18" / "3" / "model.pt";
  EXPECT_EQ(file::read(placed), content);
  EXPECT_FALSE(fs::exists(file));  // moved in
  EXPECT_FALSE(fs::exists(placed.string() + ".tmp"));
  const auto active = installer.active("front-camera");
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->model_id, "resnet18");
  EXPECT_EQ(active->version, 3u);
  EXPECT_EQ(active->path, placed);
  EXPECT_EQ(installer.highest_version("resnet18"), 3u);
  EXPECT_EQ(installer.highest_version("vgg19"), std::nullopt);
  const auto installed = installer.installed();
  ASSERT_EQ(installed.size(), 1u);
  EXPECT_EQ(installed[0].application_id(), "front-camera");
  EXPECT_EQ(installed[0].sha256(), m.sha256());
  EXPECT_FALSE(fs::exists(root() / "state.json.tmp"));
}

TEST_F(InstallerTest, SwitchHappensOnlyAfterTheSmokeTestPasses) {
  Installer* self = nullptr;
  std::optional<std::uint64_t> active_during_smoke;
  std::string durable_during_smoke;
  Installer installer(root(), [&](const fs::path& f, const v1::ManifestBody& m) {
    // The new file is in place; the previous model is still active, in memory and on disk.
    EXPECT_TRUE(fs::exists(f));
    if (const auto active = self->active("cam")) active_during_smoke = active->version;
    if (fs::exists(root() / "state.json")) durable_during_smoke = file::read(root() / "state.json");
    return smoke_(f, m);
  });
  self = &installer;
  auto [f1, m1] = artifact("resnet18", 1);
  ASSERT_TRUE(installer.install(f1, m1, "cam").ok());
  auto [f2, m2] = artifact("resnet18", 2);
  ASSERT_TRUE(installer.install(f2, m2, "cam").ok());
  EXPECT_EQ(active_during_smoke, 1u);
  EXPECT_NE(durable_during_smoke.find(R"("version": 1)"), std::string::npos);
  EXPECT_EQ(durable_during_smoke.find(R"("version": 2)"), std::string::npos);
  EXPECT_EQ(installer.active("cam")->version, 2u);
}

TEST_F(InstallerTest, OneInstallerPerStore) {
  Installer installer = make();
  EXPECT_THROW(make(), Error);
}

TEST_F(InstallerTest, SmokeFailureKeepsThePreviousModel) {
  Installer installer = make();
  auto [f1, m1] = artifact("resnet18", 1);
  ASSERT_TRUE(installer.install(f1, m1, "cam").ok());
  auto [f2, m2] = artifact("resnet18", 2);
  smoke_.fail = true;
  const InstallResult r = installer.install(f2, m2, "cam");
  EXPECT_EQ(r.reason, reason::kSmokeFailed);
  EXPECT_NE(r.detail.find("shape mismatch"), std::string::npos) << r.detail;
  EXPECT_EQ(installer.active("cam")->version, 1u);
  EXPECT_EQ(installer.highest_version("resnet18"), 1u);
  EXPECT_FALSE(fs::exists(root() / "models" / "resnet18" / "2"));
}

TEST_F(InstallerTest, ThrowingSmokeTestCountsAsFailure) {
  Installer installer(root(), [](const fs::path&, const v1::ManifestBody&) -> SmokeResult {
    throw Error("child process crashed");
  });
  auto [f, m] = artifact("resnet18", 1);
  const InstallResult r = installer.install(f, m, "cam");
  EXPECT_EQ(r.reason, reason::kSmokeFailed);
  EXPECT_FALSE(installer.active("cam").has_value());
}

TEST_F(InstallerTest, FileThatDoesNotMatchTheManifestIsNeverActivated) {
  Installer installer = make();
  auto [f1, m1] = artifact("resnet18", 1);
  ASSERT_TRUE(installer.install(f1, m1, "cam").ok());
  auto [f2, m2] = artifact("resnet18", 2);
  std::string swapped = file::read(f2);
  swapped[100] ^= 0x01;
  file::write_atomic(f2, swapped);
  const int runs = smoke_.runs;
  EXPECT_EQ(installer.install(f2, m2, "cam").reason, reason::kHashMismatch);
  file::write_atomic(f2, swapped.substr(1));
  EXPECT_EQ(installer.install(f2, m2, "cam").reason, reason::kSizeMismatch);
  EXPECT_EQ(smoke_.runs, runs);  // never handed to the runtime
  EXPECT_EQ(installer.active("cam")->version, 1u);
  EXPECT_FALSE(fs::exists(root() / "models" / "resnet18" / "2"));
}

TEST_F(InstallerTest, KeepsAtMostNInactiveAndNeverTheActive) {
  Installer installer = make(/*keep_inactive=*/1);
  auto [a, ma] = artifact("mobilenet", 7);
  ASSERT_TRUE(installer.install(a, ma, "rear-camera").ok());
  for (std::uint64_t v = 1; v <= 4; ++v) {
    auto [f, m] = artifact("resnet18", v);
    ASSERT_TRUE(installer.install(f, m, "cam").ok());
  }
  // Active: resnet18 v4 (cam) and mobilenet v7 (rear-camera); one inactive kept: v3.
  EXPECT_TRUE(fs::exists(root() / "models" / "resnet18" / "4" / "model.pt"));
  EXPECT_TRUE(fs::exists(root() / "models" / "resnet18" / "3" / "model.pt"));
  EXPECT_FALSE(fs::exists(root() / "models" / "resnet18" / "2"));
  EXPECT_FALSE(fs::exists(root() / "models" / "resnet18" / "1"));
  EXPECT_TRUE(fs::exists(root() / "models" / "mobilenet" / "7" / "model.pt"));
  const auto installed = installer.installed();
  ASSERT_EQ(installed.size(), 3u);
  int kept_inactive = 0;
  for (const auto& m : installed) kept_inactive += m.application_id().empty() ? 1 : 0;
  EXPECT_EQ(kept_inactive, 1);
  EXPECT_EQ(installer.highest_version("resnet18"), 4u);

  // Once a model is active nowhere and falls out of the kept set, its directory goes too.
  for (std::uint64_t v = 5; v <= 6; ++v) {
    auto [f, m] = artifact("resnet18", v);
    ASSERT_TRUE(installer.install(f, m, "rear-camera").ok());
  }
  EXPECT_FALSE(fs::exists(root() / "models" / "mobilenet"));
}

TEST_F(InstallerTest, SameVersionForASecondApplicationIsReused) {
  Installer installer = make();
  auto [f, m] = artifact("resnet18", 2);
  ASSERT_TRUE(installer.install(f, m, "cam").ok());
  auto [again, m_again] = artifact("resnet18", 2);
  ASSERT_TRUE(installer.install(again, m_again, "other-cam").ok());
  EXPECT_EQ(installer.active("other-cam")->path, installer.active("cam")->path);
  EXPECT_FALSE(fs::exists(again));
  v1::ManifestBody different = m;
  different.set_sha256(std::string(64, 'e'));
  EXPECT_EQ(installer.install(again, different, "cam").reason, reason::kHashMismatch);
}

TEST_F(InstallerTest, StateSurvivesARestart) {
  {
    Installer installer = make();
    auto [f, m] = artifact("resnet18", 5);
    ASSERT_TRUE(installer.install(f, m, "cam").ok());
    installer.set_assignment_seq(12);
    installer.set_assignment_seq(3);  // never goes back
  }
  Installer installer = make();
  EXPECT_EQ(installer.active("cam")->version, 5u);
  EXPECT_EQ(installer.highest_version("resnet18"), 5u);
  EXPECT_EQ(installer.assignment_seq(), 12u);
  EXPECT_EQ(installer.installed().size(), 1u);
}

// A simulated vehicle's store (SimPlatform): state.json only, no artifact files.
TEST_F(InstallerTest, MetadataOnlyStoreRecordsInstallsWithoutFiles) {
  std::vector<bool> smoke_saw_a_file;
  const auto metadata_only = [&] {
    return Installer(root(),
                     [&](const fs::path& f, const v1::ManifestBody&) {
                       smoke_saw_a_file.push_back(fs::exists(f));
                       return SmokeResult{!smoke_.fail, smoke_.fail ? "out of memory" : ""};
                     },
                     {.keep_inactive = 1, .metadata_only = true});
  };
  {
    Installer installer = metadata_only();
    for (std::uint64_t v = 1; v <= 3; ++v) {
      const v1::ManifestBody m = artifact("resnet18", v).second;
      // The Download verified the bytes; no file is handed over.
      ASSERT_TRUE(installer.install({}, m, "cam").ok());
    }
    smoke_.fail = true;
    EXPECT_EQ(installer.install({}, artifact("resnet18", 4).second, "cam").reason,
              reason::kSmokeFailed);
    EXPECT_EQ(installer.active("cam")->version, 3u);  // the failed one never became active
    installer.set_assignment_seq(9);
  }
  EXPECT_EQ(smoke_saw_a_file, (std::vector<bool>{false, false, false, false}));
  EXPECT_FALSE(fs::exists(root() / "models" / "resnet18"));
  // The state survives a restart: active v3, v2 kept (keep_inactive 1), v1 pruned.
  Installer installer = metadata_only();
  EXPECT_EQ(installer.active("cam")->version, 3u);
  EXPECT_EQ(installer.highest_version("resnet18"), 3u);
  EXPECT_EQ(installer.assignment_seq(), 9u);
  const auto installed = installer.installed();
  ASSERT_EQ(installed.size(), 2u);
  EXPECT_EQ(installed[0].version(), 3u);
  EXPECT_EQ(installed[0].sha256(), artifact("resnet18", 3).second.sha256());
  EXPECT_EQ(installed[1].version(), 2u);
  EXPECT_TRUE(installed[1].application_id().empty());
  // Switching back to a kept version needs no download either.
  smoke_.fail = false;
  ASSERT_TRUE(installer.install({}, artifact("resnet18", 2).second, "cam").ok());
  EXPECT_EQ(installer.active("cam")->version, 2u);
}

TEST_F(InstallerTest, LeftoversOfAnInterruptedInstallAreCleanedOnStart) {
  {
    Installer installer = make();
    auto [f, m] = artifact("resnet18", 1);
    ASSERT_TRUE(installer.install(f, m, "cam").ok());
  }
  // A crash after placing v2 but before the state switch, and one during v3's copy.
  const fs::path models = root() / "models" / "resnet18";
  fs::create_directories(models / "2");
  file::write_atomic(models / "2" / "model.pt", "MODEL half-installed");
  fs::create_directories(models / "3");
  file::write_atomic(models / "3" / "model.pt.tmp", "MODEL partial copy");
  fs::create_directories(root() / "models" / "vgg19" / "1");
  file::write_atomic(models / "1" / "model.pt.tmp", "stale temporary");

  Installer installer = make();
  EXPECT_FALSE(fs::exists(models / "2"));
  EXPECT_FALSE(fs::exists(models / "3"));
  EXPECT_FALSE(fs::exists(root() / "models" / "vgg19"));
  EXPECT_FALSE(fs::exists(models / "1" / "model.pt.tmp"));
  EXPECT_EQ(installer.active("cam")->version, 1u);
  EXPECT_TRUE(fs::exists(models / "1" / "model.pt"));
}

TEST_F(InstallerTest, UnreadableStateIsAnErrorNotAReset) {
  fs::create_directories(root());
  file::write_atomic(root() / "state.json", "{ truncated");
  EXPECT_THROW(make(), Error);
  file::write_atomic(root() / "state.json",
                     R"({"format":1,"assignment_seq":0,"next_order":2,"active":{},)"
                     R"("highest_version":{},"installed":[{"model_id":"../../x","version":1,)"
                     R"("sha256":"","size_bytes":0,"order":1}]})");
  EXPECT_THROW(make(), Error);
}

TEST_F(InstallerTest, RejectsBadIds) {
  Installer installer = make();
  auto [f, m] = artifact("resnet18", 1);
  EXPECT_EQ(installer.install(f, m, "../app").reason, reason::kMalformed);
  m.set_model_id("../escape");
  EXPECT_EQ(installer.install(f, m, "cam").reason, reason::kMalformed);
}

}  // namespace
}  // namespace fleetml::delivery
