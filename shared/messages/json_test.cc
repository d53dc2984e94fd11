#include "shared/messages/json.h"

#include <gtest/gtest.h>

#include "schemas/fleet.pb.h"
#include "shared/common/error.h"

namespace fleetml::messages {
namespace {

TEST(Json, RoundTripsWithProtoFieldNames) {
  v1::Capability cap;
  cap.set_vehicle_id("rpi4-001");
  cap.set_seq(42);
  cap.mutable_device()->set_cpu_model("Cortex-A72");
  cap.mutable_calibration()->set_gemm_gflops(7.5);
  auto* app = cap.add_applications();
  app->set_id("front-camera");
  app->add_input_shape(1);
  app->add_input_shape(3);
  app->set_deadline_ms(100);

  const std::string json = to_json(cap);
  EXPECT_NE(json.find("\"vehicle_id\":\"rpi4-001\""), std::string::npos);
  EXPECT_NE(json.find("\"gemm_gflops\":7.5"), std::string::npos);
  EXPECT_NE(json.find("\"deadline_ms\":100"), std::string::npos);

  v1::Capability back;
  from_json(json, back);
  EXPECT_EQ(back.SerializeAsString(), cap.SerializeAsString());
}

TEST(Json, RejectsGarbageAndUnknownFieldsUnlessAsked) {
  v1::Capability cap;
  EXPECT_THROW(from_json("{not json", cap), Error);
  EXPECT_THROW(from_json(R"({"vehicle_id": 5, "seq": "x"})", cap), Error);
  EXPECT_THROW(from_json(R"({"vehicle_idd": "a"})", cap), Error);
  from_json(R"({"vehicle_id": "a", "future_field": 1})", cap, /*ignore_unknown=*/true);
  EXPECT_EQ(cap.vehicle_id(), "a");
}

}  // namespace
}  // namespace fleetml::messages
