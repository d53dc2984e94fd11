#include "coordinator/service/event_log.h"

#include "shared/common/log.h"

namespace fleetml::coordinator {

EventLog::EventLog(storage::Database& db, transport::MqttClient& mqtt,
                   const messages::Topics& topics, const Clock& clock,
                   std::chrono::milliseconds min_interval)
    : db_(db), mqtt_(mqtt), topics_(topics), clock_(clock), min_interval_(min_interval) {}

bool EventLog::emit(std::string_view type, std::string_view vehicle_id, nlohmann::json detail) {
  const auto now = clock_.now();
  {
    std::lock_guard lock(mutex_);
    Window& w = windows_[{std::string(type), std::string(vehicle_id)}];
    if (w.last != Clock::TimePoint{} && now - w.last < min_interval_) {
      ++w.suppressed;
      return false;
    }
    w.last = now;
    if (w.suppressed > 0) detail["suppressed_before"] = w.suppressed;
    w.suppressed = 0;
  }
  std::int64_t id = 0;
  try {
    id = db_.append_event(type, vehicle_id, detail);
  } catch (const std::exception& e) {
    log::error("events", "cannot store event", {{"type", type}, {"error", e.what()}});
  }
  const nlohmann::json event = {{"id", id},
                                {"unix_ms", to_unix_ms(now)},
                                {"type", type},
                                {"vehicle", vehicle_id},
                                {"detail", std::move(detail)}};
  log::info("events", std::string(type),
            {{"vehicle", vehicle_id}, {"detail", event["detail"].dump()}});
  mqtt_.publish(topics_.events(), event.dump(), 1);
  return true;
}

}  // namespace fleetml::coordinator
