#pragma once

// Hooks at lifecycle points (preDeploy, postDeploy, preRollback, postRollback, onAbort) and the
// backup hook. A hook is a command or an HTTP call with a timeout and retries; its captured
// output is returned so the caller keeps it with the deployment; its failure policy says what
// the deployment does next. Blocking; call off any strand.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runway/checks/report.hpp"
#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::checks {

struct HookContext {
  std::string environment;
  std::string version;
  std::map<std::string, std::string> env;  // added to the command's environment
};

struct HookRun {
  std::string name;
  bool ok = false;
  int attempts = 0;
  std::string output;  // the last attempt's output (command: stdout+stderr; http: the body)
  std::string reason;  // "exited with status 1", "POST http://... -> 500", "timed out after 5s"
  config::Hook::OnFailure on_failure = config::Hook::OnFailure::Fail;
  double duration_ms = 0;
};

// Runs one hook with its retries (retry_delay apart). The command's environment is runway's
// base (core/child_environment.hpp: PATH, HOME, LANG, LC_ALL, TZ, TMPDIR) plus the hook's
// variables, RUNWAY_ENVIRONMENT, RUNWAY_VERSION, RUNWAY_HOOK and the context's variables;
// nothing else of runway's environment.
HookRun runHook(const config::Hook& hook, const HookContext& context);

struct HookOutcome {
  enum class Decision { Continue, Fail, Rollback };
  Decision decision = Decision::Continue;
  std::vector<HookRun> runs;
  Report report;
};

// Runs the hooks of `point` in order, each with the environment's declared `secrets` (those set
// in runway's environment) added to the context's variables. The first failed hook whose policy
// is fail or rollback stops the list and decides; failed hooks with policy continue are reported
// and skipped over.
HookOutcome runHooks(const config::Environment& env, config::HookPoint point,
                     const HookContext& context);

struct BackupFile {
  std::string path;
  std::uintmax_t bytes = 0;
  TimePoint taken{};  // from the UTC timestamp in its name (ENV-20261207T120000000Z.dump)
};

// Where the restore test of a backup is recorded: "<backup file>.restore-test", given to the
// backup hook as RUNWAY_RESTORE_TEST_FILE. Whoever tests restoring the backup (the hook itself
// after writing it, or a restore job later) writes one line there: "passed", or "failed" or
// "failed: why". Retention removes it with its backup.
std::string restoreTestFile(const std::string& backup_path);

struct RestoreTest {
  bool passed = false;
  std::string detail;  // what followed "passed"/"failed:" on the line
};
// The restore test recorded for a backup: nullopt when none was; InvalidArgument naming the file
// when its first line is neither "passed" nor "failed…".
Result<std::optional<RestoreTest>> readRestoreTest(const std::string& backup_path);

struct BackupResult {
  HookRun run;
  std::string file;                  // the file this run wrote
  std::vector<BackupFile> kept;      // newest first, after retention
  std::vector<std::string> removed;  // deleted by retention
};

// The directory backups of `env` go to: its backup.directory, or DATA/backups/ENV.
std::filesystem::path backupDirectory(const config::Environment& env,
                                      const std::filesystem::path& data_dir);
// The backups in that directory (files named ENV-*SUFFIX), newest first.
std::vector<BackupFile> listBackups(const config::Environment& env,
                                    const std::filesystem::path& data_dir);

// Runs the environment's backup hook now (with the environment's declared secrets, as
// runHooks) with RUNWAY_BACKUP_FILE set to a new file
// (DIR/ENV-<UTC timestamp>SUFFIX) and RUNWAY_RESTORE_TEST_FILE to its restoreTestFile(), checks
// that the hook wrote the backup (non-empty), then keeps the newest `keep` backups (and their
// restore tests). Errors: FailedPrecondition (no backup hook configured), Internal (the
// directory cannot be created). A failed hook or an empty file is a result with run.ok false
// (the partial file is removed).
Result<BackupResult> runBackup(const config::Environment& env,
                               const std::filesystem::path& data_dir, const std::string& version,
                               Clock& clock);

}  // namespace runway::checks
