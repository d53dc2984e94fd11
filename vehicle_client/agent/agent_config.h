#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/fleet.pb.h"
#include "shared/common/clock.h"
#include "shared/delivery/download.h"

namespace fleetml::vehicle {

// Everything the agent needs to know about itself besides its keys, broker and platform.
struct AgentConfig {
  std::string vehicle_id;
  // Holds the model store (delivery::Installer: models/, state.json), partial downloads
  // (downloads/) and the agent's own state (vehicle.json: seq reservation, measurements;
  // assignment.pb and manifests/: the last accepted assignment and the manifests of its
  // downloads, as received).
  std::filesystem::path data_dir;
  std::vector<v1::Application> applications;
  std::string network_type;            // Link.network_type, e.g. "4G"
  double nominal_downlink_kbps = 0;    // Link.nominal_downlink_kbps, 0 if unknown
  std::size_t keep_versions = 2;       // inactive installed versions kept (Installer)
  delivery::DownloadOptions download;  // window and timeouts of FetchRequests
  // LinkReport period (docs/protocol.md: every 10 s) and the shortest time between two
  // progress Status messages while downloading (at most every 2 s).
  Clock::Duration link_report_period = std::chrono::seconds(10);
  Clock::Duration status_period = std::chrono::seconds(2);
};

// Parses one --app flag: ID:DEADLINE_MS:RATE_HZ:BATCH[:MIN_ACCURACY[:DOWNLOAD_BUDGET_S[:TASK
// [:INPUT_SHAPE]]]], e.g. "front-camera:100:10:1" or "lane:50:20:4:0.7:60:image-classification:
// 1x3x224x224". Defaults: min_accuracy 0, download_budget_s 0 (no budget), task
// "image-classification", input 1x3x224x224. Throws fleetml::Error naming the field at fault.
v1::Application parse_app_spec(std::string_view spec);

// Reads a JSON config file:
//   {"applications": [<v1::Application in protobuf's JSON mapping>, ...],
//    "network_type": "4G", "nominal_downlink_kbps": 42600}
// Every key is optional; present ones replace the fields of `config`. Throws fleetml::Error
// naming the file and the fault.
void load_config_file(const std::filesystem::path& path, AgentConfig& config);

// Checks what the agent relies on: a valid vehicle id, a data dir, 1..64 applications with
// distinct valid ids and plausible figures (messages::validate's rules), keep_versions and
// a download window of at least 1. Throws fleetml::Error naming the fault.
void check_config(const AgentConfig& config);

}  // namespace fleetml::vehicle
