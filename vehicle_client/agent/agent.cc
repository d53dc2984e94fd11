#include "vehicle_client/agent/agent.h"

#include <algorithm>
#include <cstdio>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/common/log.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/reasons.h"
#include "shared/crypto/sha256.h"

namespace fleetml::vehicle {
namespace {

namespace fs = std::filesystem;
constexpr const char* kLog = "vehicle";
constexpr auto kTick = std::chrono::seconds(1);
// Status stays small: it is retained and re-sent with every state change.
constexpr std::size_t kStateDetailBytes = 200;

// The data directory must exist before the Installer locks it.
AgentConfig prepared(AgentConfig config) {
  check_config(config);
  fs::create_directories(config.data_dir);
  return config;
}

std::string digest_hex(const std::string& bytes) { return crypto::to_hex(crypto::sha256(bytes)); }

}  // namespace

Agent::Agent(AgentConfig config, Platform& platform, crypto::TrustedKeys keys,
             transport::ClientOptions mqtt, messages::Topics topics, Scheduler& scheduler)
    : config_(prepared(std::move(config))),
      platform_(platform),
      topics_(std::move(topics)),
      scheduler_(scheduler),
      clock_(scheduler.clock()),
      verifier_(std::move(keys), config_.vehicle_id, clock_),
      installer_(
          config_.data_dir,
          [this](const fs::path& file, const v1::ManifestBody& manifest) {
            return platform_.smoke_test(file, manifest);
          },
          delivery::InstallerOptions{config_.keep_versions, !platform_.stores_artifacts()}),
      state_(config_.data_dir / "vehicle.json", clock_.now_unix_ms()),
      mqtt_options_(std::move(mqtt)) {}

Agent::~Agent() { client_.reset(); }

void Agent::prepare() {
  device_ = platform_.describe_device();
  calibration_ = platform_.calibrate();

  // The will names this connection's session; every Status of this process carries it, so
  // the coordinator can tell a stale will of an earlier run from a current one.
  session_ = state_.next_seq();
  v1::Status will;
  will.set_vehicle_id(config_.vehicle_id);
  will.set_seq(session_);
  will.set_sent_unix_ms(clock_.now_unix_ms());
  will.set_state(v1::Status::OFFLINE);
  will.set_last_will(true);
  will.set_session(session_);
  mqtt_options_.will =
      transport::Will{topics_.status(config_.vehicle_id), will.SerializeAsString(), 1, true};
  client_ = std::make_unique<transport::MqttClient>(mqtt_options_);

  client_->on_state([this](bool connected, const std::string& reason) {
    if (connected) {
      scheduler_.post([this] { on_connected(); });
    } else {
      log::warn(kLog, "connection lost", {{"vehicle", config_.vehicle_id}, {"error", reason}});
    }
  });
  client_->subscribe(topics_.assignment(config_.vehicle_id), 1,
                     [this](const transport::Message& m) {
                       scheduler_.post([this, payload = m.payload] { on_assignment(payload); });
                     });
  client_->subscribe(topics_.chunk(config_.vehicle_id), 1, [this](const transport::Message& m) {
    scheduler_.post([this, payload = m.payload] { on_chunk(payload); });
  });
  client_->subscribe(
      topics_.filter(messages::TopicKind::kManifest), 1, [this](const transport::Message& m) {
        const auto parsed = topics_.parse(m.topic);
        if (!parsed || parsed->kind != messages::TopicKind::kManifest) return;
        scheduler_.post([this, id = parsed->id, payload = m.payload] { on_manifest(id, payload); });
      });
  resume_from_disk();
}

void Agent::join(bool hello) {
  last_tick_ = last_link_report_ = clock_.now();
  if (hello && client_->connected()) on_connected();
  scheduler_.post_after(kTick, [this] { tick(); });
  log::info(kLog, "vehicle agent started",
            {{"vehicle", config_.vehicle_id}, {"session", session_}});
}

void Agent::start() {
  prepare();
  connect_or_retry(std::chrono::seconds(1));
  join(false);
}

void Agent::connect_or_retry(std::chrono::seconds wait) {
  if (stopped_) return;
  try {
    client_->connect();
  } catch (const Error& e) {
    log::warn(kLog, "broker unreachable, retrying",
              {{"vehicle", config_.vehicle_id}, {"error", e.what()}, {"retry_s", wait.count()}});
    scheduler_.post_after(wait, [this, wait] {
      connect_or_retry(std::min<std::chrono::seconds>(wait * 2, std::chrono::seconds(30)));
    });
  }
}

void Agent::start_all(const std::vector<Agent*>& agents,
                      const std::vector<Clock::Duration>& joins) {
  std::vector<transport::MqttClient*> clients;
  for (Agent* agent : agents) {
    agent->prepare();
    clients.push_back(agent->client_.get());
  }
  transport::MqttClient::connect_all(clients);
  for (std::size_t i = 0; i < agents.size(); ++i) {
    Agent* agent = agents[i];
    const Clock::Duration delay = i < joins.size() ? joins[i] : Clock::Duration::zero();
    if (delay <= Clock::Duration::zero()) {
      agent->join(false);  // on_connected, already posted, says hello
    } else {
      agent->joins_at_ = agent->clock_.now() + delay;
      agent->scheduler_.post_at(agent->joins_at_, [agent] { agent->join(true); });
    }
  }
}

void Agent::stop(std::chrono::milliseconds timeout) {
  stopped_ = true;
  if (!client_) return;
  v1::Status status;
  status.set_vehicle_id(config_.vehicle_id);
  status.set_seq(state_.next_seq());
  status.set_sent_unix_ms(clock_.now_unix_ms());
  status.set_state(v1::Status::OFFLINE);
  status.set_session(session_);
  try {
    transport::Message goodbye;
    goodbye.topic = topics_.status(config_.vehicle_id);
    goodbye.payload = status.SerializeAsString();
    goodbye.qos = 1;
    goodbye.retained = true;
    client_->publish_wait(std::move(goodbye), timeout);
  } catch (const Error& e) {
    log::warn(kLog, "could not say goodbye",
              {{"vehicle", config_.vehicle_id}, {"error", e.what()}});
  }
  client_->disconnect(timeout);
}

void Agent::resume_from_disk() {
  // A resumed persistent session does not replay retained messages, so after a restart the
  // broker would not send the assignment and manifests again: the agent kept them. They are
  // verified again like anything received (the assignment's seq equals the accepted one:
  // already applied, which resumes an interrupted download).
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(manifest_dir(), ec)) {
    v1::Manifest manifest;
    if (e.path().extension() == ".pb" && manifest.ParseFromString(file::read(e.path()))) {
      manifests_[e.path().stem().string()] = std::move(manifest);
    }
  }
  if (fs::exists(assignment_file())) {
    scheduler_.post([this, payload = file::read(assignment_file())] { on_assignment(payload); });
  }
}

