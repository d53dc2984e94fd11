#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/storage/database.h"
#include "coordinator/storage/test_util.h"
#include "shared/common/error.h"

namespace fleetml::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::make_capability;
using testing::make_sample;
using testing::make_status;

class VehiclesTest : public testing::StorageTest {};

google::protobuf::RepeatedPtrField<v1::LinkSample> samples(
    std::initializer_list<std::pair<std::int64_t, double>> start_and_kbps) {
  google::protobuf::RepeatedPtrField<v1::LinkSample> out;
  for (const auto& [start, kbps] : start_and_kbps) *out.Add() = make_sample(start, kbps);
  return out;
}

std::vector<std::int64_t> starts(const std::vector<v1::LinkSample>& s) {
  std::vector<std::int64_t> out;
  for (const auto& x : s) out.push_back(x.start_unix_ms());
  return out;
}

TEST_F(VehiclesTest, CapabilityRoundTripAndHistory) {
  auto db = open();
  const auto first = make_capability("rpi4-001", 1);
  db->save_capability(first, "rpi4/4t/opt");
  const std::int64_t first_ms = clock_.now_unix_ms();
  clock_.advance(std::chrono::seconds(5));
  auto second = make_capability("rpi4-001", 2);
  second.mutable_device()->set_threads(2);
  db->save_capability(second, "rpi4/2t/opt");

  const auto v = db->vehicle("rpi4-001");
  ASSERT_TRUE(v.has_value());
  ASSERT_TRUE(v->capability.has_value());
  EXPECT_EQ(v->capability->SerializeAsString(), second.SerializeAsString());
  EXPECT_EQ(v->capability_seq, 2u);
  EXPECT_EQ(v->device_key, "rpi4/2t/opt");
  EXPECT_EQ(v->capability_unix_ms, clock_.now_unix_ms());
  EXPECT_EQ(v->last_seen_unix_ms, clock_.now_unix_ms());
  EXPECT_FALSE(v->status.has_value());

  const auto history = db->capability_history("rpi4-001", 10);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].capability.seq(), 2u);  // newest first
  EXPECT_EQ(history[1].capability.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(history[1].device_key, "rpi4/4t/opt");
  EXPECT_EQ(history[1].received_unix_ms, first_ms);
  EXPECT_EQ(db->capability_history("rpi4-001", 1).size(), 1u);
  EXPECT_FALSE(db->vehicle("nobody").has_value());
}

TEST_F(VehiclesTest, CapabilityHistoryIsBounded) {
  Database::Options options;
  options.capability_history_per_vehicle = 3;
  auto db = open(options);
  for (std::uint64_t seq = 1; seq <= 10; ++seq) {
    db->save_capability(make_capability("a", seq), "k");
    db->save_capability(make_capability("b", seq), "k");
  }
  const auto history = db->capability_history("a", 100);
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].capability.seq(), 10u);
  EXPECT_EQ(history[2].capability.seq(), 8u);
  EXPECT_EQ(db->capability_history("b", 100).size(), 3u);

  // Reopened with a smaller bound, the next capability trims everything beyond it at once.
  db.reset();
  options.capability_history_per_vehicle = 1;
  db = open(options);
  db->save_capability(make_capability("a", 11), "k");
  const auto trimmed = db->capability_history("a", 100);
  ASSERT_EQ(trimmed.size(), 1u);
  EXPECT_EQ(trimmed[0].capability.seq(), 11u);
  EXPECT_EQ(db->capability_history("b", 100).size(), 3u);  // b sent nothing since
}

