#include "coordinator/service/coordinator.h"

#include <algorithm>
#include <cmath>

#include "shared/common/error.h"
#include "shared/common/log.h"
#include "shared/common/thread_name.h"
#include "shared/crypto/envelope.h"
#include "shared/crypto/hex.h"
#include "shared/delivery/verifier.h"
#include "shared/link/download_predictor.h"
#include "shared/messages/json.h"
#include "shared/messages/validate.h"

namespace fleetml::coordinator {
namespace {

using messages::TopicKind;
constexpr const char* kLog = "coordinator";
constexpr std::size_t kIngestBatch = 512;
// How long the ingest thread lets a batch fill before it commits what it has: a burst then
// costs one commit (WAL writes of every page it touched) instead of one per message; under
// load, batches also grow on their own while the previous one is being stored. It is added to
// the time until a message is committed (docs/storage.md), and the planning thread starts on a
// batch only once it has committed, so it is short. Not zero: with no wait the coordinator
// commits every few messages (ingest bench, 1000 vehicles: 134 against 117-123 µs of CPU per
// update). Between 0.3 and 2 ms the bench's ratio to the raw broker (median 0.79-0.93 over 3
// runs each) did not differ beyond the spread between runs of the same code (0.75-1.03, when
// the bench still connected new clients for every phase).
constexpr auto kIngestLinger = std::chrono::microseconds(500);
constexpr auto kHousekeeping = std::chrono::seconds(10);

// An inbound message the coordinator refuses; becomes a rejected_input event.
struct Rejected : Error {
  using Error::Error;
};

template <typename Message>
Message decode(const std::string& payload, const char* type) {
  Message message;
  if (!message.ParseFromString(payload)) {
    throw Rejected(std::string("payload is not a ") + type + " protobuf");
  }
  return message;
}

template <typename Message>
void check(const Message& message, const std::string& vehicle_id) {
  if (auto problem = messages::validate(message, vehicle_id)) throw Rejected(*problem);
}

bool same_choices(const v1::AssignmentBody& a, const v1::AssignmentBody& b) {
  if (a.applications_size() != b.applications_size()) return false;
  for (int i = 0; i < a.applications_size(); ++i) {
    const auto& x = a.applications(i);
    const auto& y = b.applications(i);
    // A trial confirmed by its measurement is a change too: operators and the vehicle see it.
    if (x.application_id() != y.application_id() || x.model_id() != y.model_id() ||
        x.model_version() != y.model_version() || x.trial() != y.trial()) {
      return false;
    }
  }
  return true;
}

nlohmann::json choices(const v1::AssignmentBody& body) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& app : body.applications()) {
    out[app.application_id()] = app.model_id().empty()
                                    ? "none"
                                    : app.model_id() + " v" + std::to_string(app.model_version()) +
                                          (app.trial() ? " (trial)" : "");
  }
  return out;
}

std::string assignment_json(const v1::AssignmentBody& body, const v1::Assignment& signed_) {
  nlohmann::json j = nlohmann::json::parse(messages::to_json(body));
  j["signature"] = {{"key_id", signed_.signature().key_id()},
                    {"ed25519", crypto::to_hex(signed_.signature().ed25519())}};
  return j.dump();
}

storage::MeasurementRecord measurement_record(const std::string& vehicle_id,
                                              const std::string& device_key,
                                              const std::string& model_id, std::uint64_t version,
                                              const v1::Measurement& m,
                                              const v1::DownloadStats* download) {
  storage::MeasurementRecord r;
  r.vehicle_id = vehicle_id;
  r.device_key = device_key;
  r.model_id = model_id;
  r.model_version = version;
  r.batch = std::max<std::uint32_t>(1, m.batch());
  r.threads = std::max<std::uint32_t>(1, m.threads());
  r.optimized = m.optimized();
  r.p50_ms = m.p50_ms();
  r.p95_ms = m.p95_ms();
  r.mean_ms = m.mean_ms();
  r.peak_rss_mb = m.peak_rss_mb();
  r.energy_j = m.energy_j();
  if (download != nullptr) {
    r.download_bytes = download->bytes();
    r.download_s = download->duration_s();
  }
  return r;
}

}  // namespace

