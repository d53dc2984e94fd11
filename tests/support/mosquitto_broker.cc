#include "tests/support/mosquitto_broker.h"

#include <cerrno>
#include <cstring>
#include <iostream>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/common/error.h"
#include "shared/common/file.h"

namespace fleetml::test {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(10);

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// A port of 127.0.0.1 that nobody listens on right now (the kernel's pick for port 0).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(std::string("cannot pick a free port: ") + std::strerror(err));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string user_name() {
  const passwd* pw = ::getpwuid(::geteuid());
  if (pw == nullptr) throw Error("cannot find the name of user " + std::to_string(::geteuid()));
  return pw->pw_name;
}

std::string tail(const std::string& text, std::size_t max_bytes) {
  return text.size() <= max_bytes ? text : "..." + text.substr(text.size() - max_bytes);
}

}  // namespace

MosquittoBroker::MosquittoBroker() : MosquittoBroker(Options{}) {}

MosquittoBroker::MosquittoBroker(Options options) : options_(std::move(options)) {
  // Another test may grab the port between free_port() and mosquitto's bind: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    write_config();
    if (try_start()) return;
    if (log().find("Address already in use") == std::string::npos) break;
  }
  throw Error("mosquitto did not start on 127.0.0.1:" + std::to_string(port_) + ":\n" +
              tail(log(), 2000));
}

MosquittoBroker::~MosquittoBroker() {
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- mosquitto log (" << log_path().string() << ") ----\n"
              << tail(log(), 4000) << "---- end of mosquitto log ----\n";
  }
  process_.reset();
}

std::string MosquittoBroker::uri() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }

bool MosquittoBroker::running() const { return process_ && process_->running(); }

pid_t MosquittoBroker::pid() const { return process_ ? process_->pid() : -1; }

void MosquittoBroker::write_config() const {
  std::string conf;
  conf += "user " + user_name() + "\n";
  conf += "listener " + std::to_string(port_) + " 127.0.0.1\n";
  conf += "allow_anonymous true\n";
  conf += "max_queued_messages 0\n";
  conf += std::string("persistence ") + (options_.persistence ? "true" : "false") + "\n";
  conf += "persistence_location " + dir().string() + "/\n";
  conf += "log_dest file " + log_path().string() + "\n";
  conf += "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n";
  conf += "connection_messages true\n";
  conf += "log_timestamp_format %H:%M:%S\n";
  for (const std::string& line : options_.extra_config) conf += line + "\n";
  file::write_atomic(dir() / "mosquitto.conf", conf);
}

bool MosquittoBroker::try_start() {
  ChildProcess::Options child;
  child.log_path = dir() / "mosquitto.stdout";
  process_ = std::make_unique<ChildProcess>(
      "mosquitto", std::vector<std::string>{"-c", (dir() / "mosquitto.conf").string()}, child);
  return wait_until([&] { return !process_->running() || accepts_connections(port_); },
                    kStartTimeout) &&
         process_->running();
}

void MosquittoBroker::start() {
  if (running()) return;
  if (!try_start()) {
    throw Error("mosquitto did not restart on 127.0.0.1:" + std::to_string(port_) + ":\n" +
                tail(log(), 2000));
  }
}

void MosquittoBroker::stop() {
  if (process_) process_->stop();
}

void MosquittoBroker::kill() {
  if (!process_) return;
  process_->kill();
  process_->wait(std::chrono::seconds(10));
}

std::string MosquittoBroker::log() const {
  std::string out;
  for (const char* name : {"mosquitto.stdout", "mosquitto.log"}) {
    if (std::filesystem::exists(dir() / name)) out += file::read(dir() / name);
  }
  return out;
}

}  // namespace fleetml::test
