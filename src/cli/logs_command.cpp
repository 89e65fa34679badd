// `runway logs ENV SERVICE`: the log files of a local server's service instances (stdout and
// stderr of each instance, written by the local runtime under DATA/logs/ENV/SERVICE/
// VERSION-INDEX.log and rotated by copy-and-truncate to VERSION-INDEX.log.1, .2, ...).

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "client.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace runway::cli {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

struct LogFile {
  std::string version;
  long long index = 0;
  fs::path path;
  std::uintmax_t offset = 0;  // bytes printed so far (-f)
  ino_t inode = 0;
  std::string partial;  // a line not yet ended by '\n' (-f)
};

// Bytes [from, end) of `path`; nullopt when it cannot be opened.
std::optional<std::string> readFrom(const fs::path& path, std::uintmax_t from) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  in.seekg(static_cast<std::streamoff>(from));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return data;
}

ino_t inodeOf(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

// The files in DATA/logs/ENV/SERVICE (not the rotated copies), for a server that is not running
// or a version that no longer has instances.
std::vector<LogFile> scanDirectory(const fs::path& dir) {
  std::vector<LogFile> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 5 || name.substr(name.size() - 4) != ".log") continue;
    const std::string stem = name.substr(0, name.size() - 4);
    const auto dash = stem.rfind('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == stem.size()) continue;
    const std::string idx = stem.substr(dash + 1);
    if (!std::all_of(idx.begin(), idx.end(), [](char c) { return c >= '0' && c <= '9'; }) || idx.size() > 9) continue;
    files.push_back(LogFile{stem.substr(0, dash), std::stoll(idx), entry.path(), 0, 0, {}});
  }
  std::sort(files.begin(), files.end(), [](const LogFile& a, const LogFile& b) {
    return a.version != b.version ? a.version < b.version : a.index < b.index;
  });
  return files;
}

// Prints the complete lines of `data` (the file's text from its offset), each with `prefix`;
// keeps an unterminated last line in `partial` unless `flush`.
void printLines(LogFile& f, const std::string& data, const std::string& prefix, bool flush) {
  std::string text = f.partial + data;
  f.partial.clear();
  std::size_t pos = 0;
  std::string out;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      if (flush) {
        out += prefix + text.substr(pos) + "\n";
      } else {
        f.partial = text.substr(pos);
      }
      break;
    }
    out += prefix + text.substr(pos, nl - pos + 1);
    pos = nl + 1;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

// The last `n` lines of `data` (0: none).
std::string lastLines(const std::string& data, std::size_t n) {
  if (n == 0 || data.empty()) return "";
  std::size_t end = data.size();
  if (data.back() == '\n') --end;
  std::size_t count = 0;
  std::size_t pos = end;
  while (pos > 0) {
    if (data[pos - 1] == '\n' && ++count == n) break;
    --pos;
  }
  return data.substr(pos);
}