// Effects of one ingest batch that must wait until its transaction committed.
class Coordinator::IngestBatch {
 public:
  std::vector<std::function<void()>> after_commit;
  // Vehicles to re-plan once after_commit has run: marked together, so that the planning
  // thread is woken once per batch rather than once per message.
  std::vector<std::string> dirty;
};

Coordinator::Coordinator(CoordinatorOptions options, const Clock& clock, LatencyModel& latency)
    : options_(std::move(options)),
      clock_(clock),
      latency_(latency),
      topics_(options_.prefix),
      db_(std::make_unique<storage::Database>(options_.data_dir / "fleet.db", clock_,
                                              options_.database)),
      store_(std::make_unique<delivery::ContentStore>(options_.data_dir / "store")),
      keys_(crypto::load_signing_keys(options_.keys_dir)),
      catalog_(std::make_unique<catalog::Catalog>(*db_, *store_, keys_.release, clock_,
                                                  options_.catalog)),
      uploads_(std::make_unique<catalog::UploadAssembler>(options_.data_dir / "staging", clock_)) {
  transport::ClientOptions bulk = options_.mqtt;
  bulk.client_id += "-bulk";
  bulk.clean_start = true;
  bulk.session_expiry = std::chrono::seconds(0);
  control_ = std::make_unique<transport::MqttClient>(options_.mqtt);
  bulk_ = std::make_unique<transport::MqttClient>(bulk);
  events_ = std::make_unique<EventLog>(*db_, *control_, topics_, clock_);
  chunks_ = std::make_unique<ChunkServer>(*catalog_, *bulk_, topics_, options_.chunks);
}

Coordinator::~Coordinator() { stop(); }

void Coordinator::load_state() {
  std::lock_guard lock(state_mutex_);
  const auto history_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.link_history).count();
  for (const auto& record : db_->vehicles()) {
    VehicleState& state = vehicles_[record.vehicle_id];
    if (record.capability) {
      state.capability = std::make_shared<const v1::Capability>(std::move(*record.capability));
      state.device_key = latency_.device_key(*state.capability);
    }
    state.online = record.online;
    if (record.status) state.session = record.status->session();
    for (auto& s : db_->recent_link_samples(record.vehicle_id, 4 * history_ms / 1000)) {
      state.samples.push_back(std::move(s));
    }
  }
  for (const auto& record : db_->latest_assignments()) {
    v1::AssignmentBody body;
    if (!body.ParseFromString(record.assignment.body())) continue;
    VehicleState& state = vehicles_[record.vehicle_id];
    state.current = std::make_shared<const v1::AssignmentBody>(std::move(body));
    state.current_signed = record.assignment;
    state.current_json = record.json;
  }
  std::size_t measurements = 0;
  for (const auto& m : db_->all_measurements()) {
    latency_.add_measurement(m);
    ++measurements;
  }
  latency_.persist_in(*db_);
  log::info(kLog, "state loaded",
            {{"vehicles", vehicles_.size()},
             {"models", catalog_->entries()->size()},
             {"measurements", measurements}});
}

