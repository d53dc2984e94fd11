#include "vehicle_client/agent/vehicle_state.h"

#include <algorithm>
#include <system_error>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/messages/json.h"

namespace fleetml::vehicle {

VehicleState::VehicleState(std::filesystem::path path, std::int64_t now_unix_ms)
    : path_(std::move(path)) {
  std::error_code ec;
  if (std::filesystem::exists(path_, ec)) {
    try {
      const nlohmann::json doc = nlohmann::json::parse(file::read(path_));
      reserved_end_ = doc.at("seq_reserved_end").get<std::uint64_t>();
      for (const nlohmann::json& m : doc.at("measurements")) {
        v1::Measurement measurement;
        messages::from_json(m.at("measurement").dump(), measurement, /*ignore_unknown=*/true);
        measurements_[{m.at("model_id"), m.at("version"), m.at("application_id")}] = measurement;
      }
    } catch (const std::exception& e) {
      throw Error("vehicle state " + path_.string() + " is unreadable (" + e.what() +
                  "); move it away only if this vehicle's seq may restart from the clock");
    }
  }
  next_ = std::max(reserved_end_,
                   static_cast<std::uint64_t>(std::max<std::int64_t>(now_unix_ms, 0)) * 1000);
  reserved_end_ = next_;
}

std::uint64_t VehicleState::next_seq() {
  if (next_ >= reserved_end_) {
    reserved_end_ = next_ + kSeqReservation;
    save();
  }
  return next_++;
}

std::optional<v1::Measurement> VehicleState::measurement(const std::string& model_id,
                                                         std::uint64_t version,
                                                         const std::string& application_id) const {
  const auto it = measurements_.find({model_id, version, application_id});
  if (it == measurements_.end()) return std::nullopt;
  return it->second;
}

void VehicleState::set_measurement(const std::string& model_id, std::uint64_t version,
                                   const std::string& application_id,
                                   const v1::Measurement& measurement) {
  measurements_[{model_id, version, application_id}] = measurement;
  save();
}

void VehicleState::save() const {
  nlohmann::json measurements = nlohmann::json::array();
  for (const auto& [key, m] : measurements_) {
    measurements.push_back({{"model_id", std::get<0>(key)},
                            {"version", std::get<1>(key)},
                            {"application_id", std::get<2>(key)},
                            {"measurement", nlohmann::json::parse(messages::to_json(m))}});
  }
  const nlohmann::json doc = {{"seq_reserved_end", reserved_end_}, {"measurements", measurements}};
  file::write_atomic(path_, doc.dump(2) + "\n");
}

}  // namespace fleetml::vehicle
