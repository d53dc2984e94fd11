#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace fleetml::file {

// Whole-file read; throws fleetml::Error naming the path on failure.
std::string read(const std::filesystem::path& path);

// Crash-safe replace: writes a temporary file beside `path`, fsyncs it, renames it over
// `path` and fsyncs the directory, so a reader (or a restart after kill -9 or power loss)
// sees either the old or the new content, never a mix. `mode` is applied to the new file.
void write_atomic(const std::filesystem::path& path, std::string_view data,
                  std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                std::filesystem::perms::owner_write |
                                                std::filesystem::perms::group_read |
                                                std::filesystem::perms::others_read);

// fsync of a directory, making renames and creations inside it durable.
void sync_directory(const std::filesystem::path& dir);

}  // namespace fleetml::file