namespace {

void connect_first(transport::MqttClient& client, std::chrono::milliseconds timeout,
                   const std::function<bool()>& keep_trying) {
  auto wait = std::chrono::milliseconds(1000);
  while (true) {
    try {
      client.connect(timeout);
      return;
    } catch (const Error& e) {
      if (!keep_trying || !keep_trying()) throw;
      log::warn(kLog, "broker unreachable, retrying",
                {{"error", e.what()}, {"retry_s", static_cast<double>(wait.count()) / 1000}});
    }
    for (auto slept = std::chrono::milliseconds(0); slept < wait && keep_trying();
         slept += std::chrono::milliseconds(100)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    wait = std::min<std::chrono::milliseconds>(wait * 2, std::chrono::seconds(30));
  }
}

}  // namespace

void Coordinator::start(const std::function<bool()>& keep_trying) {
  stopping_ = false;
  load_state();
  auto handler = [this](const transport::Message& m) { on_message(m); };
  for (TopicKind kind : {TopicKind::kCapability, TopicKind::kStatus, TopicKind::kLink,
                         TopicKind::kReport, TopicKind::kFetch, TopicKind::kCatalogRequest}) {
    control_->subscribe(topics_.filter(kind), 1, handler);
  }
  control_->on_state([this](bool connected, const std::string& reason) {
    if (connected) {
      {
        std::lock_guard lock(dirty_mutex_);
        republish_ = true;
      }
      dirty_wake_.notify_one();
    } else {
      log::warn(kLog, "broker connection lost", {{"reason", reason}});
    }
  });
  connect_first(*control_, options_.connect_timeout, keep_trying);
  connect_first(*bulk_, options_.connect_timeout, keep_trying);
  chunks_->start();
  threads_.emplace_back([this] {
    name_current_thread("fleet-ingest");
    ingest_loop();
  });
  threads_.emplace_back([this] {
    name_current_thread("fleet-plan");
    plan_loop();
  });
  threads_.emplace_back([this] {
    name_current_thread("fleet-catalog");
    catalog_loop();
  });
  mark_all_dirty();
  log::info(kLog, "coordinator started",
            {{"broker", options_.mqtt.broker_uri},
             {"prefix", topics_.prefix()},
             {"estimator", latency_.name()}});
}

void Coordinator::stop() {
  if (stopping_.exchange(true)) return;
  inbound_wake_.notify_all();
  dirty_wake_.notify_all();
  catalog_wake_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  chunks_->stop();
  control_->disconnect();
  bulk_->disconnect();
}

Coordinator::Stats Coordinator::stats() const {
  Stats s;
  s.ingested = ingested_;
  s.rejected = rejected_;
  s.stale = stale_;
  s.plans = plans_;
  s.published = published_;
  // unapplied_ first: a message leaves it only after the vehicles it marked dirty are in
  // dirty_, so both pending counts 0 means that nothing received so far awaits planning.
  s.pending_inbound = unapplied_;
  {
    std::lock_guard lock(dirty_mutex_);
    s.pending_plans = dirty_.size() + planning_;
  }
  s.chunks = chunks_->stats();
  return s;
}

// --- Paho's callback thread: only routing ----------------------------------------------------

void Coordinator::on_message(const transport::Message& message) {
  const auto parsed = topics_.parse(message.topic);
  Inbound inbound{parsed ? parsed->kind : TopicKind::kEvents, parsed ? parsed->id : "",
                  message.topic, message.payload, !parsed};
  if (parsed && parsed->kind == TopicKind::kFetch) {
    on_fetch(parsed->id, message);
    return;
  }
  if (parsed && parsed->kind == TopicKind::kCatalogRequest) {
    v1::CatalogRequest request;
    if (request.ParseFromString(message.payload)) {
      {
        std::lock_guard lock(catalog_mutex_);
        catalog_requests_.push_back(std::move(request));
      }
      catalog_wake_.notify_one();
      return;
    }
    inbound.bad_topic = true;  // unreadable request: reported as rejected input
  }
  bool wake = false;
  {
    std::lock_guard lock(inbound_mutex_);
    inbound_.push_back(std::move(inbound));
    ++unapplied_;
    // The ingest thread waits for a first message, then for a full batch (or kIngestLinger):
    // waking it for every message would cost a context switch each.
    wake = inbound_.size() == 1 || inbound_.size() == kIngestBatch;
  }
  if (wake) inbound_wake_.notify_one();
}

void Coordinator::on_fetch(const std::string& vehicle_id, const transport::Message& message) {
  v1::FetchRequest request;
  std::optional<std::string> problem;
  if (!request.ParseFromString(message.payload)) {
    problem = "payload is not a FetchRequest protobuf";
  } else {
    problem = messages::validate(request, vehicle_id);
  }
  if (problem) {
    std::lock_guard lock(inbound_mutex_);
    inbound_.push_back({TopicKind::kFetch, vehicle_id, message.topic, *problem, true});
    ++unapplied_;
    inbound_wake_.notify_one();
    return;
  }
  {
    std::lock_guard lock(fetch_mutex_);
    std::uint64_t& last = fetch_seqs_[vehicle_id];
    if (request.seq() <= last) {
      ++stale_;
      return;
    }
    last = request.seq();
  }
  chunks_->enqueue(vehicle_id, std::move(request));
}

// --- Ingest thread ---------------------------------------------------------------------------

void Coordinator::ingest_loop() {
  while (!stopping_) {
    std::vector<Inbound> batch;
    {
      std::unique_lock lock(inbound_mutex_);
      inbound_wake_.wait(lock, [&] { return stopping_ || !inbound_.empty(); });
      inbound_wake_.wait_for(lock, kIngestLinger,
                             [&] { return stopping_ || inbound_.size() >= kIngestBatch; });
      while (!inbound_.empty() && batch.size() < kIngestBatch) {
        batch.push_back(std::move(inbound_.front()));
        inbound_.pop_front();
      }
    }
    if (batch.empty()) continue;
    IngestBatch effects;
    try {
      db_->transaction([&] {
        for (const Inbound& m : batch) {
          try {
            ingest(m, effects);
          } catch (const Rejected& e) {
            reject(m, e.what(), effects);
          } catch (const Error& e) {
            // Storage refused the content (checks beyond validation): the message is lost
            // but the batch goes on; SQLite-level failures abort the transaction below.
            reject(m, e.what(), effects);
          }
        }
      });
    } catch (const std::exception& e) {
      // The database could not commit (full disk, I/O error). The messages were already
      // acknowledged to the broker; retained ones (capabilities, statuses) come back on the
      // next connection, and vehicles resend what matters (see docs/protocol.md).
      log::error(kLog, "cannot store inbound messages",
                 {{"count", batch.size()}, {"error", e.what()}});
      events_->emit("storage_error", "", {{"error", e.what()}, {"lost_messages", batch.size()}});
      unapplied_ -= batch.size();
      continue;
    }
    for (auto& effect : effects.after_commit) effect();
    mark_dirty(effects.dirty);
    unapplied_ -= batch.size();
  }
}

void Coordinator::reject(const Inbound& m, const std::string& reason, IngestBatch& effects) {
  ++rejected_;
  effects.after_commit.push_back(
      [this, vehicle = m.vehicle_id, topic = delivery::printable(m.topic, 200), reason] {
        events_->emit("rejected_input", vehicle, {{"topic", topic}, {"reason", reason}});
      });
}

void Coordinator::ingest(const Inbound& m, IngestBatch& effects) {
  if (m.bad_topic) {
    throw Rejected(m.kind == TopicKind::kFetch
                       ? m.payload  // the fetch problem found on the callback thread
                       : std::string("unknown topic, invalid id or unreadable request"));
  }
  const std::string& vid = m.vehicle_id;
  switch (m.kind) {
    case TopicKind::kCapability: {
      auto cap = decode<v1::Capability>(m.payload, "Capability");
      check(cap, vid);
      const std::string key = latency_.device_key(cap);
      if (!db_->save_capability(cap, key)) {  // checks and records the seq too
        ++stale_;
        return;
      }
      // Measurements the vehicle carries in its capability (recovers reports lost in a crash).
      std::vector<storage::MeasurementRecord> fresh;
      for (const auto& installed : cap.installed()) {
        if (installed.measurement().p50_ms() <= 0) continue;
        auto record = measurement_record(vid, key, installed.model_id(), installed.version(),
                                         installed.measurement(), nullptr);
        bool known = false;
        for (const auto& existing : db_->measurements_for(key, installed.model_id())) {
          known = known ||
                  (existing.vehicle_id == vid && existing.model_version == record.model_version &&
                   existing.batch == record.batch && existing.p50_ms == record.p50_ms);
        }
        if (known) continue;
        db_->add_measurement(record);
        fresh.push_back(record);
      }
      effects.after_commit.push_back(
          [this, vid, cap = std::make_shared<const v1::Capability>(std::move(cap)), key, fresh] {
            {
              std::lock_guard lock(state_mutex_);
              VehicleState& state = vehicles_[vid];
              state.capability = cap;
              state.device_key = key;
            }
            for (const auto& record : fresh) latency_.add_measurement(record);
          });
      effects.dirty.push_back(vid);
      break;
    }
    case TopicKind::kStatus: {
      auto status = decode<v1::Status>(m.payload, "Status");
      check(status, vid);
      if (status.last_will()) {
        std::lock_guard lock(state_mutex_);
        auto it = vehicles_.find(vid);
        if (it != vehicles_.end() && status.session() < it->second.session) {
          ++stale_;  // the will of an older connection
          return;
        }
      } else if (!db_->accept_seq(vid, storage::MessageKind::kStatus, status.seq())) {
        ++stale_;
        return;
      }
      db_->save_status(status);
      effects.after_commit.push_back([this, vid, status = std::move(status)] {
        const bool online = status.state() == v1::Status::ONLINE;
        bool changed = false;
        {
          std::lock_guard lock(state_mutex_);
          VehicleState& state = vehicles_[vid];
          changed = state.online != online;
          state.online = online;
          state.session = std::max(state.session, status.session());
        }
        if (changed) {
          events_->emit(online ? "vehicle_online" : "vehicle_offline", vid,
                        {{"last_will", status.last_will()}});
        }
      });
      break;
    }
    case TopicKind::kLink: {
      auto report = decode<v1::LinkReport>(m.payload, "LinkReport");
      check(report, vid);
      if (!db_->accept_seq(vid, storage::MessageKind::kLink, report.seq())) {
        ++stale_;
        return;
      }
      db_->append_link_samples(vid, report.samples());
      effects.after_commit.push_back([this, vid, report = std::move(report)] {
        {
          std::lock_guard lock(state_mutex_);
          auto& samples = vehicles_[vid].samples;
          for (const auto& s : report.samples()) samples.push_back(s);
          const auto history_ms =
              std::chrono::duration_cast<std::chrono::milliseconds>(options_.link_history).count();
          while (!samples.empty() &&
                 samples.back().start_unix_ms() - samples.front().start_unix_ms() > history_ms) {
            samples.pop_front();
          }
        }
      });
      effects.dirty.push_back(vid);
      break;
    }
    case TopicKind::kReport: {
      auto report = decode<v1::Report>(m.payload, "Report");
      check(report, vid);
      if (!db_->accept_seq(vid, storage::MessageKind::kReport, report.seq())) {
        ++stale_;
        return;
      }
      db_->save_report(report);
      std::optional<storage::MeasurementRecord> measured;
      CapabilityPtr cap;
      {
        std::lock_guard lock(state_mutex_);
        auto it = vehicles_.find(vid);
        if (it != vehicles_.end()) cap = it->second.capability;
      }
      const bool has_measurement =
          (report.kind() == v1::Report::INSTALLED || report.kind() == v1::Report::BENCHMARK) &&
          report.measurement().p50_ms() > 0;
      if (has_measurement && cap) {
        measured =
            measurement_record(vid, latency_.device_key(*cap), report.model_id(),
                               report.model_version(), report.measurement(), &report.download());
        db_->add_measurement(*measured);
      }
      effects.after_commit.push_back([this, vid, report = std::move(report), measured, cap] {
        on_report(vid, report, measured, cap);
      });
      break;
    }
    default:
      throw Rejected("not a topic the coordinator accepts messages on");
  }
  ++ingested_;
}

void Coordinator::on_report(const std::string& vid, const v1::Report& report,
                            const std::optional<storage::MeasurementRecord>& measured,
                            const CapabilityPtr& cap) {
  nlohmann::json detail = {{"application", report.application_id()},
                           {"model", report.model_id()},
                           {"version", report.model_version()}};
  switch (report.kind()) {
    case v1::Report::INSTALLED:
    case v1::Report::BENCHMARK: {
      if (!measured) break;
      latency_.add_measurement(*measured);
      detail["p50_ms"] = measured->p50_ms;
      detail["p95_ms"] = measured->p95_ms;
      if (report.kind() == v1::Report::INSTALLED) {
        detail["download_s"] = report.download().duration_s();
        events_->emit("installed", vid, detail);
      }
      if (cap) {
        for (const auto& app : cap->applications()) {
          if (app.id() == report.application_id() && app.deadline_ms() > 0 &&
              measured->p95_ms > app.deadline_ms()) {
            detail["deadline_ms"] = app.deadline_ms();
            events_->emit("deadline_miss", vid, detail);
          }
        }
      }
      mark_dirty({vid});  // measured latency now overrides the estimate
      break;
    }
    case v1::Report::INSTALL_FAILED:
      detail["reason"] = report.reason();
      detail["detail"] = report.detail();
      events_->emit("install_failed", vid, detail);
      break;
    case v1::Report::REJECTED:
      detail["reason"] = report.reason();
      detail["detail"] = report.detail();
      events_->emit("verification_failure", vid, detail);
      break;
    default:
      break;
  }
}

// --- Planning thread -------------------------------------------------------------------------

void Coordinator::mark_dirty(const std::vector<std::string>& vehicle_ids) {
  if (vehicle_ids.empty()) return;
  {
    std::lock_guard lock(dirty_mutex_);
    for (const auto& id : vehicle_ids) dirty_.try_emplace(id, false);
  }
  dirty_wake_.notify_one();
}

void Coordinator::mark_all_dirty() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(state_mutex_);
    for (const auto& [id, state] : vehicles_) ids.push_back(id);
  }
  mark_dirty(ids);
}

