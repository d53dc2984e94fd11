// Measurements, assignments, events, estimator state and reports.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/storage/database.h"
#include "coordinator/storage/test_util.h"
#include "shared/common/error.h"

namespace fleetml::storage {
namespace {

using ::testing::HasSubstr;
using testing::make_assignment;
using testing::make_measurement;

class ActivityTest : public testing::StorageTest {};

TEST_F(ActivityTest, MeasurementsRoundTripAndQueries) {
  auto db = open();
  auto m1 = make_measurement("rpi4-001", "rpi4/4t/opt", "resnet18", 210);
  m1.optimized = false;
  m1.model_version = 2;
  m1.batch = 4;
  const auto m2 = make_measurement("rpi4-002", "rpi4/4t/opt", "mobilenet_v2", 48);
  const auto m3 = make_measurement("pc-1", "i9/8t/opt", "resnet18", 9);
  db->add_measurement(m1);
  clock_.advance(std::chrono::seconds(1));
  db->add_measurement(m2);
  db->add_measurement(m3);

  const auto all = db->all_measurements();
  ASSERT_EQ(all.size(), 3u);
  auto expected = m1;
  expected.received_unix_ms = clock_.now_unix_ms() - 1000;
  EXPECT_EQ(all[0], expected);
  EXPECT_EQ(all[2].received_unix_ms, clock_.now_unix_ms());

  const auto rpi = db->measurements_for_device("rpi4/4t/opt");
  ASSERT_EQ(rpi.size(), 2u);
  EXPECT_EQ(rpi[0].model_id, "resnet18");
  EXPECT_EQ(rpi[1].model_id, "mobilenet_v2");
  const auto one = db->measurements_for("rpi4/4t/opt", "mobilenet_v2");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_DOUBLE_EQ(one[0].p50_ms, 48);
  EXPECT_TRUE(db->measurements_for("i9/8t/opt", "mobilenet_v2").empty());
}

TEST_F(ActivityTest, RejectsBadMeasurements) {
  auto db = open();
  const auto good = make_measurement("v", "k", "m", 10);
  auto bad = good;
  bad.p95_ms = 5;  // below p50
  EXPECT_THROW(db->add_measurement(bad), Error);
  bad = good;
  bad.p50_ms = std::numeric_limits<double>::infinity();
  EXPECT_THROW(db->add_measurement(bad), Error);
  bad = good;
  bad.batch = 0;
  EXPECT_THROW(db->add_measurement(bad), Error);
  bad = good;
  bad.model_version = 0;
  EXPECT_THROW(db->add_measurement(bad), Error);
  bad = good;
  bad.energy_j = -1;
  EXPECT_THROW(db->add_measurement(bad), Error);
  bad = good;
  bad.device_key.clear();
  EXPECT_THROW(db->add_measurement(bad), Error);
  bad = good;
  bad.download_bytes = ~std::uint64_t{0};
  EXPECT_THROW(db->add_measurement(bad), Error);
  EXPECT_TRUE(db->all_measurements().empty());
}

TEST_F(ActivityTest, AssignmentSeqIsMonotonicAcrossReopen) {
  {
    auto db = open();
    EXPECT_EQ(db->next_assignment_seq("v"), 1u);
    EXPECT_EQ(db->next_assignment_seq("v"), 2u);
    EXPECT_EQ(db->next_assignment_seq("w"), 1u);
  }
  auto db = open();
  EXPECT_EQ(db->next_assignment_seq("v"), 3u);
  EXPECT_EQ(db->next_assignment_seq("w"), 2u);
}

TEST_F(ActivityTest, AssignmentsRoundTrip) {
  auto db = open();
  const auto s1 = db->next_assignment_seq("v");
  db->save_assignment(make_assignment("v", s1), R"({"seq": 1})");
  clock_.advance(std::chrono::seconds(30));
  const auto s2 = db->next_assignment_seq("v");
  const auto a2 = make_assignment("v", s2);
  db->save_assignment(a2, R"({"seq": 2})");
  db->save_assignment(make_assignment("w", db->next_assignment_seq("w")), "{}");

  const auto latest = db->latest_assignment("v");
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->seq, 2u);
  EXPECT_EQ(latest->vehicle_id, "v");
  EXPECT_EQ(latest->assignment.SerializeAsString(), a2.SerializeAsString());
  EXPECT_EQ(latest->json, R"({"seq": 2})");
  EXPECT_EQ(latest->created_unix_ms, clock_.now_unix_ms());
  EXPECT_FALSE(db->latest_assignment("nobody").has_value());

  const auto all = db->latest_assignments();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].vehicle_id, "v");
  EXPECT_EQ(all[0].seq, 2u);
  EXPECT_EQ(all[1].vehicle_id, "w");
}

TEST_F(ActivityTest, RejectsBadAssignments) {
  auto db = open();
  // Not reserved.
  EXPECT_THROW(db->save_assignment(make_assignment("v", 1), "{}"), Error);
  const auto s1 = db->next_assignment_seq("v");
  const auto s2 = db->next_assignment_seq("v");
  db->save_assignment(make_assignment("v", s2), "{}");
  // Older than the saved one, or the same again.
  try {
    db->save_assignment(make_assignment("v", s1), "{}");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not newer"));
  }
  const auto s3 = db->next_assignment_seq("v");
  EXPECT_THROW(db->save_assignment(make_assignment("v", s3), "{not json"), Error);
  auto unsigned_assignment = make_assignment("v", s3);
  unsigned_assignment.clear_signature();
  EXPECT_THROW(db->save_assignment(unsigned_assignment, "{}"), Error);
  v1::Assignment garbage;
  garbage.set_body("\xff\xff\xff");
  EXPECT_THROW(db->save_assignment(garbage, "{}"), Error);
  EXPECT_EQ(db->latest_assignment("v")->seq, s2);
}

