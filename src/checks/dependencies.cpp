#include "dependencies.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "command.hpp"
#include "http.hpp"

namespace runway::checks {
namespace {

// Connects to host:port within `timeout`; "" on success, else why not.
std::string tcpConnect(const std::string& host, int port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const auto service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return fmt::format("cannot resolve {}: {}", host, ::gai_strerror(rc));
  }
  std::string reason = "no address";
  for (auto* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (rc == 0) {
        reason = fmt::format("no connection within {}ms", timeout.count());
        ::close(fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) {
      ::close(fd);
      ::freeaddrinfo(found);
      return "";
    }
    reason = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return reason;
}

}  // namespace

Report checkDependencies(const config::Environment& env) {
  Report report;
  if (env.dependencies.empty()) {
    report.add({"dependency", env.name, ItemStatus::Skipped,
                "the environment declares no dependencies", 0});
    return report;
  }
  for (const auto& dep : env.dependencies) {
    const auto start = std::chrono::steady_clock::now();
    CheckItem item{"dependency", dep.name, ItemStatus::Failed, "", 0};
    switch (dep.kind) {
      case config::Dependency::Kind::Http: {
        auto response = http::send(detail::checkRequest("GET", dep.url, dep.timeout));
        if (!response) {
          item.reason = response.error().message;
        } else if (dep.expect_status != 0 ? response->status != dep.expect_status
                                          : !detail::isSuccess(response->status)) {
          item.reason = fmt::format("GET {} -> {}, expected {}", dep.url, response->status,
                                    dep.expect_status != 0 ? std::to_string(dep.expect_status)
                                                           : std::string("2xx"));
        } else {
          item.status = ItemStatus::Passed;
          item.reason = fmt::format("GET {} -> {}", dep.url, response->status);
        }
        break;
      }
      case config::Dependency::Kind::Tcp: {
        const auto why = tcpConnect(dep.host, dep.port, dep.timeout);
        if (why.empty()) {
          item.status = ItemStatus::Passed;
          item.reason = fmt::format("tcp {}:{} accepts connections", dep.host, dep.port);
        } else {
          item.reason = fmt::format("tcp {}:{}: {}", dep.host, dep.port, why);
        }
        break;
      }
      case config::Dependency::Kind::Command: {
        auto result = detail::runCommand(dep.command, {}, "", dep.timeout, 4096);
        if (!result) {
          item.reason = result.error().message;
        } else if (result->timed_out) {
          item.reason = fmt::format("{} timed out after {}ms", dep.command.front(),
                                    dep.timeout.count());
        } else {
          std::string out = result->output;
          while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
          if (const auto nl = out.rfind('\n'); nl != std::string::npos) out = out.substr(nl + 1);
          item.status = result->exit_code == 0 ? ItemStatus::Passed : ItemStatus::Failed;
          item.reason = fmt::format("{} {}{}", dep.command.front(), result->describe(),
                                    out.empty() ? "" : ": " + out);
        }
        break;
      }
    }
    item.duration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    report.add(std::move(item));
  }
  return report;
}

}  // namespace runway::checks