fs::path Agent::assignment_file() const { return config_.data_dir / "assignment.pb"; }
fs::path Agent::manifest_dir() const { return config_.data_dir / "manifests"; }

// --- inbound -----------------------------------------------------------------------------

void Agent::on_connected() {
  if (clock_.now() < joins_at_) return;  // not powered on yet: join() says hello
  // A will may have been published while the connection was down (keep-alive timeout), so
  // every (re)connection says ONLINE again, with the same session.
  publish_status(true);
  publish_capability();
}

void Agent::on_assignment(const std::string& payload) {
  v1::Assignment assignment;
  const std::string key = "assignment:" + digest_hex(payload);
  if (!assignment.ParseFromString(payload)) {
    if (first_time(key)) {
      reject("", "", 0, std::string(crypto::reason::kMalformed), "assignment does not parse", 0);
    }
    return;
  }
  const delivery::AssignmentVerdict verdict =
      verifier_.check_assignment(assignment, installer_.assignment_seq());
  if (!verdict.ok()) {
    if (first_time(key)) reject("", "", 0, verdict.reason, verdict.detail, 0);
    return;
  }
  if (!verdict.already_applied) {
    installer_.set_assignment_seq(verdict.body.seq());
    file::write_atomic(assignment_file(), payload);
    log::info(kLog, "assignment accepted",
              {{"vehicle", config_.vehicle_id}, {"seq", verdict.body.seq()}});
  }
  assignment_ = verdict.body;
  reconcile();
}

