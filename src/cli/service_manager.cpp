#include "service_manager.hpp"

#include <cstring>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

namespace runway::cli {

void notifyServiceManager(const std::string& state) {
  // Debian's libsystemd (libsystemd0 is on every Debian 12 machine: apt depends on it) rather than
  // a copy of the protocol: it handles abstract and filesystem sockets, credentials and the
  // variable's checks the same way systemd itself does.
  const int r = sd_notify(0, state.c_str());
  if (r < 0) spdlog::warn("service manager notification failed: {}", std::strerror(-r));
}

}  // namespace runway::cli
