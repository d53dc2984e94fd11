#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "schemas/fleet.pb.h"

namespace fleetml::vehicle {

// The agent's own durable state in <data_dir>/vehicle.json (the model store's state is the
// Installer's state.json): the seq reservation and the measurements of installed models.
//
// Seq (docs/protocol.md "Sequence numbers"): one counter for everything the vehicle sends,
// starting at max(persisted reservation, now_unix_ms * 1000) so it grows across restarts even
// if the file is lost. Persisting every value would cost an fsync per FetchRequest, so the
// state reserves kSeqReservation values at a time and persists the reservation's end before
// handing out the first of them: after a crash the next run starts past every seq used.
//
// Not thread-safe (the agent uses it from its scheduler thread).
class VehicleState {
 public:
  static constexpr std::uint64_t kSeqReservation = 4096;

  // Loads `path` (a missing file is a fresh vehicle). Throws fleetml::Error naming the file
  // when it exists but cannot be read or parsed: seq state is never silently reset.
  VehicleState(std::filesystem::path path, std::int64_t now_unix_ms);

  // The next seq; persists a new reservation first when the current one is used up. Throws
  // fleetml::Error when the file cannot be written.
  std::uint64_t next_seq();

  // The measurement reported for (model, version, application), kept for Capability.installed.
  std::optional<v1::Measurement> measurement(const std::string& model_id, std::uint64_t version,
                                             const std::string& application_id) const;
  // Records it durably. Throws fleetml::Error when the file cannot be written.
  void set_measurement(const std::string& model_id, std::uint64_t version,
                       const std::string& application_id, const v1::Measurement& measurement);

 private:
  using Key = std::tuple<std::string, std::uint64_t, std::string>;
  void save() const;

  std::filesystem::path path_;
  std::uint64_t next_ = 0;
  std::uint64_t reserved_end_ = 0;  // persisted: no seq below it has been handed out
  std::map<Key, v1::Measurement> measurements_;
};

}  // namespace fleetml::vehicle
