#pragma once

// Pre-flight (the runbook's pre-flight-check.sh ENV basic|comprehensive): before anything
// moves, every item reports pass, fail, or skipped with the reason it could not be checked.
//
//   basic          configuration valid; runtime reachable (the data directory the server
//                  uses); artifacts exist (each service's local command is present and
//                  executable; with a version, each service image's tag exists in its
//                  registry); required environment variables and secret files present;
//                  inside a change window and outside freezes.
//   comprehensive  basic + capacity (free memory and CPU against what the services declare
//                  for one more version), the metrics provider answering, current health
//                  (basic) and the declared dependencies.
//
// Blocking (HTTP, commands, /proc); call off any strand.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "runway/checks/report.hpp"
#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/runtime/runtime.hpp"

namespace runway::checks {

enum class PreflightLevel { Basic, Comprehensive };
Result<PreflightLevel> parsePreflightLevel(std::string_view text);

struct PreflightRequest {
  const config::Config* config = nullptr;  // REQUIRES: not null
  std::string environment;
  std::string version;  // the version about to be deployed; "" = image tags not checked
  PreflightLevel level = PreflightLevel::Basic;
  std::filesystem::path data_dir;  // the server's data directory
  // Directories searched for a bare local command before $PATH (the runtime adds the
  // directory of the running runway binary); empty = that default.
  std::vector<std::filesystem::path> extra_path;
};

// Errors: NotFound (unknown environment). Everything else is an item.
Result<Report> runPreflight(const PreflightRequest& request, runtime::Runtime& runtime,
                            Clock& clock);

}  // namespace runway::checks
