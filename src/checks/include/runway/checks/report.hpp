#pragma once

// What a check run reports: one item per thing checked, each passed, failed or skipped with a
// reason. Nothing is reported as passed that was not checked; an item that could not be
// checked is Skipped with the reason, and a Skipped item never makes a report pass on its own
// behalf (it does not fail it either).

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"

namespace runway::checks {

enum class ItemStatus { Passed, Failed, Skipped };
std::string_view toString(ItemStatus status);

struct CheckItem {
  std::string category;  // "health", "dependency", "smoke", "preflight", "perf", "hook", ...
  std::string name;      // "api/v2#0", "database", "critical/leads", ...
  ItemStatus status = ItemStatus::Skipped;
  std::string reason;    // why it failed or was skipped; what was seen when it passed
  double duration_ms = 0;
};

struct Report {
  std::string title;  // "health comprehensive prod", "smoke critical prod v2", ...
  std::vector<CheckItem> items;

  void add(CheckItem item) { items.push_back(std::move(item)); }
  void append(const Report& other);
  // True when no item failed and at least one item passed.
  bool passed() const;
  // The first failed item, or nullptr.
  const CheckItem* firstFailure() const;
  // One line: "passed (N checks)" or "<category> <name>: <reason>" of the first failure
  // (plus "; and K more" when there are more).
  std::string summary() const;
  // {"title":..., "passed":bool, "items":[{"category","name","status","reason","duration_ms"}]}
  std::string toJson() const;
  // A fixed-width table for people: STATUS CATEGORY NAME REASON, then the summary line.
  std::string toTable() const;
};

// Keeps a report for later (reports, audits): appends {"at", "environment", "report"} as one
// line to DATA/checks/results.jsonl (created 0600 in a 0700 directory).
Result<void> recordReport(const std::filesystem::path& data_dir, std::string_view environment,
                          const Report& report, TimePoint at);

}  // namespace runway::checks
