#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "schemas/fleet.pb.h"
#include "shared/delivery/posix_io.h"

namespace fleetml::delivery {

// Result of a smoke test: the model loaded and ran one inference, or why not.
struct SmokeResult {
  bool ok = false;
  std::string detail;  // one line, shown in Report.detail on failure
};

// Loads `model_file` and runs one inference (the real one runs LibTorch in a child process).
// `manifest` gives the input shape. May throw; a throw counts as a failure.
using SmokeTest =
    std::function<SmokeResult(const std::filesystem::path& model_file, const v1::ManifestBody&)>;

struct InstallerOptions {
  // Inactive installed models kept besides the active ones (most recently installed first),
  // so an operator can roll back without a download. Active models are never removed.
  std::size_t keep_inactive = 2;
  // Keep no artifact files, only what state.json records (SHA-256, size, versions, active
  // models): for simulated vehicles, whose downloads are hashed and dropped (HashOnlySink) so a
  // thousand of them need no disk. install() then trusts the caller that `verified_file`'s
  // bytes matched the manifest (the Download checked every block and the whole digest) and
  // hands the smoke test a path that does not exist.
  bool metadata_only = false;
};

// Outcome of Installer::install: ok, or a reason code (smoke_failed, hash_mismatch,
// size_mismatch, malformed) with a one-line detail. On failure the previous model stays active.
struct InstallResult {
  std::string reason;  // empty when installed and active
  std::string detail;
  bool ok() const { return reason.empty(); }
};

// The model active for one application.
struct ActiveModel {
  std::string model_id;
  std::uint64_t version = 0;
  std::string sha256;
  std::filesystem::path path;  // .../models/<id>/<version>/model.pt
};

// The vehicle's model store and its durable delivery state:
//
//   <root>/models/<model_id>/<version>/model.pt   installed artifacts
//   <root>/state.json                             active model per application, installed
//                                                 list, highest version per model, last
//                                                 accepted assignment seq (atomic replace)
//
// install() places a verified artifact with temp file + fsync + rename + directory fsync,
// re-checks its SHA-256 and size in place, runs the injected smoke test on it, and only then
// switches the application's active model by rewriting state.json. A crash at any point
// leaves the previous state; leftovers (temporaries, versions state.json does not list) are
// removed when the Installer is constructed. Thread-safe; installs are serialized.
class Installer {
 public:
  // Locks <root> (flock on <root>/lock: one Installer per store, since start-up cleaning
  // would remove another one's install in progress), loads <root>/state.json (a missing file
  // is an empty store) and cleans leftovers. Throws fleetml::Error when the store is locked or
  // the state file is unreadable: anti-rollback state is never silently reset.
  Installer(std::filesystem::path root, SmokeTest smoke, InstallerOptions options = {});

  // Installs `verified_file` (a completed Download's artifact, matching `manifest`) and makes
  // it the active model of `application_id`. The file is moved into the store (copied and then
  // removed when it lives on another filesystem). Installing the version already present for
  // this model reuses it. Returns the failure reason as a value; throws fleetml::Error only
  // on store I/O failure (the previous model then stays active too).
  InstallResult install(const std::filesystem::path& verified_file,
                        const v1::ManifestBody& manifest, const std::string& application_id);

  std::optional<ActiveModel> active(const std::string& application_id) const;

  // For Capability.installed: every active (model, application) pair, then the inactive
  // models kept, with application_id "".
  std::vector<v1::InstalledModel> installed() const;

  // Highest version ever activated for `model_id` (kept after the files are pruned), for
  // Verifier::check_manifest's rollback check.
  std::optional<std::uint64_t> highest_version(const std::string& model_id) const;

  // Last assignment seq the vehicle accepted, for Verifier::check_assignment (0 initially).
  std::uint64_t assignment_seq() const;
  // Records an accepted assignment seq durably; lower values than the current one are ignored.
  void set_assignment_seq(std::uint64_t seq);

  std::filesystem::path model_path(const std::string& model_id, std::uint64_t version) const;

 private:
  struct Entry {
    std::string model_id;
    std::uint64_t version = 0;
    std::string sha256;
    std::uint64_t size_bytes = 0;
    std::uint64_t order = 0;  // install order, for keeping the most recent inactive ones
  };
  struct State {
    std::vector<Entry> installed;
    std::map<std::string, std::pair<std::string, std::uint64_t>> active;  // app -> model, ver
    std::map<std::string, std::uint64_t> highest;
    std::uint64_t assignment_seq = 0;
    std::uint64_t next_order = 1;
  };

  void load();
  void save(const State& state) const;
  void clean_leftovers();
  const Entry* find(const State& state, const std::string& model_id, std::uint64_t version) const;
  // Inactive entries beyond keep_inactive, removed from `state`; returns their directories.
  std::vector<std::filesystem::path> prune(State& state) const;
  InstallResult place(const std::filesystem::path& verified_file, const v1::ManifestBody& manifest);

  std::filesystem::path root_;
  io::Fd lock_;
  SmokeTest smoke_;
  InstallerOptions options_;
  mutable std::mutex state_mutex_;
  std::mutex install_mutex_;
  State state_;
};

}  // namespace fleetml::delivery