void Coordinator::plan_loop() {
  auto next_housekeeping = clock_.now();
  while (!stopping_) {
    std::map<std::string, bool> dirty;
    bool republish = false;
    {
      std::unique_lock lock(dirty_mutex_);
      dirty_wake_.wait_for(lock, clock_.real_duration(kHousekeeping),
                           [&] { return stopping_ || republish_ || !dirty_.empty(); });
      std::swap(dirty, dirty_);
      std::swap(republish, republish_);
      planning_ = dirty.size();
    }
    if (stopping_) break;
    if (republish) republish_retained();
    if (clock_.now() >= next_housekeeping) {
      // Refresh assignments that reach half their lifetime, so vehicles never see them expire.
      next_housekeeping = clock_.now() + kHousekeeping;
      const auto refresh_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(options_.assignment_ttl).count() /
          2;
      std::lock_guard lock(state_mutex_);
      for (const auto& [id, state] : vehicles_) {
        if (state.current && state.current->expires_unix_ms() - clock_.now_unix_ms() < refresh_ms) {
          dirty[id] = true;
        }
      }
    }
    if (dirty.empty()) continue;
    {
      std::lock_guard lock(dirty_mutex_);
      planning_ = dirty.size();  // with the housekeeping refreshes
    }
    const auto catalog = catalog_->entries();
    for (const auto& [vehicle_id, force] : dirty) {
      if (stopping_) break;
      try {
        plan_vehicle(vehicle_id, *catalog, force);
      } catch (const std::exception& e) {
        log::error(kLog, "planning failed", {{"vehicle", vehicle_id}, {"error", e.what()}});
        events_->emit("plan_failed", vehicle_id, {{"error", e.what()}});
      }
      std::lock_guard lock(dirty_mutex_);
      --planning_;
    }
  }
}

