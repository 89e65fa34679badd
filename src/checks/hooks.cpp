#include "runway/checks/hooks.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "command.hpp"
#include "http.hpp"

namespace runway::checks {
namespace {

namespace fs = std::filesystem;

HookRun attempt(const config::Hook& hook, const HookContext& context) {
  HookRun run;
  run.name = hook.name;
  run.on_failure = hook.on_failure;
  if (hook.kind == config::Hook::Kind::Command) {
    std::map<std::string, std::string> env = hook.env;
    env["RUNWAY_ENVIRONMENT"] = context.environment;
    env["RUNWAY_VERSION"] = context.version;
    env["RUNWAY_HOOK"] = hook.name;
    for (const auto& [k, v] : context.env) env[k] = v;
    auto result = detail::runCommand(hook.command, env, hook.base_dir, hook.timeout);
    if (!result) {
      run.reason = result.error().message;
      return run;
    }
    run.output = result->output;
    run.ok = !result->timed_out && result->exit_code == 0;
    run.reason = result->timed_out ? fmt::format("timed out after {}ms", hook.timeout.count())
                                   : fmt::format("{} {}", hook.command.front(), result->describe());
    return run;
  }
  auto request = detail::checkRequest(hook.method, hook.url, hook.timeout);
  request.body = hook.body;
  for (const auto& [k, v] : hook.headers) request.headers[k] = v;
  request.headers["X-Runway-Environment"] = context.environment;
  request.headers["X-Runway-Version"] = context.version;
  auto response = http::send(request);
  if (!response) {
    run.reason = response.error().message;
    return run;
  }
  run.output = response->body;
  run.ok = detail::isSuccess(response->status);
  run.reason = fmt::format("{} {} -> {}", hook.method, hook.url, response->status);
  return run;
}

// The context plus the environment's declared secrets, taken from runway's environment (those
// set there): the only variables of runway's own that a hook command sees.
HookContext withSecrets(const config::Environment& env, HookContext context) {
  for (const auto& name : env.secrets) {
    if (const char* value = std::getenv(name.c_str()); value != nullptr) context.env[name] = value;
  }
  return context;
}

std::string utcStamp(TimePoint t) {
  const auto ms = t.time_since_epoch().count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%S", &tm);
  return fmt::format("{}{:03d}Z", buffer, static_cast<int>(ms % 1000));
}

// The time utcStamp() wrote ("20261207T120000123Z"), or nullopt.
std::optional<TimePoint> parseUtcStamp(std::string_view stamp) {
  if (stamp.size() != 19 || stamp[8] != 'T' || stamp[18] != 'Z') return std::nullopt;
  const std::string iso = fmt::format("{}-{}-{}T{}:{}:{}.{}Z", stamp.substr(0, 4), stamp.substr(4, 2), stamp.substr(6, 2),
                                      stamp.substr(9, 2), stamp.substr(11, 2), stamp.substr(13, 2), stamp.substr(15, 3));
  auto t = parseTimestamp(iso);
  if (!t) return std::nullopt;
  return *t;
}

}  // namespace

std::string restoreTestFile(const std::string& backup_path) { return backup_path + ".restore-test"; }

Result<std::optional<RestoreTest>> readRestoreTest(const std::string& backup_path) {
  const std::string file = restoreTestFile(backup_path);
  std::ifstream in(file);
  if (!in) return std::optional<RestoreTest>{};
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  const auto detail = [&](std::size_t from) {
    std::string rest = line.substr(std::min(from, line.size()));
    const auto b = rest.find_first_not_of(": ");
    return b == std::string::npos ? std::string() : rest.substr(b);
  };
  if (line.rfind("passed", 0) == 0) return std::optional<RestoreTest>{RestoreTest{true, detail(6)}};
  if (line.rfind("failed", 0) == 0) return std::optional<RestoreTest>{RestoreTest{false, detail(6)}};
  return fail(ErrorCode::InvalidArgument,
              fmt::format("{}: the first line is \"{}\", not \"passed\" or \"failed: why\"", file, line));
}

HookRun runHook(const config::Hook& hook, const HookContext& context) {
  const auto start = std::chrono::steady_clock::now();
  HookRun run;
  for (int i = 0; i <= hook.retries; ++i) {
    if (i > 0) std::this_thread::sleep_for(hook.retry_delay);
    run = attempt(hook, context);
    run.attempts = i + 1;
    if (run.ok) break;
  }
  run.duration_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return run;
}

HookOutcome runHooks(const config::Environment& env, config::HookPoint point,
                     const HookContext& given) {
  const HookContext context = withSecrets(env, given);
  HookOutcome outcome;
  outcome.report.title = fmt::format("hooks {} {}", config::toString(point), env.name);
  for (const auto& hook : env.hooks.at(point)) {
    auto run = runHook(hook, context);
    outcome.report.add({"hook", fmt::format("{} {}", config::toString(point), run.name),
                        run.ok ? ItemStatus::Passed : ItemStatus::Failed,
                        fmt::format("{} (attempt {}, onFailure {})", run.reason, run.attempts,
                                    config::toString(hook.on_failure)),
                        run.duration_ms});
    const bool ok = run.ok;
    outcome.runs.push_back(std::move(run));
    if (ok || hook.on_failure == config::Hook::OnFailure::Continue) continue;
    outcome.decision = hook.on_failure == config::Hook::OnFailure::Rollback
                           ? HookOutcome::Decision::Rollback
                           : HookOutcome::Decision::Fail;
    break;
  }
  return outcome;
}

fs::path backupDirectory(const config::Environment& env, const fs::path& data_dir) {
  if (env.backup && !env.backup->directory.empty()) return env.backup->directory;
  return data_dir / "backups" / env.name;
}

std::vector<BackupFile> listBackups(const config::Environment& env, const fs::path& data_dir) {
  std::vector<BackupFile> out;
  const auto dir = backupDirectory(env, data_dir);
  const std::string suffix = env.backup ? env.backup->suffix : std::string(".dump");
  const std::string prefix = env.name + "-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (!entry.is_regular_file() || !name.starts_with(prefix) || !name.ends_with(suffix)) continue;
    BackupFile file;
    file.path = entry.path().string();
    file.bytes = entry.file_size(ec);
    const auto stamp = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (auto t = parseUtcStamp(stamp)) file.taken = *t;
    out.push_back(file);
  }
  // The names carry a sortable UTC timestamp: newest first.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path > b.path; });
  return out;
}