void Agent::on_manifest(const std::string& model_id, const std::string& payload) {
  v1::Manifest manifest;
  if (!manifest.ParseFromString(payload)) {
    log::warn(kLog, "manifest does not parse", {{"model", model_id}});
    return;
  }
  // Verified when an assignment needs it: the rollback check depends on what is installed
  // by then, and manifests of models this vehicle never runs need no verdict.
  manifests_[model_id] = std::move(manifest);
  if (assignment_) reconcile();
}

void Agent::on_chunk(const std::string& payload) {
  v1::Chunk chunk;
  if (!chunk.ParseFromString(payload)) {
    log::debug(kLog, "chunk does not parse", {{"vehicle", config_.vehicle_id}});
    return;
  }
  // The chunk is checked and its bytes go to the sink now; only what follows from its
  // arrival (the next requests, or the download's end) waits for the platform's link, so a
  // simulated vehicle holds no chunk bytes while its link is busy.
  const Clock::TimePoint now = clock_.now();
  const Clock::TimePoint delivered = platform_.chunk_arrival(now, payload.size());
  second_bytes_ += chunk.data().size();
  for (auto& [sha, job] : jobs_) {
    const v1::ManifestBody& m = job.manifest;
    if (m.model_id() != chunk.model_id() || m.version() != chunk.version()) continue;
    try {
      job.download->on_chunk(chunk, delivered);
    } catch (const Error& e) {
      // The sink failed (disk full, I/O error): the download is unusable; a later
      // reconcile starts a new one, which resumes from what the sink made durable.
      log::error(kLog, "download storage failed",
                 {{"vehicle", config_.vehicle_id}, {"model", m.model_id()}, {"error", e.what()}});
      jobs_.erase(sha);
      return;
    }
    if (delivered <= now) {
      chunk_delivered(sha);
    } else {
      scheduler_.post_at(delivered, [this, sha = sha] { chunk_delivered(sha); });
    }
    return;
  }
}

void Agent::chunk_delivered(std::string sha256) {
  const auto job = jobs_.find(sha256);
  if (job == jobs_.end()) return;  // ended (or dropped by a new assignment) meanwhile
  if (job->second.download->state() == delivery::Download::State::kActive) {
    pump(job->second);
  } else {
    finish_job(sha256);
  }
}

void Agent::tick() {
  if (stopped_) return;
  const Clock::TimePoint now = clock_.now();
  auto known_link = platform_.link_samples(last_tick_, now);
  if (known_link) {
    for (v1::LinkSample& sample : *known_link) link_samples_.push_back(std::move(sample));
  }
  if (!jobs_.empty()) {
    const auto elapsed = now - last_tick_;
    const double seconds = std::chrono::duration<double>(elapsed).count();
    if (!known_link && seconds > 0) {
      v1::LinkSample sample;
      sample.set_start_unix_ms(to_unix_ms(last_tick_));
      sample.set_duration_ms(static_cast<std::uint32_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
      sample.set_downlink_kbps(static_cast<double>(second_bytes_) * 8 / 1000 / seconds);
      sample.set_network(config_.network_type);
      link_samples_.push_back(sample);
    }
    for (auto& [sha, job] : jobs_) pump(job);  // resends requests past their timeout
    if (now - last_status_ >= config_.status_period) publish_status(true);
  }
  second_bytes_ = 0;
  last_tick_ = now;
  if (now - last_link_report_ >= config_.link_report_period) {
    publish_link_report();
    last_link_report_ = now;
  }
  scheduler_.post_after(kTick, [this] { tick(); });
}

// --- delivery ----------------------------------------------------------------------------

void Agent::reconcile() {
  // Downloads of artifacts the assignment no longer names stop (their partial file stays
  // and resumes if the model comes back).
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    Job& job = it->second;
    std::erase_if(job.applications, [&](const std::string& app_id) {
      return std::none_of(assignment_->applications().begin(), assignment_->applications().end(),
                          [&](const v1::AppAssignment& a) {
                            return a.application_id() == app_id &&
                                   a.sha256() == job.manifest.sha256();
                          });
    });
    it = job.applications.empty() ? jobs_.erase(it) : std::next(it);
  }
  for (const v1::AppAssignment& app : assignment_->applications()) reconcile_app(app);
}

