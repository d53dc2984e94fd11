#include "tools/fleetctl/fleet_view.h"

#include <cmath>
#include <cstdio>

#include "shared/messages/json.h"

namespace fleetml::fleetctl {
namespace {

using messages::TopicKind;

template <typename... Args>
std::string format(const char* pattern, Args... args) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, pattern, args...);
  return buffer;
}

const char* phase_name(v1::TransferState::Phase phase) {
  switch (phase) {
    case v1::TransferState::DOWNLOADING:
      return "downloading";
    case v1::TransferState::VERIFYING:
      return "verifying";
    case v1::TransferState::INSTALLING:
      return "installing";
    case v1::TransferState::BENCHMARKING:
      return "benchmarking";
    case v1::TransferState::ACTIVE:
      return "active";
    case v1::TransferState::FAILED:
      return "failed";
    default:
      return "-";
  }
}

std::string transfer_text(const v1::Status* status, const std::string& app) {
  if (status == nullptr) return "-";
  for (const auto& t : status->transfers()) {
    if (t.application_id() != app) continue;
    if (t.phase() == v1::TransferState::DOWNLOADING && t.bytes_total() > 0) {
      return format(
          "downloading %s %.0f%%", t.model_id().c_str(),
          100.0 * static_cast<double>(t.bytes_done()) / static_cast<double>(t.bytes_total()));
    }
    std::string text = std::string(phase_name(t.phase())) + " " + t.model_id();
    // A failure's reason matters to the operator; the previous model stays active.
    if (t.phase() == v1::TransferState::FAILED && !t.detail().empty())
      text += " (" + t.detail() + ")";
    return text;
  }
  return "-";
}

const char* status_text(const v1::Status* status) {
  if (status == nullptr) return "?";
  return status->state() == v1::Status::ONLINE ? "online" : "offline";
}

}  // namespace

bool FleetView::apply(const std::string& topic, const std::string& payload) {
  const auto parsed = topics_.parse(topic);
  if (!parsed) return false;
  Vehicle& v = vehicles_[parsed->id];
  switch (parsed->kind) {
    case TopicKind::kCapability: {
      v1::Capability cap;
      if (!cap.ParseFromString(payload)) return false;
      v.capability = std::move(cap);
      return true;
    }
    case TopicKind::kStatus: {
      v1::Status status;
      if (!status.ParseFromString(payload)) return false;
      // A will older than what we saw (another connection's) does not count.
      if (v.status && status.session() < v.status->session()) return true;
      v.status = std::move(status);
      return true;
    }
    case TopicKind::kAssignment: {
      v1::Assignment signed_;
      v1::AssignmentBody body;
      if (!signed_.ParseFromString(payload) || !body.ParseFromString(signed_.body())) {
        return false;
      }
      v.assignment = std::move(body);
      return true;
    }
    case TopicKind::kLink: {
      v1::LinkReport report;
      if (!report.ParseFromString(payload) || report.samples_size() == 0) return false;
      v.last_kbps = report.samples(report.samples_size() - 1).downlink_kbps();
      return true;
    }
    case TopicKind::kReport: {
      v1::Report report;
      if (!report.ParseFromString(payload)) return false;
      v.last_report[report.application_id()] = std::move(report);
      return true;
    }
    default:
      return false;
  }
}

