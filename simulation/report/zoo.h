#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "shared/model/model_profile.h"

namespace fleetml::sim {

// One exported zoo artifact.
struct ZooModel {
  std::string id;
  std::string name;  // display name; the id when the catalog has none
  std::filesystem::path path;
  std::int64_t size_bytes = 0;
};

// The zoo directory's default: $FLEETML_ZOO_DIR, else ~/.cache/fleetml/zoo.
std::filesystem::path default_zoo_dir();

// The models of `dir` (files <id>.pt). When `catalog` (data/zoo.json) exists, its entries
// give the ids, names and order — a JSON array, or an object with a "models" array, of
// objects with "id" and optionally "name"; entries without a file in `dir` are skipped.
// Otherwise every *.pt in `dir`, sorted by id. Throws fleetml::Error when `dir` is not a
// directory or the catalog is malformed.
std::vector<ZooModel> list_zoo_models(const std::filesystem::path& dir,
                                      const std::filesystem::path& catalog);

// Every characterization `<id>.profile.json` of `dir` (written by `fleetctl characterize
// --json`), sorted by file name; a profile without a name takes its id. Throws fleetml::Error
// when `dir` is not a directory or a profile is malformed.
std::vector<model::ModelProfile> load_zoo_profiles(const std::filesystem::path& dir);

// load_zoo_profiles of `dir`, or of default_zoo_dir() when `dir` is empty; throws
// fleetml::Error, saying how to make them, when there are none.
std::vector<model::ModelProfile> require_zoo_profiles(const std::filesystem::path& dir);

}  // namespace fleetml::sim