void Coordinator::plan_vehicle(const std::string& vehicle_id,
                               const std::vector<assignment::CatalogEntry>& catalog, bool force) {
  CapabilityPtr capability;
  std::vector<v1::LinkSample> samples;
  std::shared_ptr<const v1::AssignmentBody> current;
  {
    std::lock_guard lock(state_mutex_);
    auto it = vehicles_.find(vehicle_id);
    if (it == vehicles_.end() || !it->second.capability) return;
    capability = it->second.capability;
    samples.assign(it->second.samples.begin(), it->second.samples.end());
    current = it->second.current;
  }
  const v1::Capability& cap = *capability;
  const double nominal_kbps = cap.link().nominal_downlink_kbps();
  const auto plan = [&](bool explain) {
    assignment::PlannerOptions options = options_.planner;
    options.explain = explain;
    return assignment::plan(
        cap, catalog,
        [&](const assignment::CatalogEntry& entry, std::uint32_t batch) {
          return latency_.estimate(cap, entry, batch);
        },
        [&](std::uint64_t bytes) {
          return link::predict_download(samples, static_cast<double>(bytes), nominal_kbps).seconds;
        },
        current.get(), options);
  };
  // Most re-plans change nothing, and the reasons of every alternative are a large share of a
  // plan: first without them, then again with them only to publish. A refresh (`force`)
  // publishes anyway, so it plans with them at once.
  v1::AssignmentBody body = plan(/*explain=*/force);
  ++plans_;
  bool changed = !current || !same_choices(*current, body);
  if (!force) {
    if (!changed) return;
    body = plan(true);
    // A measurement may have come in between (the ingest thread adds them while this plans).
    changed = !current || !same_choices(*current, body);
    if (!changed) return;
  }

  const auto now = clock_.now();
  body.set_vehicle_id(vehicle_id);
  body.set_seq(db_->next_assignment_seq(vehicle_id));
  body.set_issued_unix_ms(to_unix_ms(now));
  body.set_expires_unix_ms(to_unix_ms(now + options_.assignment_ttl));
  body.set_estimator(latency_.name());
  const v1::Assignment signed_ = crypto::sign_assignment(body, keys_.coordinator);
  const std::string json = assignment_json(body, signed_);
  db_->save_assignment(signed_, json);
  {
    std::lock_guard lock(state_mutex_);
    VehicleState& state = vehicles_[vehicle_id];
    state.current = std::make_shared<const v1::AssignmentBody>(body);
    state.current_signed = signed_;
    state.current_json = json;
    publish_assignment(vehicle_id, state);
  }
  ++published_;
  if (changed) {
    nlohmann::json detail = {{"seq", body.seq()}, {"now", choices(body)}};
    if (current) detail["before"] = choices(*current);
    events_->emit("assignment_changed", vehicle_id, std::move(detail));
  }
}