// Kubernetes: the pods' logs through the server (GET .../services/SERVICE/logs), read once or
// followed as server-sent events; lines of several pods are prefixed with [POD].
int showPodLogs(ApiClient& client, const json::value& view, const std::string& env, const std::string& service,
                const std::string& version, std::optional<long long> instance, std::size_t tail, bool follow) {
  std::string path = fmt::format("/api/v1/environments/{}/services/{}/logs?tail={}", env, service, tail);
  if (!version.empty()) path += "&version=" + version;
  std::size_t pods = 0;  // how many the request will read (for the prefix)
  std::string pod;
  const auto& services = member(view, "services");
  if (services.is_array()) {
    for (const auto& s : services.get_array()) {
      if (text(s, "name") != service || !member(s, "instances").is_array()) continue;
      for (const auto& i : member(s, "instances").get_array()) {
        if (!version.empty() && text(i, "version") != version) continue;
        if (instance && integer(i, "index") != *instance) continue;
        ++pods;
        if (instance) pod = text(i, "pod");
      }
    }
  }
  if (instance) {
    if (pod.empty()) {
      fmt::print(stderr, "runway: {} has no instance {} in {}{}\n", service, *instance, env,
                 version.empty() ? "" : " for version " + version);
      return kExitFailed;
    }
    path += "&instance=" + pod;
  }
  bool failed = false;
  if (!follow) {
    auto out = client.get(path);
    if (!out) return reportError(out.error());
    const auto& read = member(*out, "instances");
    const bool prefixed = read.is_array() && read.get_array().size() > 1;
    std::string text_out;
    for (const auto& i : read.is_array() ? read.get_array() : json::array{}) {
      const std::string prefix = prefixed ? "[" + text(i, "instance") + "] " : "";
      if (const auto& e = member(i, "error"); e.is_object()) {
        fmt::print(stderr, "runway: {}\n", text(e, "message"));
        failed = true;
      }
      const auto& lines = member(i, "lines");
      if (!lines.is_array()) continue;
      for (const auto& line : lines.get_array()) {
        if (line.is_string()) text_out += prefix + std::string(line.get_string()) + "\n";
      }
    }
    std::fwrite(text_out.data(), 1, text_out.size(), stdout);
    std::fflush(stdout);
    return failed ? kExitFailed : kExitOk;
  }
  InterruptGuard guard;
  const bool prefixed = pods != 1;
  auto streamed = client.stream(
      path + "&follow=true",
      [&](const SseMessage& m) {
        json::error_code ec;
        const auto data = json::parse(m.data, ec);
        if (ec) return true;
        if (m.type == "log") {
          const std::string line = (prefixed ? "[" + text(data, "instance") + "] " : "") + text(data, "line") + "\n";
          std::fwrite(line.data(), 1, line.size(), stdout);
          std::fflush(stdout);
        } else if (m.type == "error") {
          fmt::print(stderr, "runway: {}\n", text(data, "message"));
          failed = true;
        } else if (m.type == "dropped") {
          fmt::print(stderr, "runway: {} line(s) dropped: the server kept only the latest\n", integer(data, "lines"));
        }
        return true;
      },
      [] { return !InterruptGuard::interrupted(); });
  if (!streamed) return reportError(streamed.error());
  return failed ? kExitFailed : kExitOk;
}