TEST_F(VehiclesTest, StatusOnlineOfflineAndLastWill) {
  auto db = open();
  v1::Status status = make_status("jetson-7", 3, v1::Status::ONLINE);
  status.add_transfers()->set_model_id("resnet18");
  db->save_status(status);  // before any capability: the vehicle row appears
  auto v = db->vehicle("jetson-7");
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->online);
  EXPECT_FALSE(v->capability.has_value());
  ASSERT_TRUE(v->status.has_value());
  EXPECT_EQ(v->status->transfers(0).model_id(), "resnet18");
  const std::int64_t seen = clock_.now_unix_ms();
  EXPECT_EQ(v->last_seen_unix_ms, seen);

  clock_.advance(std::chrono::minutes(1));
  status.set_state(v1::Status::OFFLINE);
  status.set_last_will(true);
  db->save_status(status);
  v = db->vehicle("jetson-7");
  EXPECT_FALSE(v->online);
  EXPECT_TRUE(v->status->last_will());
  EXPECT_EQ(v->last_seen_unix_ms, seen);  // the broker spoke, not the vehicle
}

TEST_F(VehiclesTest, ListsVehiclesById) {
  auto db = open();
  db->save_capability(make_capability("b", 1), "k");
  db->save_capability(make_capability("a", 1), "k");
  db->append_link_samples("c", samples({{1000, 5000}}));
  const auto all = db->vehicles();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].vehicle_id, "a");
  EXPECT_EQ(all[1].vehicle_id, "b");
  EXPECT_EQ(all[2].vehicle_id, "c");
  EXPECT_FALSE(all[2].capability.has_value());
}

TEST_F(VehiclesTest, RejectsBadCapabilityAndStatus) {
  auto db = open();
  EXPECT_THROW(db->save_capability(make_capability("", 1), "k"), Error);
  EXPECT_THROW(db->save_capability(make_capability("a", 1), ""), Error);
  auto huge = make_capability("a", std::uint64_t{1} << 63);
  try {
    db->save_capability(huge, "k");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("seq"));
    EXPECT_THAT(e.what(), HasSubstr("'a'"));
  }
  EXPECT_THROW(db->save_status(v1::Status{}), Error);
  EXPECT_TRUE(db->vehicles().empty());
}

TEST_F(VehiclesTest, AcceptSeqIgnoresStaleAndDuplicates) {
  auto db = open();
  EXPECT_FALSE(db->last_seq("v", MessageKind::kCapability).has_value());
  EXPECT_TRUE(db->accept_seq("v", MessageKind::kCapability, 5));
  EXPECT_FALSE(db->accept_seq("v", MessageKind::kCapability, 5));
  EXPECT_FALSE(db->accept_seq("v", MessageKind::kCapability, 4));
  EXPECT_TRUE(db->accept_seq("v", MessageKind::kCapability, 9));
  // Kinds and vehicles are independent streams.
  EXPECT_TRUE(db->accept_seq("v", MessageKind::kReport, 1));
  EXPECT_TRUE(db->accept_seq("w", MessageKind::kCapability, 1));
  EXPECT_EQ(db->last_seq("v", MessageKind::kCapability), 9u);
  EXPECT_EQ(db->last_seq("v", MessageKind::kReport), 1u);
  EXPECT_FALSE(db->last_seq("v", MessageKind::kLink).has_value());
  EXPECT_THROW(db->accept_seq("", MessageKind::kLink, 1), Error);
}