void Agent::reconcile_app(const v1::AppAssignment& app) {
  if (app.model_id().empty()) return;  // none feasible: keep what runs
  if (application(app.application_id()) == nullptr) {
    log::warn(kLog, "assignment names an unknown application",
              {{"vehicle", config_.vehicle_id}, {"app", app.application_id()}});
    return;
  }
  const auto active = installer_.active(app.application_id());
  if (active && active->model_id == app.model_id() && active->version == app.model_version()) {
    return;
  }
  const auto job = jobs_.find(app.sha256());
  if (job != jobs_.end() && job->second.applications.contains(app.application_id())) return;
  if (failed_.contains({app.sha256(), assignment_->seq()})) return;

  const auto raw = manifests_.find(app.model_id());
  if (raw == manifests_.end()) {
    log::info(kLog, "waiting for the manifest",
              {{"vehicle", config_.vehicle_id}, {"model", app.model_id()}});
    return;
  }
  const std::string manifest_key = "manifest:" + digest_hex(raw->second.SerializeAsString()) + ":" +
                                   app.application_id() + ":" + std::to_string(assignment_->seq());
  const auto manifest =
      verifier_.check_manifest(raw->second, installer_.highest_version(app.model_id()));
  if (!manifest.ok()) {
    if (first_time(manifest_key)) {
      reject(app.application_id(), app.model_id(), app.model_version(), manifest.reason,
             manifest.detail, assignment_->seq());
    }
    return;
  }
  // The coordinator publishes the manifest before the assignment that needs it, but a
  // vehicle may see them in either order: an older manifest than the assignment names means
  // the new one is on its way (docs/protocol.md).
  if (manifest.body.version() < app.model_version()) {
    log::info(kLog, "waiting for the assigned version's manifest",
              {{"vehicle", config_.vehicle_id},
               {"model", app.model_id()},
               {"version", app.model_version()}});
    return;
  }
  const auto target = delivery::check_target(app, manifest.body);
  if (!target.ok()) {
    if (first_time(manifest_key)) {
      reject(app.application_id(), app.model_id(), app.model_version(), target.reason,
             target.detail, assignment_->seq());
    }
    return;
  }

  const std::vector<v1::InstalledModel> installed = installer_.installed();
  const bool present = std::any_of(installed.begin(), installed.end(), [&](const auto& m) {
    return m.model_id() == app.model_id() && m.version() == app.model_version();
  });
  if (present) {  // kept from earlier: switch back without a download
    install(target.body, installer_.model_path(app.model_id(), app.model_version()),
            app.application_id(), {}, assignment_->seq());
  } else if (job != jobs_.end()) {
    job->second.applications.insert(app.application_id());
  } else {
    start_job(app, target.body);
  }
}

void Agent::start_job(const v1::AppAssignment& app, const v1::ManifestBody& manifest) {
  Job job;
  job.manifest = manifest;
  job.applications.insert(app.application_id());
  job.assignment_seq = assignment_->seq();
  job.sink = platform_.open_sink(config_.data_dir / "downloads");
  fs::create_directories(manifest_dir());
  file::write_atomic(manifest_dir() / (manifest.model_id() + ".pb"),
                     manifests_.at(manifest.model_id()).SerializeAsString());
  job.download =
      std::make_unique<delivery::Download>(manifest, *job.sink, clock_, config_.download);
  log::info(kLog, "download started",
            {{"vehicle", config_.vehicle_id},
             {"model", manifest.model_id()},
             {"version", manifest.version()},
             {"resumed_from", job.download->resumed_from()},
             {"size_bytes", manifest.size_bytes()}});
  const std::string sha = manifest.sha256();
  Job& placed = jobs_[sha] = std::move(job);
  publish_status(true);
  if (placed.download->state() == delivery::Download::State::kActive) {
    pump(placed);
  } else {
    finish_job(sha);  // the sink already held everything
  }
}

void Agent::pump(Job& job) {
  for (v1::FetchRequest& request : job.download->next_requests()) {
    request.set_vehicle_id(config_.vehicle_id);
    request.set_seq(state_.next_seq());
    client_->publish(topics_.fetch(config_.vehicle_id), request.SerializeAsString(), 1);
  }
}

