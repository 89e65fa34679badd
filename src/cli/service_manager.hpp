#pragma once

// The server's state for the service manager that started it: systemd's notification protocol
// (sd_notify(3), the datagram socket named by $NOTIFY_SOCKET), as runway.service (Type=notify)
// expects it: READY=1 once the API listens, RELOADING=1 ... READY=1 around a SIGHUP reload,
// STOPPING=1 on SIGTERM, STATUS=... for `systemctl status`.

#include <string>

namespace runway::cli {

// Sends STATE (newline-separated KEY=VALUE assignments) to $NOTIFY_SOCKET. Without the variable
// (not started by a service manager) it does nothing; a failed send is logged as a warning and
// never stops the server.
void notifyServiceManager(const std::string& state);

}  // namespace runway::cli
