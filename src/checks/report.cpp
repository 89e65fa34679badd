#include "runway/checks/report.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace runway::checks {

std::string_view toString(ItemStatus status) {
  switch (status) {
    case ItemStatus::Passed:
      return "passed";
    case ItemStatus::Failed:
      return "failed";
    case ItemStatus::Skipped:
      return "skipped";
  }
  return "unknown";
}

void Report::append(const Report& other) {
  items.insert(items.end(), other.items.begin(), other.items.end());
}

bool Report::passed() const {
  bool any_passed = false;
  for (const auto& item : items) {
    if (item.status == ItemStatus::Failed) return false;
    if (item.status == ItemStatus::Passed) any_passed = true;
  }
  return any_passed;
}

const CheckItem* Report::firstFailure() const {
  for (const auto& item : items) {
    if (item.status == ItemStatus::Failed) return &item;
  }
  return nullptr;
}

std::string Report::summary() const {
  const auto failed = static_cast<std::size_t>(std::count_if(
      items.begin(), items.end(), [](const CheckItem& i) { return i.status == ItemStatus::Failed; }));
  const auto skipped = static_cast<std::size_t>(std::count_if(
      items.begin(), items.end(),
      [](const CheckItem& i) { return i.status == ItemStatus::Skipped; }));
  if (const auto* first = firstFailure()) {
    std::string line = fmt::format("{} {}: {}", first->category, first->name, first->reason);
    if (failed > 1) line += fmt::format("; and {} more failed", failed - 1);
    return line;
  }
  if (!passed()) {
    return items.empty() ? std::string("nothing was checked")
                         : fmt::format("nothing passed ({} skipped)", skipped);
  }
  std::string line = fmt::format("passed ({} check{})", items.size() - skipped,
                                 items.size() - skipped == 1 ? "" : "s");
  if (skipped > 0) line += fmt::format(", {} skipped", skipped);
  return line;
}

std::string Report::toJson() const {
  boost::json::object out;
  out["title"] = title;
  out["passed"] = passed();
  out["summary"] = summary();
  boost::json::array list;
  for (const auto& item : items) {
    boost::json::object o;
    o["category"] = item.category;
    o["name"] = item.name;
    o["status"] = std::string(toString(item.status));
    o["reason"] = item.reason;
    o["duration_ms"] = item.duration_ms;
    list.push_back(std::move(o));
  }
  out["items"] = std::move(list);
  return boost::json::serialize(out);
}

std::string Report::toTable() const {
  std::size_t category_width = 8;
  std::size_t name_width = 4;
  for (const auto& item : items) {
    category_width = std::max(category_width, item.category.size());
    name_width = std::max(name_width, item.name.size());
  }
  std::string out;
  if (!title.empty()) out += title + "\n";
  out += fmt::format("{:<8} {:<{}} {:<{}} {}\n", "STATUS", "CATEGORY", category_width, "NAME",
                     name_width, "REASON");
  for (const auto& item : items) {
    out += fmt::format("{:<8} {:<{}} {:<{}} {}\n", toString(item.status), item.category,
                       category_width, item.name, name_width, item.reason);
  }
  out += (passed() ? "PASSED: " : "FAILED: ") + summary() + "\n";
  return out;
}

Result<void> recordReport(const std::filesystem::path& data_dir, std::string_view environment,
                          const Report& report, TimePoint at) {
  const auto dir = data_dir / "checks";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::Internal, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  boost::json::object line;
  line["at"] = formatTimestamp(at);
  line["environment"] = std::string(environment);
  line["report"] = boost::json::parse(report.toJson());
  const auto text = boost::json::serialize(line) + "\n";
  const auto path = dir / "results.jsonl";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(ErrorCode::Internal, fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  }
  // One write() per line: concurrent writers with O_APPEND do not interleave lines.
  const auto written = ::write(fd, text.data(), text.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(text.size())) {
    return fail(ErrorCode::Internal, fmt::format("cannot write {}", path.string()));
  }
  return {};
}

}  // namespace runway::checks