void Agent::finish_job(const std::string& sha256) {
  Job job = std::move(jobs_.at(sha256));
  jobs_.erase(sha256);
  const delivery::Download& download = *job.download;
  const v1::ManifestBody& m = job.manifest;
  if (download.state() == delivery::Download::State::kFailed) {
    failed_.insert({sha256, job.assignment_seq});
    job.sink->discard();
    for (const std::string& app : job.applications) {
      reject(app, m.model_id(), m.version(), download.failure_reason(), download.failure_detail(),
             job.assignment_seq);
    }
    return;
  }
  const v1::DownloadStats stats = download.stats();
  log::info(kLog, "download verified",
            {{"vehicle", config_.vehicle_id},
             {"model", m.model_id()},
             {"version", m.version()},
             {"bytes", stats.bytes()},
             {"duration_s", stats.duration_s()}});
  bool first = true;
  for (const std::string& app : job.applications) {
    // The first install moves the artifact into the store; the others reuse that copy.
    install(m, first ? job.sink->artifact_path() : installer_.model_path(m.model_id(), m.version()),
            app, stats, job.assignment_seq);
    first = false;
  }
}

void Agent::install(const v1::ManifestBody& manifest, const fs::path& file,
                    const std::string& application_id, const v1::DownloadStats& stats,
                    std::uint64_t assignment_seq) {
  set_app_state(application_id, manifest.model_id(), manifest.version(),
                v1::TransferState::INSTALLING, "");
  const delivery::InstallResult result = installer_.install(file, manifest, application_id);
  if (!result.ok()) {
    failed_.insert({manifest.sha256(), assignment_seq});
    if (result.reason == crypto::reason::kSmokeFailed) {
      set_app_state(application_id, manifest.model_id(), manifest.version(),
                    v1::TransferState::FAILED, result.reason + ": " + result.detail);
      v1::Report r;
      r.set_kind(v1::Report::INSTALL_FAILED);
      r.set_application_id(application_id);
      r.set_model_id(manifest.model_id());
      r.set_model_version(manifest.version());
      r.set_reason(result.reason);
      r.set_detail(result.detail);
      *r.mutable_download() = stats;
      r.set_assignment_seq(assignment_seq);
      report(std::move(r));
    } else {
      reject(application_id, manifest.model_id(), manifest.version(), result.reason, result.detail,
             assignment_seq);
    }
    return;
  }
  set_app_state(application_id, manifest.model_id(), manifest.version(),
                v1::TransferState::BENCHMARKING, "");
  const auto active = installer_.active(application_id);
  v1::Report r;
  r.set_kind(v1::Report::INSTALLED);
  r.set_application_id(application_id);
  r.set_model_id(manifest.model_id());
  r.set_model_version(manifest.version());
  *r.mutable_download() = stats;
  r.set_assignment_seq(assignment_seq);
  std::string outcome;
  try {
    *r.mutable_measurement() =
        platform_.benchmark(active->path, manifest, *application(application_id));
    state_.set_measurement(manifest.model_id(), manifest.version(), application_id,
                           r.measurement());
    char p95[64];
    std::snprintf(p95, sizeof p95, "measured p95 %.1f ms", r.measurement().p95_ms());
    outcome = p95;
    report(std::move(r));
  } catch (const Error& e) {
    // The model passed its smoke test and is active; without a measurement the Report would
    // be invalid, so the Capability alone tells the coordinator it is installed.
    log::error(
        kLog, "benchmark failed",
        {{"vehicle", config_.vehicle_id}, {"model", manifest.model_id()}, {"error", e.what()}});
    outcome = std::string("benchmark failed: ") + e.what();
  }
  publish_capability();
  set_app_state(application_id, manifest.model_id(), manifest.version(), v1::TransferState::ACTIVE,
                std::move(outcome));
}

void Agent::set_app_state(const std::string& application_id, const std::string& model_id,
                          std::uint64_t version, v1::TransferState::Phase phase,
                          std::string detail) {
  v1::TransferState& state = app_states_[application_id];
  state.Clear();
  state.set_application_id(application_id);
  state.set_model_id(model_id);
  state.set_version(version);
  state.set_phase(phase);
  state.set_detail(delivery::printable(detail, kStateDetailBytes));
  publish_status(true);
}

// --- outbound ----------------------------------------------------------------------------

