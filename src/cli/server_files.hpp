#pragma once

// The files `runway serve` keeps in its data directory so that other commands (down, the API
// client, a restarted server) find what runs:
//   DATA/serve.lock         flock held by the running server (one server per data directory)
//   DATA/server.json        {"pid": N, "url": "http://127.0.0.1:7400"} while it serves
//   DATA/admin.token        the bootstrap admin token (0600)
//   DATA/router/admin.sock  the router's admin socket; DATA/router/router.pid its identity

#include <filesystem>
#include <optional>
#include <string>

#include "runway/core/error.hpp"
#include "runway/runtime/process.hpp"

namespace runway::cli {

std::filesystem::path routerSocket(const std::filesystem::path& data);

// Path of the running executable (/proc/self/exe).
std::string selfExecutable();

Result<void> writeRouterPid(const std::filesystem::path& data, const runtime::ProcessIdentity& id);
Result<runtime::ProcessIdentity> readRouterPid(const std::filesystem::path& data);

// Takes DATA/serve.lock for the life of the process. FailedPrecondition when another server
// holds it.
Result<int> lockDataDir(const std::filesystem::path& data);
// Whether a server holds the lock now (without taking it).
bool dataDirLocked(const std::filesystem::path& data);

struct ServerFile {
  int pid = 0;
  std::string url;
};
Result<void> writeServerFile(const std::filesystem::path& data, const ServerFile& file);
Result<ServerFile> readServerFile(const std::filesystem::path& data);
void removeServerFile(const std::filesystem::path& data);

}  // namespace runway::cli
