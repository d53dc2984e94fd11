#pragma once

// Internal to fleetml_delivery: descriptor-level I/O for files too large to hold in memory
// (positioned reads and writes, data syncs). shared/common/file.h covers whole-file needs.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace fleetml::delivery::io {

// An owned file descriptor, closed on destruction. Every error is a fleetml::Error naming the
// path.
class Fd {
 public:
  Fd() = default;
  // open(2) with O_CLOEXEC added; throws fleetml::Error naming `path` on failure.
  Fd(const std::filesystem::path& path, int flags, unsigned mode = 0644);
  ~Fd();
  Fd(Fd&& other) noexcept;
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  bool is_open() const { return fd_ >= 0; }
  int get() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }

  // Reads up to `n` bytes at `offset` (fewer only at end of file), retrying short reads.
  std::string read_at(std::uint64_t offset, std::size_t n) const;
  // Writes all of `data` at `offset`.
  void write_at(std::uint64_t offset, std::string_view data) const;
  // Current size in bytes.
  std::uint64_t size() const;
  void truncate(std::uint64_t size) const;
  // fdatasync: the file's data (and size) is durable.
  void sync_data() const;
  // fsync: data and metadata are durable.
  void sync() const;
  void close();

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

}  // namespace fleetml::delivery::io
