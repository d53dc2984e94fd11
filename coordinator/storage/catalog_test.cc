#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/storage/database.h"
#include "coordinator/storage/test_util.h"
#include "shared/common/error.h"

namespace fleetml::storage {
namespace {

using ::testing::HasSubstr;
using testing::make_artifact;
using testing::make_manifest;

class CatalogTest : public testing::StorageTest {
 protected:
  ModelVersion add(Database& db, const ModelArtifact& a) {
    return db.add_model_version(a, [&](std::uint64_t v) { return make_manifest(a, v); });
  }
};

TEST_F(CatalogTest, VersionsCountUpPerModel) {
  auto db = open();
  const auto a1 = add(*db, make_artifact("resnet18", 'a'));
  EXPECT_EQ(a1.version, 1u);
  EXPECT_EQ(a1.created_unix_ms, clock_.now_unix_ms());
  clock_.advance(std::chrono::hours(1));
  auto retrained = make_artifact("resnet18", 'b');
  retrained.accuracy = 0.71;
  EXPECT_EQ(add(*db, retrained).version, 2u);
  EXPECT_EQ(add(*db, make_artifact("mobilenet_v2")).version, 1u);

  const auto latest = db->latest_model_version("resnet18");
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->version, 2u);
  EXPECT_EQ(latest->artifact.sha256, std::string(64, 'b'));
  EXPECT_DOUBLE_EQ(latest->artifact.accuracy, 0.71);
  EXPECT_EQ(latest->manifest.SerializeAsString(), make_manifest(retrained, 2).SerializeAsString());

  const auto first = db->model_version("resnet18", 1);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->artifact.sha256, std::string(64, 'a'));
  EXPECT_EQ(first->artifact.task, "image-classification");
  EXPECT_EQ(first->artifact.profile, make_artifact("resnet18").profile);
  EXPECT_EQ(first->created_unix_ms, a1.created_unix_ms);

  EXPECT_FALSE(db->model_version("resnet18", 3).has_value());
  EXPECT_FALSE(db->model_version("resnet18", ~std::uint64_t{0}).has_value());
  EXPECT_FALSE(db->latest_model_version("vgg19").has_value());

  const auto catalog = db->latest_model_versions();
  ASSERT_EQ(catalog.size(), 2u);
  EXPECT_EQ(catalog[0].artifact.model_id, "mobilenet_v2");
  EXPECT_EQ(catalog[1].artifact.model_id, "resnet18");
  EXPECT_EQ(catalog[1].version, 2u);
  const auto all = db->model_versions("resnet18");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].version, 1u);
  EXPECT_EQ(all[1].version, 2u);
}

TEST_F(CatalogTest, CatalogSurvivesReopen) {
  {
    auto db = open();
    add(*db, make_artifact("resnet18"));
    add(*db, make_artifact("resnet18"));
  }
  auto db = open();
  EXPECT_EQ(db->latest_model_version("resnet18")->version, 2u);
  EXPECT_EQ(add(*db, make_artifact("resnet18")).version, 3u);
}

TEST_F(CatalogTest, RejectsInvalidArtifacts) {
  auto db = open();
  auto bad = make_artifact("m");
  bad.sha256 = std::string(64, 'A');  // uppercase
  EXPECT_THROW(add(*db, bad), Error);
  bad = make_artifact("m");
  bad.accuracy = 1.5;
  EXPECT_THROW(add(*db, bad), Error);
  bad = make_artifact("m");
  bad.profile.input_shape = {1, 0, 224, 224};
  EXPECT_THROW(add(*db, bad), Error);
  bad = make_artifact("m");
  bad.profile.size_bytes = 0;
  EXPECT_THROW(add(*db, bad), Error);
  EXPECT_THROW(add(*db, make_artifact("")), Error);
  EXPECT_TRUE(db->latest_model_versions().empty());
}

TEST_F(CatalogTest, RejectsManifestThatDisagreesAndStoresNothing) {
  auto db = open();
  const auto a = make_artifact("resnet18");
  try {
    db->add_model_version(a, [&](std::uint64_t v) {
      auto other = a;
      other.sha256 = std::string(64, 'f');
      return make_manifest(other, v);
    });
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("resnet18"));
    EXPECT_THAT(e.what(), HasSubstr("sha256"));
  }
  EXPECT_THROW(db->add_model_version(a, [&](std::uint64_t v) { return make_manifest(a, v + 1); }),
               Error);
  EXPECT_THROW(db->add_model_version(a,
                                     [&](std::uint64_t v) {
                                       auto m = make_manifest(a, v);
                                       m.clear_signature();
                                       return m;
                                     }),
               Error);
  EXPECT_THROW(db->add_model_version(a,
                                     [&](std::uint64_t) {
                                       v1::Manifest m;
                                       m.set_body("\xff\xff garbage");
                                       return m;
                                     }),
               Error);
  EXPECT_FALSE(db->latest_model_version("resnet18").has_value());
  // Failed attempts consume no version number.
  EXPECT_EQ(add(*db, a).version, 1u);
}

TEST_F(CatalogTest, SignerFailureStoresNothing) {
  auto db = open();
  const auto a = make_artifact("resnet18");
  EXPECT_THROW(db->add_model_version(
                   a, [](std::uint64_t) -> v1::Manifest { throw Error("release key missing"); }),
               Error);
  EXPECT_TRUE(db->model_versions("resnet18").empty());
}

}  // namespace
}  // namespace fleetml::storage