TEST_F(VehiclesTest, SaveCapabilityIgnoresStaleAndDuplicateSeqs) {
  auto db = open();
  db->save_status(make_status("v", 1, v1::Status::ONLINE));  // a vehicle row, no capability
  const auto first = make_capability("v", 5);
  EXPECT_TRUE(db->save_capability(first, "k"));
  auto duplicate = make_capability("v", 5);
  duplicate.mutable_device()->set_threads(7);
  EXPECT_FALSE(db->save_capability(duplicate, "other"));
  EXPECT_FALSE(db->save_capability(make_capability("v", 4), "k"));
  const auto v = db->vehicle("v");
  EXPECT_EQ(v->capability->SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(v->device_key, "k");
  EXPECT_EQ(db->capability_history("v", 10).size(), 1u);
  EXPECT_EQ(db->last_seq("v", MessageKind::kCapability), 5u);

  // The same stream as accept_seq(kCapability).
  EXPECT_FALSE(db->accept_seq("v", MessageKind::kCapability, 5));
  EXPECT_TRUE(db->accept_seq("v", MessageKind::kCapability, 7));
  EXPECT_FALSE(db->save_capability(make_capability("v", 6), "k"));
  EXPECT_TRUE(db->save_capability(make_capability("v", 8), "k"));
  EXPECT_EQ(db->vehicle("v")->capability_seq, 8u);
  EXPECT_EQ(db->capability_history("v", 10).size(), 2u);
  EXPECT_EQ(db->last_seq("v", MessageKind::kCapability), 8u);
  // Other kinds are independent.
  EXPECT_TRUE(db->accept_seq("v", MessageKind::kStatus, 2));
}

TEST_F(VehiclesTest, SeqTrackingSurvivesReopen) {
  {
    auto db = open();
    ASSERT_TRUE(db->accept_seq("v", MessageKind::kStatus, 41));
    ASSERT_TRUE(db->accept_seq("v", MessageKind::kFetch, 7));
  }
  auto db = open();
  EXPECT_EQ(db->last_seq("v", MessageKind::kStatus), 41u);
  EXPECT_FALSE(db->accept_seq("v", MessageKind::kStatus, 41));
  EXPECT_TRUE(db->accept_seq("v", MessageKind::kStatus, 42));
  EXPECT_EQ(db->last_seq("v", MessageKind::kFetch), 7u);
}

TEST_F(VehiclesTest, LinkSamplesRecentAndSince) {
  auto db = open();
  // Out of order arrival: reads order by start time.
  db->append_link_samples("v", samples({{3000, 30}, {1000, 10}}));
  db->append_link_samples("v", samples({{2000, 20}, {4000, 40}}));
  db->append_link_samples("other", samples({{2500, 99}}));

  EXPECT_THAT(starts(db->recent_link_samples("v", 2)), ElementsAre(3000, 4000));
  EXPECT_THAT(starts(db->recent_link_samples("v", 100)), ElementsAre(1000, 2000, 3000, 4000));
  EXPECT_THAT(starts(db->link_samples_since("v", 2000)), ElementsAre(2000, 3000, 4000));
  const auto one = db->link_samples_since("other", 0);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].SerializeAsString(), make_sample(2500, 99).SerializeAsString());
  EXPECT_TRUE(db->recent_link_samples("nobody", 5).empty());
}

TEST_F(VehiclesTest, LinkSampleRetentionBoundsEachVehicle) {
  Database::Options options;
  options.link_samples_per_vehicle = 50;
  auto db = open(options);
  for (int batch = 0; batch < 40; ++batch) {
    google::protobuf::RepeatedPtrField<v1::LinkSample> s;
    for (int i = 0; i < 5; ++i) *s.Add() = make_sample((batch * 5 + i) * 1000, batch);
    db->append_link_samples("v", s);
    db->append_link_samples("w", s);
  }
  const auto kept = db->recent_link_samples("v", 1000);
  ASSERT_EQ(kept.size(), 50u);
  EXPECT_EQ(kept.front().start_unix_ms(), 150'000);  // the newest 50 of 200
  EXPECT_EQ(kept.back().start_unix_ms(), 199'000);
  EXPECT_EQ(db->link_samples_since("w", 0).size(), 50u);
  // A late, old sample is itself the oldest, so it is dropped at once.
  db->append_link_samples("v", samples({{0, 1}}));
  EXPECT_EQ(db->recent_link_samples("v", 1000).front().start_unix_ms(), 150'000);
}

TEST_F(VehiclesTest, BadLinkSampleRejectsTheWholeBatch) {
  auto db = open();
  auto s = samples({{1000, 10}, {2000, -1}});
  EXPECT_THROW(db->append_link_samples("v", s), Error);
  s = samples({{1000, 10}, {2000, std::nan("")}});
  EXPECT_THROW(db->append_link_samples("v", s), Error);
  s = samples({{1000, 10}});
  s.Mutable(0)->set_duration_ms(0);
  EXPECT_THROW(db->append_link_samples("v", s), Error);
  EXPECT_TRUE(db->recent_link_samples("v", 10).empty());
  EXPECT_TRUE(db->vehicles().empty());
}

}  // namespace
}  // namespace fleetml::storage
