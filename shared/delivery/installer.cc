#include "shared/delivery/installer.h"

#include <algorithm>
#include <cerrno>
#include <set>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/common/log.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/reasons.h"
#include "shared/crypto/sha256.h"
#include "shared/delivery/posix_io.h"
#include "shared/delivery/verifier.h"

namespace fleetml::delivery {
namespace {

namespace fs = std::filesystem;
namespace reason = crypto::reason;
using nlohmann::json;

constexpr const char* kModelFile = "model.pt";
constexpr const char* kTempSuffix = ".tmp";

std::string label(const v1::ManifestBody& m) {
  return printable(m.model_id(), 64) + " v" + std::to_string(m.version());
}

InstallResult failure(std::string_view why, std::string detail) {
  return InstallResult{std::string(why), std::move(detail)};
}

// Moves `from` to `to`; across filesystems copies (then fsyncs) and removes `from`.
void move_file(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec == std::errc::cross_device_link) {
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    fs::remove(from);
  } else if (ec) {
    throw Error("cannot move " + from.string() + " to " + to.string() + ": " + ec.message());
  }
  io::Fd(to, O_RDONLY).sync();
}

void remove_tree(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) log::warn("delivery", "cannot remove", {{"path", dir.string()}, {"error", ec.message()}});
}

}  // namespace

Installer::Installer(fs::path root, SmokeTest smoke, InstallerOptions options)
    : root_(std::move(root)), smoke_(std::move(smoke)), options_(options) {
  std::error_code ec;
  fs::create_directories(root_ / "models", ec);
  if (ec) throw Error("cannot create model store " + root_.string() + ": " + ec.message());
  lock_ = io::Fd(root_ / "lock", O_RDWR | O_CREAT, 0644);
  if (::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    throw Error("model store " + root_.string() + " is in use by another installer");
  }
  load();
  clean_leftovers();
}

fs::path Installer::model_path(const std::string& model_id, std::uint64_t version) const {
  return root_ / "models" / model_id / std::to_string(version) / kModelFile;
}

const Installer::Entry* Installer::find(const State& state, const std::string& model_id,
                                        std::uint64_t version) const {
  for (const Entry& e : state.installed) {
    if (e.model_id == model_id && e.version == version) return &e;
  }
  return nullptr;
}

void Installer::load() {
  const fs::path path = root_ / "state.json";
  if (!fs::exists(path)) return;
  try {
    const json doc = json::parse(file::read(path));
    State state;
    state.assignment_seq = doc.at("assignment_seq").get<std::uint64_t>();
    state.next_order = doc.at("next_order").get<std::uint64_t>();
    for (const json& e : doc.at("installed")) {
      Entry entry{e.at("model_id").get<std::string>(), e.at("version").get<std::uint64_t>(),
                  e.at("sha256").get<std::string>(), e.at("size_bytes").get<std::uint64_t>(),
                  e.at("order").get<std::uint64_t>()};
      // Ids become directory names: refuse a state file that would point outside the store.
      if (!valid_model_id(entry.model_id)) throw Error("invalid model id in installed list");
      state.installed.push_back(std::move(entry));
    }
    for (const auto& [app, a] : doc.at("active").items()) {
      state.active[app] = {a.at("model_id").get<std::string>(),
                           a.at("version").get<std::uint64_t>()};
    }
    for (const auto& [model, version] : doc.at("highest_version").items()) {
      state.highest[model] = version.get<std::uint64_t>();
    }
    state_ = std::move(state);
  } catch (const std::exception& e) {
    throw Error("model store state " + path.string() + " is unreadable: " + e.what());
  }
}

void Installer::save(const State& state) const {
  json doc = {{"format", 1},
              {"assignment_seq", state.assignment_seq},
              {"next_order", state.next_order},
              {"installed", json::array()},
              {"active", json::object()},
              {"highest_version", json::object()}};
  for (const Entry& e : state.installed) {
    doc["installed"].push_back({{"model_id", e.model_id},
                                {"version", e.version},
                                {"sha256", e.sha256},
                                {"size_bytes", e.size_bytes},
                                {"order", e.order}});
  }
  for (const auto& [app, a] : state.active) {
    doc["active"][app] = {{"model_id", a.first}, {"version", a.second}};
  }
  for (const auto& [model, version] : state.highest) doc["highest_version"][model] = version;
  file::write_atomic(root_ / "state.json", doc.dump(2) + "\n");
}