void Coordinator::publish_assignment(const std::string& vehicle_id, const VehicleState& state) {
  control_->publish(topics_.assignment(vehicle_id), state.current_signed.SerializeAsString(), 1,
                    true);
  control_->publish(topics_.assignment_json(vehicle_id), state.current_json, 1, true);
}

void Coordinator::republish_retained() {
  for (const auto& manifest : catalog_->latest_manifests()) {
    v1::ManifestBody body;
    if (!body.ParseFromString(manifest.body())) continue;
    control_->publish(topics_.manifest(body.model_id()), manifest.SerializeAsString(), 1, true);
  }
  std::lock_guard lock(state_mutex_);
  for (const auto& [id, state] : vehicles_) {
    if (state.current) publish_assignment(id, state);
  }
}

// --- Catalog thread --------------------------------------------------------------------------

nlohmann::json Coordinator::catalog_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : *catalog_->entries()) {
    out.push_back({{"id", e.model_id},
                   {"version", e.version},
                   {"task", e.task},
                   {"accuracy", e.accuracy},
                   {"input_shape", e.input_shape},
                   {"sha256", e.sha256},
                   {"size_bytes", e.size_bytes},
                   {"macs", e.profile.macs},
                   {"flops", e.profile.flops},
                   {"params", e.profile.params},
                   {"depth", e.profile.depth}});
  }
  return out;
}

