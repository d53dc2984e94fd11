#include "tools/fleetctl/fleet_view.h"

#include <limits>

#include <gtest/gtest.h>

namespace fleetml::fleetctl {
namespace {

const messages::Topics kTopics;

v1::AssignmentBody body_for(const std::string& vid) {
  v1::AssignmentBody body;
  body.set_vehicle_id(vid);
  body.set_seq(3);
  body.set_estimator("roofline");
  auto* app = body.add_applications();
  app->set_application_id("cam");
  app->set_model_id("resnet18");
  app->set_model_version(2);
  app->set_deadline_ms(100);
  app->set_predicted_bound_ms(42.5);
  auto* rejected = app->add_rejected();
  rejected->set_model_id("resnet50");
  rejected->set_code("deadline");
  rejected->set_reason("bound 143.2 ms > deadline 100 ms");
  auto* none = body.add_applications();
  none->set_application_id("lidar");
  none->set_deadline_ms(5);
  none->set_reason("no model meets 5 ms");
  return body;
}

std::string signed_payload(const v1::AssignmentBody& body) {
  v1::Assignment a;
  a.set_body(body.SerializeAsString());
  return a.SerializeAsString();
}

TEST(FleetView, RowsPerApplicationWithPredictionMeasurementAndTransfer) {
  FleetView view(kTopics);
  ASSERT_TRUE(view.apply(kTopics.assignment("car-1"), signed_payload(body_for("car-1"))));
  v1::Status status;
  status.set_state(v1::Status::ONLINE);
  status.set_session(5);
  auto* t = status.add_transfers();
  t->set_application_id("cam");
  t->set_model_id("resnet18");
  t->set_phase(v1::TransferState::DOWNLOADING);
  t->set_bytes_done(25);
  t->set_bytes_total(100);
  ASSERT_TRUE(view.apply(kTopics.status("car-1"), status.SerializeAsString()));
  v1::Report report;
  report.set_application_id("cam");
  report.set_model_id("resnet18");
  report.mutable_measurement()->set_p95_ms(51.25);
  ASSERT_TRUE(view.apply(kTopics.report("car-1"), report.SerializeAsString()));

  const std::string table = view.table();
  EXPECT_NE(table.find("resnet18 v2"), std::string::npos) << table;
  EXPECT_NE(table.find("42.5"), std::string::npos) << table;
  EXPECT_NE(table.find("51.2"), std::string::npos) << table;
  EXPECT_NE(table.find("downloading resnet18 25%"), std::string::npos) << table;
  EXPECT_NE(table.find("NONE FEASIBLE"), std::string::npos) << table;
  EXPECT_NE(table.find("online"), std::string::npos) << table;
  EXPECT_EQ(view.to_json()["car-1"]["assignment"]["applications"][0]["model_id"], "resnet18");
}

TEST(FleetView, MeasuredP95ComesFromTheRetainedCapabilityWhenNoReportWasSeen) {
  FleetView view(kTopics);
  const v1::AssignmentBody body = body_for("car-1");
  ASSERT_TRUE(view.apply(kTopics.assignment("car-1"), signed_payload(body)));
  v1::Capability cap;
  v1::InstalledModel* m = cap.add_installed();
  m->set_application_id(body.applications(0).application_id());
  m->set_model_id(body.applications(0).model_id());
  m->set_version(body.applications(0).model_version());
  m->mutable_measurement()->set_p95_ms(77.25);
  ASSERT_TRUE(view.apply(kTopics.capability("car-1"), cap.SerializeAsString()));
  const std::string table = view.table();
  EXPECT_NE(table.find("77.2"), std::string::npos) << table;
}

TEST(FleetView, ShowsAFailedInstallWithItsReason) {
  FleetView view(kTopics);
  ASSERT_TRUE(view.apply(kTopics.assignment("car-1"), signed_payload(body_for("car-1"))));
  v1::Status status;
  status.set_state(v1::Status::ONLINE);
  auto* t = status.add_transfers();
  t->set_application_id("cam");
  t->set_model_id("resnet18");
  t->set_phase(v1::TransferState::FAILED);
  t->set_detail("smoke_failed: forward threw");
  ASSERT_TRUE(view.apply(kTopics.status("car-1"), status.SerializeAsString()));
  const std::string table = view.table();
  EXPECT_NE(table.find("failed resnet18 (smoke_failed: forward threw)"), std::string::npos)
      << table;
}

TEST(FleetView, StaleWillDoesNotMarkAReconnectedVehicleOffline) {
  FleetView view(kTopics);
  v1::Status online;
  online.set_state(v1::Status::ONLINE);
  online.set_session(7);
  v1::Status old_will;
  old_will.set_state(v1::Status::OFFLINE);
  old_will.set_last_will(true);
  old_will.set_session(6);
  view.apply(kTopics.status("car-1"), online.SerializeAsString());
  view.apply(kTopics.status("car-1"), old_will.SerializeAsString());
  EXPECT_EQ(view.to_json()["car-1"]["status"], "online");
}

TEST(FleetView, IgnoresForeignTopicsAndGarbage) {
  FleetView view(kTopics);
  EXPECT_FALSE(view.apply("elsewhere/x", "whatever"));
  EXPECT_FALSE(view.apply(kTopics.assignment("car-1"), std::string("\xff\xff\xff", 3)));
  EXPECT_FALSE(view.apply(kTopics.events(), "{}"));
}

TEST(Explain, ListsChoiceAndEveryRejectionWithReason) {
  const std::string text = explain(body_for("car-1"));
  EXPECT_NE(text.find("chosen: resnet18 v2"), std::string::npos) << text;
  EXPECT_NE(text.find("resnet50"), std::string::npos) << text;
  EXPECT_NE(text.find("bound 143.2 ms > deadline 100 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("chosen: none feasible"), std::string::npos) << text;
  EXPECT_NE(text.find("no model meets 5 ms"), std::string::npos) << text;
}

TEST(Explain, SaysWhenADownloadTimeIsUnknownAndWhenAChoiceIsATrial) {
  v1::AssignmentBody body = body_for("car-1");
  body.mutable_applications(0)->set_predicted_download_s(std::numeric_limits<double>::infinity());
  body.mutable_applications(0)->set_trial(true);
  const std::string text = explain(body);
  EXPECT_NE(text.find("download unknown (no link figures yet)"), std::string::npos) << text;
  EXPECT_NE(text.find("chosen: resnet18 v2 (trial, to be measured)"), std::string::npos) << text;
}

}  // namespace
}  // namespace fleetml::fleetctl
