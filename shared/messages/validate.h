#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/fleet.pb.h"

namespace fleetml::messages {

// Validation of every inbound vehicle -> coordinator message, run by the coordinator right
// after parsing and before anything is stored or planned. `topic_vehicle_id` is the id taken
// from the topic the message arrived on (Topics::parse); once broker ACLs restrict each
// vehicle to its own topics it is the authenticated identity, so the body must agree with it.
//
// Each function returns nullopt when the message is acceptable, otherwise a one-line reason
// naming the first field at fault, e.g. "applications[1].batch 0 is outside 1..1024". The
// reason does not name the vehicle or the message kind; the caller adds them.
//
// Rules common to all messages: vehicle_id is a valid id ([A-Za-z0-9_-]{1,64}) equal to the
// topic's; timestamps (*_unix_ms) are not negative; every floating-point field is finite (no
// NaN or infinity); enums hold a known, non-UNSPECIFIED value; free-text fields are bounded.
// Sequence numbers are not checked here: the coordinator tracks them per vehicle.
//
// Plausible ranges (a value outside is a bug or an attack, not a real device). Brackets are
// inclusive, parentheses exclusive:
//   Device       cores 1..1024, clock_ghz (0, 10], ram_gb (0, 16384], threads 1..1024,
//                nominal_gflops [0, 1e7], ram_budget_fraction [0, 1] (0 = default),
//                at most 16 gpus: memory_gb [0, 16384], cores 0..1e6, clock_ghz [0, 10],
//                nominal_gflops [0, 1e7]
//   Calibration  (when present) threads 0..1024, every *_gflops and memory_bandwidth_gbps
//                [0, 1e7], op_overhead_us [0, 1e6], duration_s [0, 86400]
//   Link         nominal_downlink_kbps [0, 1e8], at most 10000 samples
//   LinkSample   duration_ms (0, 3.6e6] (up to one hour), downlink_kbps [0, 1e8]
//   Application  1..64 per capability with distinct valid ids, non-empty task, input_shape
//                of 1..8 positive dims with at most 2^28 elements, batch 1..1024,
//                deadline_ms (0, 3.6e6], rate_hz (0, 1e4], min_accuracy [0, 1],
//                download_budget_s [0, 604800] (one week)
//   Installed    at most 256 models: valid model_id, sha256 empty or 64 lowercase hex digits,
//                application_id empty or valid
//   Status       state ONLINE or OFFLINE, at most 64 transfers with valid application and
//                model ids and bytes_done <= bytes_total when the total is known
//   LinkReport   at most 10000 samples
//   FetchRequest valid model_id, max_bytes 1..16 MiB
//   Report       known kind; model and application ids valid when set and required for
//                INSTALLED and BENCHMARK, which also carry a measurement; measurement and
//                download figures finite and non-negative, measurement batch and threads
//                at most 1024
//   Text         reason and short names at most 256 bytes, detail at most 4096 bytes
namespace limits {
inline constexpr std::uint32_t kMaxCores = 1024;
inline constexpr double kMaxClockGhz = 10;
inline constexpr double kMaxRamGb = 16384;
inline constexpr std::uint64_t kMaxCacheBytes = std::uint64_t{4} << 30;  // 4 GiB
inline constexpr std::uint32_t kMaxThreads = 1024;
inline constexpr double kMaxGflops = 1e7;
inline constexpr int kMaxGpus = 16;
inline constexpr std::uint32_t kMaxGpuCores = 1'000'000;
inline constexpr double kMaxOpOverheadUs = 1e6;
inline constexpr double kMaxCalibrationDurationS = 86400;
inline constexpr double kMaxDownlinkKbps = 1e8;
inline constexpr double kMaxSampleDurationMs = 3.6e6;
inline constexpr int kMaxLinkSamples = 10000;
inline constexpr int kMaxApplications = 64;
inline constexpr int kMaxInputDims = 8;
inline constexpr std::int64_t kMaxInputElements = std::int64_t{1} << 28;
inline constexpr std::uint32_t kMaxBatch = 1024;
inline constexpr double kMaxDeadlineMs = 3.6e6;
inline constexpr double kMaxRateHz = 1e4;
inline constexpr double kMaxDownloadBudgetS = 604800;
inline constexpr int kMaxInstalled = 256;
inline constexpr int kMaxTransfers = 64;
inline constexpr std::uint32_t kMaxFetchBytes = 16u << 20;
inline constexpr std::size_t kMaxNameBytes = 256;
inline constexpr std::size_t kMaxDetailBytes = 4096;
}  // namespace limits

std::optional<std::string> validate(const v1::Capability& message,
                                    std::string_view topic_vehicle_id);
std::optional<std::string> validate(const v1::Status& message, std::string_view topic_vehicle_id);
std::optional<std::string> validate(const v1::LinkReport& message,
                                    std::string_view topic_vehicle_id);
std::optional<std::string> validate(const v1::FetchRequest& message,
                                    std::string_view topic_vehicle_id);
std::optional<std::string> validate(const v1::Report& message, std::string_view topic_vehicle_id);

}  // namespace fleetml::messages