void Agent::publish_status(bool online) {
  v1::Status status;
  status.set_vehicle_id(config_.vehicle_id);
  status.set_seq(state_.next_seq());
  status.set_sent_unix_ms(clock_.now_unix_ms());
  status.set_state(online ? v1::Status::ONLINE : v1::Status::OFFLINE);
  status.set_session(session_);
  std::set<std::string> downloading;
  for (const auto& [sha, job] : jobs_) {
    for (const std::string& app : job.applications) {
      v1::TransferState* t = status.add_transfers();
      t->set_application_id(app);
      t->set_model_id(job.manifest.model_id());
      t->set_version(job.manifest.version());
      t->set_phase(v1::TransferState::DOWNLOADING);
      t->set_bytes_done(job.download->verified_prefix());
      t->set_bytes_total(job.manifest.size_bytes());
      downloading.insert(app);
    }
  }
  for (const auto& [app, state] : app_states_) {
    if (!downloading.contains(app)) *status.add_transfers() = state;
  }
  last_status_ = clock_.now();
  client_->publish(topics_.status(config_.vehicle_id), status.SerializeAsString(), 1, true);
}

void Agent::publish_capability() {
  v1::Capability cap;
  cap.set_vehicle_id(config_.vehicle_id);
  cap.set_seq(state_.next_seq());
  cap.set_sent_unix_ms(clock_.now_unix_ms());
  *cap.mutable_device() = device_;
  *cap.mutable_calibration() = calibration_;
  cap.mutable_link()->set_network_type(config_.network_type);
  cap.mutable_link()->set_nominal_downlink_kbps(config_.nominal_downlink_kbps);
  for (const v1::Application& app : config_.applications) *cap.add_applications() = app;
  for (v1::InstalledModel& m : installer_.installed()) {
    if (auto measured = state_.measurement(m.model_id(), m.version(), m.application_id())) {
      *m.mutable_measurement() = *measured;
    }
    *cap.add_installed() = std::move(m);
  }
  client_->publish(topics_.capability(config_.vehicle_id), cap.SerializeAsString(), 1, true);
}

void Agent::publish_link_report() {
  if (link_samples_.empty()) return;
  v1::LinkReport link;
  link.set_vehicle_id(config_.vehicle_id);
  link.set_seq(state_.next_seq());
  for (v1::LinkSample& s : link_samples_) *link.add_samples() = std::move(s);
  link_samples_.clear();
  client_->publish(topics_.link(config_.vehicle_id), link.SerializeAsString(), 0);
}

void Agent::report(v1::Report r) {
  r.set_vehicle_id(config_.vehicle_id);
  r.set_seq(state_.next_seq());
  r.set_sent_unix_ms(clock_.now_unix_ms());
  log::info(kLog, "report",
            {{"vehicle", config_.vehicle_id},
             {"kind", v1::Report::Kind_Name(r.kind())},
             {"model", r.model_id()},
             {"reason", r.reason()}});
  client_->publish(topics_.report(config_.vehicle_id), r.SerializeAsString(), 1);
}

void Agent::reject(const std::string& application_id, const std::string& model_id,
                   std::uint64_t version, const std::string& reason, const std::string& detail,
                   std::uint64_t assignment_seq) {
  log::warn(kLog, "rejected",
            {{"vehicle", config_.vehicle_id},
             {"model", model_id},
             {"reason", reason},
             {"error", detail}});
  v1::Report r;
  r.set_kind(v1::Report::REJECTED);
  r.set_application_id(application_id);
  r.set_model_id(model_id);
  r.set_model_version(version);
  r.set_reason(reason);
  r.set_detail(delivery::printable(detail, 1000));
  r.set_assignment_seq(assignment_seq);
  report(std::move(r));
  if (!application_id.empty() && !model_id.empty()) {
    set_app_state(application_id, model_id, version, v1::TransferState::FAILED,
                  reason + ": " + detail);
  }
}

bool Agent::first_time(const std::string& key) { return reported_.insert(key).second; }

const v1::Application* Agent::application(const std::string& id) const {
  for (const v1::Application& app : config_.applications) {
    if (app.id() == id) return &app;
  }
  return nullptr;
}

}  // namespace fleetml::vehicle