TEST_F(ActivityTest, EventsRecentAndByType) {
  auto db = open();
  const auto id1 = db->append_event("vehicle_offline", "rpi4-001", {{"reason", "last will"}});
  clock_.advance(std::chrono::seconds(1));
  db->append_event("deadline_miss", "rpi4-002", {{"p95_ms", 143.2}, {"deadline_ms", 100}});
  db->append_event("assignment_changed", "", nlohmann::json::object());
  const auto id4 = db->append_event("deadline_miss", "rpi4-003", {{"p95_ms", 120}});
  EXPECT_GT(id4, id1);

  const auto recent = db->recent_events(2);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].type, "assignment_changed");  // oldest first
  EXPECT_EQ(recent[0].vehicle_id, "");
  EXPECT_EQ(recent[1].id, id4);

  const auto misses = db->recent_events_of_type("deadline_miss", 10);
  ASSERT_EQ(misses.size(), 2u);
  EXPECT_EQ(misses[0].vehicle_id, "rpi4-002");
  EXPECT_DOUBLE_EQ(misses[0].detail["p95_ms"].get<double>(), 143.2);
  EXPECT_EQ(misses[0].unix_ms, clock_.now_unix_ms());
  EXPECT_EQ(db->recent_events(100).size(), 4u);
  EXPECT_EQ(db->recent_events(100)[0].detail["reason"], "last will");
  EXPECT_THROW(db->append_event("", "v", {}), Error);
}

TEST_F(ActivityTest, EstimatorStateGetPut) {
  auto db = open();
  EXPECT_FALSE(db->device_correction("rpi4/4t/opt").has_value());
  db->put_device_correction("rpi4/4t/opt", {{"scale", 1.3}, {"samples", 12}});
  db->put_device_correction("rpi4/4t/opt", {{"scale", 1.25}, {"samples", 13}});
  db->put_device_correction("i9/8t/opt", {{"scale", 0.9}});
  EXPECT_EQ((*db->device_correction("rpi4/4t/opt"))["samples"], 13);
  const auto all = db->device_corrections();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_DOUBLE_EQ(all.at("i9/8t/opt")["scale"].get<double>(), 0.9);
  EXPECT_THROW(db->put_device_correction("", {}), Error);

  EXPECT_FALSE(db->blob("learned/regressor").has_value());
  const std::string bytes("\x00\x01\xff binary \x00", 12);
  db->put_blob("learned/regressor", bytes);
  EXPECT_EQ(db->blob("learned/regressor"), bytes);
  db->put_blob("learned/regressor", "");
  EXPECT_EQ(db->blob("learned/regressor"), "");
  EXPECT_THROW(db->put_blob("", "x"), Error);
}

TEST_F(ActivityTest, ReportsKeptForAudit) {
  auto db = open();
  v1::Report report;
  report.set_vehicle_id("rpi4-001");
  report.set_seq(17);
  report.set_kind(v1::Report::REJECTED);
  report.set_reason("bad_signature");
  const auto id = db->save_report(report);
  report.set_seq(18);
  report.set_kind(v1::Report::INSTALLED);
  report.mutable_measurement()->set_p50_ms(210);
  clock_.advance(std::chrono::seconds(2));
  db->save_report(report);

  const auto reports = db->recent_reports("rpi4-001", 10);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].id, id);
  EXPECT_EQ(reports[0].report.reason(), "bad_signature");
  EXPECT_EQ(reports[1].report.SerializeAsString(), report.SerializeAsString());
  EXPECT_EQ(reports[1].received_unix_ms, clock_.now_unix_ms());
  EXPECT_EQ(db->recent_reports("rpi4-001", 1)[0].report.seq(), 18u);
  EXPECT_EQ(db->vehicle("rpi4-001")->last_seen_unix_ms, clock_.now_unix_ms());
  EXPECT_THROW(db->save_report(v1::Report{}), Error);
}

TEST_F(ActivityTest, EverythingSurvivesReopen) {
  const auto a = testing::make_artifact("resnet18");
  {
    auto db = open();
    db->save_capability(testing::make_capability("v", 3), "k");
    db->add_model_version(a, [&](std::uint64_t v) { return testing::make_manifest(a, v); });
    db->add_measurement(make_measurement("v", "k", "resnet18", 20));
    db->save_assignment(make_assignment("v", db->next_assignment_seq("v")), "{}");
    db->append_event("assignment_changed", "v", {{"model", "resnet18"}});
    db->put_device_correction("k", {{"scale", 2}});
    db->put_blob("b", "bytes");
    v1::Report r;
    r.set_vehicle_id("v");
    db->save_report(r);
  }
  auto db = open();
  EXPECT_EQ(db->vehicle("v")->capability->seq(), 3u);
  EXPECT_EQ(db->latest_model_version("resnet18")->artifact.profile, a.profile);
  EXPECT_EQ(db->all_measurements().size(), 1u);
  EXPECT_EQ(db->latest_assignment("v")->seq, 1u);
  EXPECT_EQ(db->recent_events(10).size(), 1u);
  EXPECT_EQ((*db->device_correction("k"))["scale"], 2);
  EXPECT_EQ(db->blob("b"), "bytes");
  EXPECT_EQ(db->recent_reports("v", 10).size(), 1u);
}

}  // namespace
}  // namespace fleetml::storage
