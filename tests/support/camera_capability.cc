#include "tests/support/camera_capability.h"

namespace fleetml::test {

v1::Capability camera_capability(const sim::SimulatedDevice& device, sim::Rng& rng,
                                 const std::string& vehicle, std::uint64_t seq,
                                 const CameraApp& app) {
  v1::Capability cap;
  cap.set_vehicle_id(vehicle);
  cap.set_seq(seq);
  cap.set_sent_unix_ms(1);
  *cap.mutable_device() = device.device();
  *cap.mutable_calibration() = device.calibration(rng);
  cap.mutable_link()->set_network_type(device.profile().network_type);
  cap.mutable_link()->set_nominal_downlink_kbps(device.profile().nominal_downlink_kbps);
  auto* a = cap.add_applications();
  a->set_id("cam");
  a->set_task("image-classification");
  for (int d : {1, 3, 224, 224}) a->add_input_shape(d);
  a->set_batch(1);
  a->set_deadline_ms(app.deadline_ms);
  a->set_rate_hz(app.rate_hz);
  a->set_download_budget_s(app.download_budget_s);
  return cap;
}

}  // namespace fleetml::test
