#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "schemas/fleet.pb.h"
#include "shared/common/clock.h"
#include "shared/common/scheduler.h"
#include "shared/crypto/key_dir.h"
#include "shared/delivery/download.h"
#include "shared/delivery/installer.h"
#include "shared/delivery/verifier.h"
#include "shared/messages/topics.h"
#include "shared/transport/mqtt_client.h"
#include "vehicle_client/agent/agent_config.h"
#include "vehicle_client/agent/platform.h"
#include "vehicle_client/agent/vehicle_state.h"

namespace fleetml::vehicle {

// The vehicle agent: the vehicle side of docs/protocol.md and docs/security.md.
//
//   start: publish retained Status{ONLINE, session} (Last Will: Status{OFFLINE, last_will,
//          same session}) and the retained Capability; subscribe to its assignment, its
//          chunks and every model's retained manifest.
//   assignment: verify (pinned coordinator key, vehicle id, seq, expiry); for each
//          application whose assigned model is not active, take the model's retained
//          manifest, verify it (pinned release key, expiry, rollback) and check it against
//          the assignment (check_target); download it with a window of FetchRequests into
//          the platform's sink (resumes at the verified offset after a restart); install
//          atomically and smoke-test (Installer), benchmark at the application's batch,
//          Report{INSTALLED} with Measurement and DownloadStats, republish the Capability.
//   failure: Report{REJECTED} (verification) or Report{INSTALL_FAILED} (smoke test) with the
//          reason code; the previous model stays active.
//   link:  while downloading, the goodput of each second becomes a LinkSample, sent in a
//          LinkReport every link_report_period.
//
// Threading: all state lives on `scheduler`'s thread; MQTT handlers only post to it.
// start() and stop() are called from the owning thread while the scheduler is not running
// tasks of this agent (before scheduler.start(), after scheduler.stop()).
class Agent {
 public:
  // `mqtt` carries broker, client id and credentials; the agent sets the Last Will.
  // Opens the model store (delivery::Installer on config.data_dir, locked) and the agent's
  // state; throws fleetml::Error when either is unusable or the config is invalid
  // (check_config). `platform`, `scheduler` and its clock must outlive the agent.
  Agent(AgentConfig config, Platform& platform, crypto::TrustedKeys keys,
        transport::ClientOptions mqtt, messages::Topics topics, Scheduler& scheduler);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Describes and calibrates the device (Platform), connects and subscribes. A vehicle
  // often starts without network: when the broker cannot be reached the agent keeps running
  // (messages queue in the client) and retries from the scheduler, backing off from 1 s to
  // 30 s; the client reconnects by itself once a connection has succeeded.
  void start();
  // start() for many agents (one process simulating a fleet), connecting them together with
  // transport::MqttClient::connect_all: a loop of start() takes about a second per client
  // with this Paho release. Throws fleetml::Error for the first that cannot connect.
  // `joins` (empty, or one per agent): how long after now each agent powers on, i.e. says
  // ONLINE, publishes its Capability and starts ticking; its session connects now anyway
  // (connecting one client later costs seconds with this Paho release, see connect_all), and
  // messages it receives meanwhile (retained manifests) are kept.
  static void start_all(const std::vector<Agent*>& agents,
                        const std::vector<Clock::Duration>& joins = {});
  // Publishes Status{OFFLINE} (not a will: a clean goodbye) and disconnects, waiting at most
  // `timeout` for queued messages to leave.
  void stop(std::chrono::milliseconds timeout = std::chrono::seconds(2));

 private:
  // One artifact being downloaded, for every application assigned to it.
  struct Job {
    v1::ManifestBody manifest;
    std::set<std::string> applications;
    std::uint64_t assignment_seq = 0;
    std::unique_ptr<ArtifactSink> sink;
    std::unique_ptr<delivery::Download> download;
  };

  // start() = prepare(), connect, join(). prepare: device, calibration, will, client and
  // subscriptions; join: the first tick (and, with `hello`, the ONLINE Status and Capability
  // that on_connected skipped before joins_at_).
  void prepare();
  void join(bool hello);
  // The first connection: connect(), or a retry after `wait` on the scheduler.
  void connect_or_retry(std::chrono::seconds wait);
  // Queues the assignment and manifests kept from the last run (scheduler thread).
  void resume_from_disk();
  std::filesystem::path assignment_file() const;
  std::filesystem::path manifest_dir() const;

  // Handlers (scheduler thread).
  void on_connected();
  void on_assignment(const std::string& payload);
  void on_manifest(const std::string& model_id, const std::string& payload);
  // Verifies the chunk and hands its bytes to the download's sink at once; what its arrival
  // causes waits until the platform's link delivers it (Platform::chunk_arrival).
  void on_chunk(const std::string& payload);
  // A chunk of the artifact `sha256` (a copy: finish_job erases the key) has been delivered: asks
  // for more, or ends the job once the download's outcome is due (Download::state()).
  void chunk_delivered(std::string sha256);
  void tick();

  // Brings every application of the current assignment to its assigned model.
  void reconcile();
  void reconcile_app(const v1::AppAssignment& app);
  void start_job(const v1::AppAssignment& app, const v1::ManifestBody& manifest);
  void pump(Job& job);
  void finish_job(const std::string& sha256);
  // Installs and activates `file` for one application, benchmarks it and reports.
  void install(const v1::ManifestBody& manifest, const std::filesystem::path& file,
               const std::string& application_id, const v1::DownloadStats& stats,
               std::uint64_t assignment_seq);

  // Records an application's install state outside a download (installing, benchmarking,
  // active, failed) and publishes it in the Status, for `fleetctl watch`.
  void set_app_state(const std::string& application_id, const std::string& model_id,
                     std::uint64_t version, v1::TransferState::Phase phase, std::string detail);

  // Messages out.
  void publish_status(bool online);
  void publish_capability();
  void publish_link_report();
  void report(v1::Report report);
  void reject(const std::string& application_id, const std::string& model_id, std::uint64_t version,
              const std::string& reason, const std::string& detail, std::uint64_t assignment_seq);
  // Reports a rejection of (what, reason) once: the retained message that caused it comes
  // back on every reconnect and must not flood the coordinator's event log.
  bool first_time(const std::string& key);

  const v1::Application* application(const std::string& id) const;

  AgentConfig config_;
  Platform& platform_;
  messages::Topics topics_;
  Scheduler& scheduler_;
  const Clock& clock_;
  delivery::Verifier verifier_;
  delivery::Installer installer_;
  VehicleState state_;
  transport::ClientOptions mqtt_options_;
  std::unique_ptr<transport::MqttClient> client_;
  std::uint64_t session_ = 0;

  v1::Device device_;
  v1::Calibration calibration_;
  std::optional<v1::AssignmentBody> assignment_;
  std::map<std::string, v1::Manifest> manifests_;        // latest received per model id, unverified
  std::map<std::string, Job> jobs_;                      // by artifact sha256
  std::map<std::string, v1::TransferState> app_states_;  // by application id; see set_app_state
  std::set<std::string> reported_;
  // (sha256, assignment seq) that failed: not retried until a new assignment arrives.
  std::set<std::pair<std::string, std::uint64_t>> failed_;
  std::vector<v1::LinkSample> link_samples_;
  std::uint64_t second_bytes_ = 0;  // chunk bytes received in the current second
  Clock::TimePoint last_tick_{};
  Clock::TimePoint last_status_{};
  Clock::TimePoint last_link_report_{};
  Clock::TimePoint joins_at_{};  // start_all's power-on time; silent before
  bool stopped_ = false;
};

}  // namespace fleetml::vehicle