void Installer::clean_leftovers() {
  std::lock_guard lock(state_mutex_);
  State state = state_;
  bool changed = false;
  // Entries whose file vanished are forgotten (and so are applications using them). A
  // metadata-only store never had the files.
  std::erase_if(state.installed, [&](const Entry& e) {
    if (options_.metadata_only || fs::exists(model_path(e.model_id, e.version))) return false;
    log::error("delivery", "installed model file is missing; forgetting it",
               {{"model", e.model_id}, {"version", e.version}});
    std::erase_if(state.active, [&](const auto& a) {
      return a.second.first == e.model_id && a.second.second == e.version;
    });
    changed = true;
    return true;
  });
  // Anything under models/ that the state does not list is an interrupted install.
  for (const fs::directory_entry& model_dir : fs::directory_iterator(root_ / "models")) {
    const std::string model_id = model_dir.path().filename().string();
    if (model_dir.is_directory()) {
      for (const fs::directory_entry& version_dir : fs::directory_iterator(model_dir.path())) {
        const std::string name = version_dir.path().filename().string();
        const Entry* entry = nullptr;
        for (const Entry& e : state.installed) {
          if (e.model_id == model_id && std::to_string(e.version) == name) entry = &e;
        }
        if (entry == nullptr) {
          log::info("delivery", "removing leftover of an interrupted install",
                    {{"path", version_dir.path().string()}});
          remove_tree(version_dir.path());
        } else {
          std::error_code ignored;
          fs::remove(version_dir.path() / (std::string(kModelFile) + kTempSuffix), ignored);
        }
      }
    }
    if (!model_dir.is_directory() || fs::is_empty(model_dir.path())) remove_tree(model_dir.path());
  }
  if (changed) {
    save(state);
    state_ = std::move(state);
  }
}

InstallResult Installer::place(const fs::path& verified_file, const v1::ManifestBody& manifest) {
  const fs::path final_path = model_path(manifest.model_id(), manifest.version());
  const fs::path dir = final_path.parent_path();
  const fs::path tmp = final_path.string() + kTempSuffix;
  fs::create_directories(dir);
  move_file(verified_file, tmp);
  // Check what is actually on disk here, so nothing unverified can reach the runtime even if
  // the downloaded file changed after the download's own check.
  const crypto::FileDigest digest = crypto::sha256_file(tmp);
  if (digest.size_bytes != manifest.size_bytes()) {
    remove_tree(dir);
    return failure(reason::kSizeMismatch,
                   label(manifest) + ": file has " + std::to_string(digest.size_bytes) +
                       " bytes, manifest says " + std::to_string(manifest.size_bytes()));
  }
  if (crypto::to_hex(digest.sha256) != manifest.sha256()) {
    remove_tree(dir);
    return failure(reason::kHashMismatch,
                   label(manifest) + ": file SHA-256 differs from the manifest's");
  }
  fs::rename(tmp, final_path);
  file::sync_directory(dir);
  file::sync_directory(dir.parent_path());
  file::sync_directory(root_ / "models");
  return {};
}

