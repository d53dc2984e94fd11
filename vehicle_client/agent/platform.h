#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "schemas/fleet.pb.h"
#include "shared/common/clock.h"
#include "shared/delivery/download.h"
#include "shared/delivery/installer.h"

namespace fleetml::vehicle {

// Where one download's verified bytes go (delivery::DownloadSink), and where the finished
// artifact is for the Installer.
class ArtifactSink : public delivery::DownloadSink {
 public:
  // The complete, verified artifact once the Download completed.
  virtual std::filesystem::path artifact_path() const = 0;
  // Forgets this artifact's partial download, so the next attempt starts from zero (after a
  // failed download: its prefix was verified block by block, but the whole did not match).
  virtual void discard() = 0;
};

// A delivery::FileSink under `dir`: survives restarts and kill -9 and resumes at the verified
// offset. Throws fleetml::Error when `dir` cannot be created.
std::unique_ptr<ArtifactSink> file_artifact_sink(const std::filesystem::path& dir);

// What differs between a real vehicle and a simulated one. The agent (agent.h) calls these on
// its scheduler thread; they may block (a smoke test or a benchmark takes seconds) and the
// agent's other work waits meanwhile.
class Platform {
 public:
  virtual ~Platform() = default;

  // The device as Capability.device reports it, runtime mode (runtime, threads, optimized)
  // included. Called once at start.
  virtual v1::Device describe_device() = 0;
  // The device's calibration for Capability.calibration (may take seconds: micro-benchmarks).
  // Called once at start.
  virtual v1::Calibration calibrate() = 0;
  // Loads `model_file` and runs one inference on zeros of the manifest's input shape;
  // delivery::SmokeTest semantics (a throw counts as a failure).
  virtual delivery::SmokeResult smoke_test(const std::filesystem::path& model_file,
                                           const v1::ManifestBody& manifest) = 0;
  // Measures the installed model at `app`'s batch in the device's runtime mode: warm-up,
  // repeats, p50/p95, peak RSS, energy where measurable. Throws fleetml::Error on failure.
  virtual v1::Measurement benchmark(const std::filesystem::path& model_file,
                                    const v1::ManifestBody& manifest,
                                    const v1::Application& app) = 0;
  // A sink for downloads kept under `dir` (the agent's downloads directory).
  virtual std::unique_ptr<ArtifactSink> open_sink(const std::filesystem::path& dir) = 0;

  // The hooks below let a simulated vehicle stand in for its network and disk; their defaults
  // are what a real vehicle does.

  // Whether open_sink's artifacts are files the Installer can move into the store and check
  // in place. false (a simulated vehicle's sink keeps only the running SHA-256): the Installer
  // records the Download-verified artifact's metadata and keeps no file
  // (delivery::InstallerOptions::metadata_only), and smoke_test/benchmark get a path that
  // does not exist.
  virtual bool stores_artifacts() const { return true; }
  // When the vehicle's own link delivers a chunk of `bytes` (its MQTT payload) that the broker
  // handed over at `received`. The agent verifies and stores the chunk at once but treats it
  // as arrived (asks for the next block, ends the download) only then, so a simulated link
  // paces the transfer (chunks in flight are serialized on the link) without the agent
  // holding chunk bytes meanwhile (delivery::Download::on_chunk). Default: at once.
  virtual Clock::TimePoint chunk_arrival(Clock::TimePoint received, std::size_t bytes) {
    static_cast<void>(bytes);
    return received;
  }
  // The link samples of [from, to) when the platform knows its link (a simulated vehicle
  // replaying a trace reports it, idle or not); std::nullopt (default): the agent measures
  // the goodput of the chunks it receives while downloading.
  virtual std::optional<std::vector<v1::LinkSample>> link_samples(Clock::TimePoint from,
                                                                  Clock::TimePoint to) {
    static_cast<void>(from);
    static_cast<void>(to);
    return std::nullopt;
  }
};

}  // namespace fleetml::vehicle
