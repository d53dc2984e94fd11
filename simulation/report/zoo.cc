#include "simulation/report/zoo.h"

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "shared/common/error.h"
#include "shared/common/file.h"
#include "shared/common/log.h"

namespace fleetml::sim {
namespace fs = std::filesystem;

fs::path default_zoo_dir() {
  if (const char* dir = std::getenv("FLEETML_ZOO_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr ? home : ".") / ".cache" / "fleetml" / "zoo";
}

std::vector<ZooModel> list_zoo_models(const fs::path& dir, const fs::path& catalog) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("models " + dir.string() + ": not a directory");
  std::vector<ZooModel> models;
  auto add = [&](std::string id, std::string name) {
    const fs::path path = dir / (id + ".pt");
    if (!fs::is_regular_file(path, ec)) {
      log::warn("fleet-sim", "catalog model has no artifact", {{"model", id}});
      return;
    }
    const auto size = static_cast<std::int64_t>(fs::file_size(path));
    models.push_back({std::move(id), std::move(name), path, size});
  };
  if (!catalog.empty() && fs::exists(catalog, ec)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(file::read(catalog));
    } catch (const nlohmann::json::exception& e) {
      throw Error("catalog " + catalog.string() + ": " + e.what());
    }
    const nlohmann::json& entries = j.is_object() && j.contains("models") ? j["models"] : j;
    if (!entries.is_array()) {
      throw Error("catalog " + catalog.string() + ": expected an array of models");
    }
    for (const nlohmann::json& e : entries) {
      if (!e.is_object() || !e.contains("id") || !e["id"].is_string()) {
        throw Error("catalog " + catalog.string() + ": every model needs a string \"id\"");
      }
      const std::string id = e["id"].get<std::string>();
      const std::string name =
          e.contains("name") && e["name"].is_string() ? e["name"].get<std::string>() : id;
      add(id, name);
    }
    return models;
  }
  std::vector<std::string> ids;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".pt") {
      ids.push_back(entry.path().stem().string());
    }
  }
  std::sort(ids.begin(), ids.end());
  for (std::string& id : ids) add(id, id);
  return models;
}

std::vector<model::ModelProfile> load_zoo_profiles(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("models " + dir.string() + ": not a directory");
  constexpr std::string_view kSuffix = ".profile.json";
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename().string().ends_with(kSuffix)) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<model::ModelProfile> profiles;
  for (const fs::path& f : files) {
    try {
      profiles.push_back(model::profile_from_json(nlohmann::json::parse(file::read(f))));
    } catch (const nlohmann::json::exception& e) {
      throw Error(f.string() + ": " + e.what());
    } catch (const Error& e) {
      throw Error(f.string() + ": " + e.what());
    }
    if (profiles.back().name.empty()) {
      const std::string file = f.filename().string();
      profiles.back().name = file.substr(0, file.size() - kSuffix.size());
    }
  }
  return profiles;
}

std::vector<model::ModelProfile> require_zoo_profiles(const fs::path& dir) {
  const fs::path models_dir = dir.empty() ? default_zoo_dir() : dir;
  std::vector<model::ModelProfile> models = load_zoo_profiles(models_dir);
  if (models.empty()) {
    throw Error("models " + models_dir.string() +
                ": no <id>.profile.json (write them with fleetctl characterize --json)");
  }
  return models;
}

}  // namespace fleetml::sim