std::string FleetView::table() const {
  std::string out =
      format("%-14s %-7s %-16s %-10s %8s %-18s %9s %9s %9s  %s\n", "vehicle", "status", "device",
             "app", "deadline", "model", "pred ms", "meas p95", "link kbps", "transfer");
  for (const auto& [id, v] : vehicles_) {
    const v1::Status* status = v.status ? &*v.status : nullptr;
    std::string device = "?";
    if (v.capability) {
      const auto& d = v.capability->device();
      device =
          !d.profile().empty() ? d.profile() : d.arch() + "/" + std::to_string(d.cores()) + "c";
    }
    const std::string link = v.last_kbps ? format("%.0f", *v.last_kbps)
                             : v.capability && v.capability->link().nominal_downlink_kbps() > 0
                                 ? format("~%.0f", v.capability->link().nominal_downlink_kbps())
                                 : std::string("-");
    if (!v.assignment || v.assignment->applications_size() == 0) {
      out += format("%-14s %-7s %-16s %-10s %8s %-18s %9s %9s %9s  %s\n", id.c_str(),
                    status_text(status), device.c_str(), "-", "-", "(no assignment)", "-", "-",
                    link.c_str(), "-");
      continue;
    }
    for (const auto& app : v.assignment->applications()) {
      std::string measured = "-";
      auto r = v.last_report.find(app.application_id());
      if (r != v.last_report.end() && r->second.model_id() == app.model_id() &&
          r->second.measurement().p95_ms() > 0) {
        measured = format("%.1f", r->second.measurement().p95_ms());
      } else if (v.capability) {
        // Reports are not retained; the retained capability carries the installed models'
        // measurements, so a watch started later still shows them.
        for (const v1::InstalledModel& m : v.capability->installed()) {
          if (m.application_id() == app.application_id() && m.model_id() == app.model_id() &&
              m.version() == app.model_version() && m.measurement().p95_ms() > 0) {
            measured = format("%.1f", m.measurement().p95_ms());
          }
        }
      }
      const std::string model = app.model_id().empty()
                                    ? "NONE FEASIBLE"
                                    : app.model_id() + " v" + std::to_string(app.model_version()) +
                                          (app.trial() ? " TRIAL" : "");
      const std::string predicted =
          app.model_id().empty() ? "-" : format("%.1f", app.predicted_bound_ms());
      out += format("%-14s %-7s %-16s %-10s %8.0f %-18s %9s %9s %9s  %s\n", id.c_str(),
                    status_text(status), device.c_str(), app.application_id().c_str(),
                    app.deadline_ms(), model.c_str(), predicted.c_str(), measured.c_str(),
                    link.c_str(), transfer_text(status, app.application_id()).c_str());
    }
  }
  return out;
}

nlohmann::json FleetView::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [id, v] : vehicles_) {
    nlohmann::json j;
    j["status"] = status_text(v.status ? &*v.status : nullptr);
    if (v.capability) j["capability"] = nlohmann::json::parse(messages::to_json(*v.capability));
    if (v.assignment) j["assignment"] = nlohmann::json::parse(messages::to_json(*v.assignment));
    if (v.status) j["transfers"] = nlohmann::json::parse(messages::to_json(*v.status))["transfers"];
    if (v.last_kbps) j["link_kbps"] = *v.last_kbps;
    for (const auto& [app, report] : v.last_report) {
      j["reports"][app] = nlohmann::json::parse(messages::to_json(report));
    }
    out[id] = std::move(j);
  }
  return out;
}

std::string explain(const v1::AssignmentBody& body) {
  std::string out = format(
      "vehicle %s  assignment #%llu  estimator %s  utilization %.2f  "
      "memory %.0f MB\n",
      body.vehicle_id().c_str(), static_cast<unsigned long long>(body.seq()),
      body.estimator().c_str(), body.utilization(), body.memory_mb());
  for (const auto& app : body.applications()) {
    out += "\napplication " + app.application_id() +
           format(" (deadline %.0f ms)\n", app.deadline_ms());
    if (app.model_id().empty()) {
      out += "  chosen: none feasible\n";
    } else {
      out += format(
          "  chosen: %s v%llu%s  top1 %.2f%%  predicted %.1f ms (bound %.1f ms, %s)  "
          "download %s  utilization %.2f  memory %.0f MB\n",
          app.model_id().c_str(), static_cast<unsigned long long>(app.model_version()),
          app.trial() ? " (trial, to be measured)" : "", 100 * app.accuracy(),
          app.predicted_point_ms(), app.predicted_bound_ms(), app.estimator().c_str(),
          // Infinite until the vehicle reports link samples or a nominal rate.
          std::isfinite(app.predicted_download_s())
              ? format("%.1f s", app.predicted_download_s()).c_str()
              : "unknown (no link figures yet)",
          app.utilization(), app.memory_mb());
    }
    if (!app.reason().empty()) out += "  why: " + app.reason() + "\n";
    if (app.rejected_size() > 0) out += "  rejected:\n";
    for (const auto& r : app.rejected()) {
      out += format("    %-20s %-17s %s\n", r.model_id().c_str(), r.code().c_str(),
                    r.reason().c_str());
    }
  }
  return out;
}

}  // namespace fleetml::fleetctl