void Coordinator::catalog_loop() {
  while (!stopping_) {
    std::deque<v1::CatalogRequest> requests;
    {
      std::unique_lock lock(catalog_mutex_);
      catalog_wake_.wait_for(lock, std::chrono::seconds(10),
                             [&] { return stopping_ || !catalog_requests_.empty(); });
      std::swap(requests, catalog_requests_);
    }
    if (stopping_) break;
    uploads_->expire_idle();
    for (const auto& request : requests) handle_catalog_request(request);
  }
}

void Coordinator::handle_catalog_request(const v1::CatalogRequest& request) {
  v1::CatalogReply reply;
  reply.set_request_id(request.request_id());
  reply.set_ok(true);
  try {
    if (request.has_upload()) {
      const auto& part = request.upload();
      const auto progress = uploads_->apply(part);
      reply.set_received_bytes(progress.received_bytes);
      if (progress.complete) {
        catalog::Catalog::Registration registration{
            part.model_id(), part.task(), part.accuracy(),
            model::Shape(part.input_shape().begin(), part.input_shape().end())};
        catalog::Catalog::Registered registered;
        try {
          registered = catalog_->add(progress.file, registration);
        } catch (...) {
          uploads_->discard(part.upload_id());
          throw;
        }
        uploads_->discard(part.upload_id());
        const auto& manifest = registered.version.manifest;
        control_->publish(topics_.manifest(part.model_id()), manifest.SerializeAsString(), 1, true);
        nlohmann::json entry;
        for (const auto& e : catalog_json()) {
          if (e["id"] == part.model_id()) entry = e;
        }
        entry["created"] = registered.created;
        reply.set_done(true);
        reply.set_json(entry.dump());
        if (registered.created) {
          events_->emit("model_registered", "",
                        {{"model", part.model_id()}, {"version", registered.version.version}});
          mark_all_dirty();
        }
      }
    } else if (request.has_list()) {
      reply.set_json(catalog_json().dump());
    } else {
      throw Error("empty catalog request");
    }
  } catch (const std::exception& e) {
    reply.set_ok(false);
    reply.set_error(e.what());
    log::warn(kLog, "catalog request failed", {{"error", e.what()}});
  }
  if (messages::is_valid_id(request.reply_to())) {
    control_->publish(topics_.catalog_reply(request.reply_to()), reply.SerializeAsString(), 1);
  }
}

}  // namespace fleetml::coordinator
