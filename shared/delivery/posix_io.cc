#include "shared/delivery/posix_io.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/common/error.h"

namespace fleetml::delivery::io {
namespace {

[[noreturn]] void fail(std::string_view what, const std::filesystem::path& path) {
  throw Error(std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

Fd::Fd(const std::filesystem::path& path, int flags, unsigned mode)
    : fd_(::open(path.c_str(), flags | O_CLOEXEC, mode)), path_(path) {
  if (fd_ < 0) fail("cannot open", path);
}

Fd::~Fd() { close(); }

Fd::Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

void Fd::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string Fd::read_at(std::uint64_t offset, std::size_t n) const {
  std::string out(n, '\0');
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got =
        ::pread(fd_, out.data() + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      fail("cannot read", path_);
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  out.resize(done);
  return out;
}

void Fd::write_at(std::uint64_t offset, std::string_view data) const {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t put =
        ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (put < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", path_);
    }
    done += static_cast<std::size_t>(put);
  }
}

std::uint64_t Fd::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("cannot stat", path_);
  return static_cast<std::uint64_t>(st.st_size);
}

void Fd::truncate(std::uint64_t size) const {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail("cannot truncate", path_);
}

void Fd::sync_data() const {
  if (::fdatasync(fd_) != 0) fail("cannot fdatasync", path_);
}

void Fd::sync() const {
  if (::fsync(fd_) != 0) fail("cannot fsync", path_);
}

}  // namespace fleetml::delivery::io