Result<BackupResult> runBackup(const config::Environment& env, const fs::path& data_dir,
                               const std::string& version, Clock& clock) {
  if (!env.backup) {
    return fail(ErrorCode::FailedPrecondition,
                fmt::format("environment \"{}\" has no backup hook (spec.backup)", env.name));
  }
  const auto dir = backupDirectory(env, data_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return fail(ErrorCode::Internal,
                fmt::format("cannot create backup directory {}: {}", dir.string(), ec.message()));
  }
  BackupResult result;
  result.file = (dir / fmt::format("{}-{}{}", env.name, utcStamp(clock.now()), env.backup->suffix))
                    .string();
  const HookContext context = withSecrets(
      env, HookContext{env.name, version,
                       {{"RUNWAY_BACKUP_FILE", result.file}, {"RUNWAY_RESTORE_TEST_FILE", restoreTestFile(result.file)}}});
  result.run = runHook(env.backup->hook, context);
  const auto size = fs::file_size(result.file, ec);
  if (result.run.ok && (ec || size == 0)) {
    result.run.ok = false;
    result.run.reason += fmt::format(", but {} was not written (empty or missing)", result.file);
  }
  if (!result.run.ok) {
    fs::remove(result.file, ec);
    fs::remove(restoreTestFile(result.file), ec);
    result.kept = listBackups(env, data_dir);
    return result;
  }
  auto all = listBackups(env, data_dir);
  for (std::size_t i = static_cast<std::size_t>(env.backup->keep); i < all.size(); ++i) {
    fs::remove(all[i].path, ec);
    if (!ec) result.removed.push_back(all[i].path);
    fs::remove(restoreTestFile(all[i].path), ec);
  }
  result.kept = listBackups(env, data_dir);
  return result;
}

}  // namespace runway::checks