InstallResult Installer::install(const fs::path& verified_file, const v1::ManifestBody& manifest,
                                 const std::string& application_id) {
  std::lock_guard install_lock(install_mutex_);
  if (auto error = manifest_shape_error(manifest)) {
    return failure(reason::kMalformed, label(manifest) + ": " + *error);
  }
  if (!valid_model_id(application_id)) {
    return failure(reason::kMalformed, "application id is not [A-Za-z0-9_-]{1,64}");
  }
  bool present = false;
  {
    std::lock_guard lock(state_mutex_);
    if (const Entry* e = find(state_, manifest.model_id(), manifest.version())) {
      if (e->sha256 != manifest.sha256()) {
        return failure(reason::kHashMismatch,
                       label(manifest) + ": installed copy has a different SHA-256");
      }
      present = true;
    }
  }
  const fs::path path = model_path(manifest.model_id(), manifest.version());
  if (present) {
    std::error_code ignored;
    if (verified_file != path) fs::remove(verified_file, ignored);
  } else if (!options_.metadata_only) {  // a metadata-only store only records the artifact
    if (InstallResult placed = place(verified_file, manifest); !placed.ok()) return placed;
  }

  SmokeResult smoke;
  try {
    smoke = smoke_(path, manifest);
  } catch (const std::exception& e) {
    smoke = SmokeResult{false, e.what()};
  }
  if (!smoke.ok) {
    if (!present) remove_tree(path.parent_path());
    log::warn("delivery", "smoke test failed; previous model stays active",
              {{"model", manifest.model_id()}, {"app", application_id}, {"error", smoke.detail}});
    return failure(reason::kSmokeFailed, label(manifest) + ": " + printable(smoke.detail, 200));
  }

  std::vector<fs::path> doomed;
  {
    std::lock_guard lock(state_mutex_);
    State next = state_;
    if (!present) {
      next.installed.push_back(Entry{manifest.model_id(), manifest.version(), manifest.sha256(),
                                     manifest.size_bytes(), next.next_order++});
    }
    next.active[application_id] = {manifest.model_id(), manifest.version()};
    std::uint64_t& highest = next.highest[manifest.model_id()];
    highest = std::max(highest, manifest.version());
    doomed = prune(next);
    save(next);  // the switch: before this line the previous model is active
    state_ = std::move(next);
  }
  for (const fs::path& dir : doomed) {
    remove_tree(dir);
    std::error_code ec;
    if (fs::is_empty(dir.parent_path(), ec)) remove_tree(dir.parent_path());
  }
  log::info(
      "delivery", "model installed and active",
      {{"model", manifest.model_id()}, {"version", manifest.version()}, {"app", application_id}});
  return {};
}

std::vector<fs::path> Installer::prune(State& state) const {
  std::set<std::pair<std::string, std::uint64_t>> active;
  for (const auto& [app, a] : state.active) active.insert(a);
  std::vector<Entry> inactive;
  std::vector<Entry> kept;
  for (const Entry& e : state.installed) {
    (active.contains({e.model_id, e.version}) ? kept : inactive).push_back(e);
  }
  std::sort(inactive.begin(), inactive.end(),
            [](const Entry& a, const Entry& b) { return a.order > b.order; });
  std::vector<fs::path> doomed;
  for (std::size_t i = 0; i < inactive.size(); ++i) {
    if (i < options_.keep_inactive) {
      kept.push_back(inactive[i]);
    } else {
      doomed.push_back(model_path(inactive[i].model_id, inactive[i].version).parent_path());
    }
  }
  std::sort(kept.begin(), kept.end(),
            [](const Entry& a, const Entry& b) { return a.order < b.order; });
  state.installed = std::move(kept);
  return doomed;
}

std::optional<ActiveModel> Installer::active(const std::string& application_id) const {
  std::lock_guard lock(state_mutex_);
  const auto it = state_.active.find(application_id);
  if (it == state_.active.end()) return std::nullopt;
  const Entry* e = find(state_, it->second.first, it->second.second);
  if (e == nullptr) return std::nullopt;
  return ActiveModel{e->model_id, e->version, e->sha256, model_path(e->model_id, e->version)};
}

std::vector<v1::InstalledModel> Installer::installed() const {
  std::lock_guard lock(state_mutex_);
  std::vector<v1::InstalledModel> out;
  std::set<std::pair<std::string, std::uint64_t>> active;
  auto add = [&](const Entry& e, const std::string& app) {
    v1::InstalledModel m;
    m.set_model_id(e.model_id);
    m.set_version(e.version);
    m.set_sha256(e.sha256);
    m.set_application_id(app);
    out.push_back(std::move(m));
  };
  for (const auto& [app, a] : state_.active) {
    if (const Entry* e = find(state_, a.first, a.second)) add(*e, app);
    active.insert(a);
  }
  for (const Entry& e : state_.installed) {
    if (!active.contains({e.model_id, e.version})) add(e, "");
  }
  return out;
}

std::optional<std::uint64_t> Installer::highest_version(const std::string& model_id) const {
  std::lock_guard lock(state_mutex_);
  const auto it = state_.highest.find(model_id);
  if (it == state_.highest.end()) return std::nullopt;
  return it->second;
}

std::uint64_t Installer::assignment_seq() const {
  std::lock_guard lock(state_mutex_);
  return state_.assignment_seq;
}

void Installer::set_assignment_seq(std::uint64_t seq) {
  std::lock_guard lock(state_mutex_);
  if (seq <= state_.assignment_seq) return;
  State next = state_;
  next.assignment_seq = seq;
  save(next);
  state_ = std::move(next);
}

}  // namespace fleetml::delivery