int showLogs(ApiClient& client, const ClientFlags& flags, const std::string& env, const std::string& service,
             const std::string& version, std::optional<long long> instance, std::size_t tail, bool follow) {
  std::vector<LogFile> files;
  auto view = client.get("/api/v1/environments/" + env);
  if (view && text(*view, "runtime") == "kubernetes") {
    return showPodLogs(client, *view, env, service, version, instance, tail, follow);
  }
  bool known_service = false;
  if (view) {
    const auto& services = member(*view, "services");
    if (services.is_array()) {
      for (const auto& s : services.get_array()) {
        if (text(s, "name") != service) continue;
        known_service = true;
        const auto& instances = member(s, "instances");
        if (!instances.is_array()) continue;
        for (const auto& i : instances.get_array()) {
          if (!version.empty() && text(i, "version") != version) continue;
          if (instance && integer(i, "index") != *instance) continue;
          if (text(i, "logPath").empty()) continue;
          files.push_back(LogFile{text(i, "version"), integer(i, "index"), text(i, "logPath"), 0, 0, {}});
        }
      }
    }
    if (!known_service) {
      fmt::print(stderr, "runway: environment {} has no service \"{}\"\n", env, service);
      return kExitUsage;
    }
  } else if (view.error().code != ErrorCode::Unavailable) {
    return reportError(view.error());
  }
  if (files.empty()) {
    // Not running (or no instance of that version any more): the files the runtime left behind.
    const fs::path data = flags.data.empty() ? fs::path(defaultDataDir()) : fs::path(flags.data);
    const fs::path dir = data / "logs" / env / service;
    for (auto& f : scanDirectory(dir)) {
      if (!version.empty() && f.version != version) continue;
      if (instance && f.index != *instance) continue;
      files.push_back(std::move(f));
    }
    if (files.empty()) {
      fmt::print(stderr, "runway: no logs of {} in {}{}{} (looked for running instances{} and in {})\n", service, env,
                 version.empty() ? "" : " for version " + version,
                 instance ? fmt::format(" instance {}", *instance) : "",
                 view ? "" : fmt::format(" — the server could not be reached: {}", view.error().message),
                 dir.string());
      return kExitFailed;
    }
    if (!view) fmt::print(stderr, "runway: server not reachable ({}); showing the log files in {}\n",
                          view.error().message, dir.string());
  }

  const bool prefixed = files.size() > 1;
  auto prefixOf = [&](const LogFile& f) {
    return prefixed ? fmt::format("[{} {}#{}] ", service, f.version, f.index) : std::string();
  };
  for (auto& f : files) {
    auto data = readFrom(f.path, 0);
    if (!data) {
      fmt::print(stderr, "runway: cannot read {}\n", f.path.string());
      if (!follow) return kExitFailed;
      continue;
    }
    f.offset = data->size();
    f.inode = inodeOf(f.path);
    printLines(f, lastLines(*data, tail), prefixOf(f), !follow);
  }
  std::fflush(stdout);
  if (!follow) return kExitOk;

  InterruptGuard guard;
  while (sleepUnlessInterrupted(Duration{250})) {
    for (auto& f : files) {
      std::error_code ec;
      const auto size = fs::file_size(f.path, ec);
      if (ec) continue;  // between a rotation's steps, or removed: look again next time
      const ino_t inode = inodeOf(f.path);
      if (size < f.offset || (f.inode != 0 && inode != f.inode)) {
        // Rotated (copied to .1 and truncated, or replaced): first what was appended before the
        // copy, then the new file from its start.
        const fs::path rotated = f.path.string() + ".1";
        if (inode == f.inode && fs::file_size(rotated, ec) > f.offset && !ec) {
          if (auto rest = readFrom(rotated, f.offset)) printLines(f, *rest, prefixOf(f), false);
        }
        f.offset = 0;
        f.inode = inode;
      }
      if (size > f.offset) {
        auto data = readFrom(f.path, f.offset);
        if (!data) continue;
        f.offset += data->size();
        printLines(f, *data, prefixOf(f), false);
      }
    }
    std::fflush(stdout);
  }
  for (auto& f : files) {
    if (!f.partial.empty()) printLines(f, "", prefixOf(f), true);
  }
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

void addLogsCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("logs", "Print the output of SERVICE's instances in ENV (log files, or Kubernetes pods' logs)");
  cmd->footer(
      "Local runtime: the instances come from the server (GET /api/v1/environments/ENV, their logPath); when the "
      "server is not reachable, or no running instance matches --version/--instance, the files under "
      "DATA/logs/ENV/SERVICE/ are read instead. Lines are prefixed with [SERVICE VERSION#INDEX] when more than one "
      "file is printed.\n"
      "Kubernetes: the server reads the pods' log API (GET /api/v1/environments/ENV/services/SERVICE/logs); -f "
      "follows the pods running when it starts. Lines are prefixed with [POD] when more than one pod is read.\n"
      "Exit codes: 0 ok (-f: ended by Ctrl-C, or every pod's log ended); 1 no log file found or unreadable (a pod's "
      "log the cluster cannot serve); 2 usage or unknown service; "
      "3 token refused.");
  auto flags = addClientFlags(cmd);
  struct Opts {
    std::string env, service, version;
    long long instance = -1;
    std::size_t tail = 100;
    bool follow = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("ENV", o->env, "Environment")->required();
  cmd->add_option("SERVICE", o->service, "Service")->required();
  cmd->add_option("--version", o->version, "Only this version's instances (default: every running instance)");
  auto* instance_opt =
      cmd->add_option("--instance", o->instance, "Only the instance with this index")->check(CLI::NonNegativeNumber);
  cmd->add_option("-n,--tail", o->tail, "How many of the last lines of each file to print (default 100)");
  cmd->add_flag("-f,--follow", o->follow,
                "Keep printing what is appended (polled every 250 ms; follows rotation) until Ctrl-C");
  cmd->callback([&ctx, flags, o, instance_opt] {
    for (const auto* name : {&o->env, &o->service}) {
      if (!validName(*name)) {
        fmt::print(stderr, "runway: \"{}\" is not a valid name (letters, digits, '-', '_', '.')\n", *name);
        ctx.exit_code = kExitUsage;
        return;
      }
    }
    if (!o->version.empty() && !validName(o->version)) {
      fmt::print(stderr, "runway: \"{}\" is not a valid version\n", o->version);
      ctx.exit_code = kExitUsage;
      return;
    }
    auto settings = resolveClient(*flags);
    if (!settings) {
      ctx.exit_code = reportError(settings.error());
      return;
    }
    ApiClient client(*settings);
    std::optional<long long> instance;
    if (instance_opt->count() > 0) instance = o->instance;
    ctx.exit_code = showLogs(client, *flags, o->env, o->service, o->version, instance, o->tail, o->follow);
  });
}

}  // namespace runway::cli
