#include "server_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "runway/runtime/records.hpp"

namespace runway::cli {

namespace fs = std::filesystem;
namespace json = boost::json;

fs::path routerSocket(const fs::path& data) { return data / "router" / "admin.sock"; }

std::string selfExecutable() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("runway") : p.string();
}

Result<void> writeRouterPid(const fs::path& data, const runtime::ProcessIdentity& id) {
  json::object o{{"pid", id.pid}, {"pgid", id.pgid}, {"startTicks", id.start_ticks}};
  return runtime::writeFileAtomically(data / "router" / "router.pid", json::serialize(o));
}

Result<runtime::ProcessIdentity> readRouterPid(const fs::path& data) {
  auto text = runtime::readWholeFile(data / "router" / "router.pid");
  if (!text) return fail(text.error());
  json::error_code ec;
  auto v = json::parse(*text, ec);
  if (ec || !v.is_object()) return fail(ErrorCode::InvalidArgument, "router.pid is not JSON");
  runtime::ProcessIdentity id;
  try {
    id.pid = static_cast<int>(v.at("pid").to_number<std::int64_t>());
    id.pgid = static_cast<int>(v.at("pgid").to_number<std::int64_t>());
    id.start_ticks = v.at("startTicks").to_number<std::uint64_t>();
  } catch (const std::exception&) {
    return fail(ErrorCode::InvalidArgument, "router.pid is malformed");
  }
  return id;
}

Result<int> lockDataDir(const fs::path& data) {
  const auto path = data / "serve.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail(ErrorCode::Unavailable, "cannot open " + path.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return fail(ErrorCode::FailedPrecondition,
                "another runway serve is running on " + data.string() + " (it holds " + path.string() + ")");
  }
  return fd;  // held until the process exits
}

bool dataDirLocked(const fs::path& data) {
  const auto path = data / "serve.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  const bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return locked;
}

Result<void> writeServerFile(const fs::path& data, const ServerFile& file) {
  json::object o{{"pid", file.pid}, {"url", file.url}};
  return runtime::writeFileAtomically(data / "server.json", json::serialize(o));
}

Result<ServerFile> readServerFile(const fs::path& data) {
  auto text = runtime::readWholeFile(data / "server.json");
  if (!text) return fail(text.error());
  json::error_code ec;
  auto v = json::parse(*text, ec);
  if (ec || !v.is_object()) return fail(ErrorCode::InvalidArgument, "server.json is not JSON");
  ServerFile f;
  const auto& o = v.get_object();
  if (const auto* p = o.if_contains("pid"); p != nullptr && p->is_int64()) f.pid = static_cast<int>(p->get_int64());
  if (const auto* u = o.if_contains("url"); u != nullptr && u->is_string()) f.url = std::string(u->get_string());
  if (f.url.empty()) return fail(ErrorCode::InvalidArgument, "server.json has no url");
  return f;
}

void removeServerFile(const fs::path& data) {
  std::error_code ec;
  fs::remove(data / "server.json", ec);
}

}  // namespace runway::cli
