// Markdown and table renderings of the delivery report's JSON document.

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/report/delivery.hpp"

namespace runway::report {
namespace {

namespace json = boost::json;

const json::value& at(const json::value& v, std::string_view key) {
  static const json::value null;
  if (!v.is_object()) return null;
  const auto* m = v.get_object().if_contains(key);
  return m != nullptr ? *m : null;
}

std::string str(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "-";
  return json::serialize(v);
}

double num(const json::value& v) { return v.is_number() ? v.to_number<double>() : 0.0; }

// "3d 4h", "2h 5m", "40s"; "-" for null.
std::string humanDuration(const json::value& seconds) {
  if (!seconds.is_number()) return "-";
  const auto s = static_cast<long long>(num(seconds));
  if (s >= 86400) return fmt::format("{}d {}h", s / 86400, (s % 86400) / 3600);
  if (s >= 3600) return fmt::format("{}h {}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m {}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string percent(const json::value& rate) {
  return rate.is_number() ? fmt::format("{:.1f}%", num(rate) * 100) : std::string("-");
}

struct Row {
  std::string frequency, lead, failure, restore, success, rollbacks, approval, window;
};

Row rowOf(const json::value& p) {
  const auto& df = at(p, "deploymentFrequency");
  const auto& lt = at(p, "leadTime");
  const auto& cfr = at(p, "changeFailureRate");
  const auto& ttr = at(p, "timeToRestore");
  const auto& sr = at(p, "successRate");
  const auto& rb = at(p, "rollbacks");
  const auto& w = at(p, "waiting");
  Row r;
  r.frequency = fmt::format("{} ({:.2f}/day, {})", str(at(df, "deployments")), num(at(df, "perDay")),
                            str(at(df, "band")));
  r.lead = fmt::format("{} ({})", humanDuration(at(lt, "medianSeconds")), str(at(lt, "band")));
  r.failure = fmt::format("{} of {} = {} ({})", str(at(cfr, "failed")), str(at(cfr, "changes")),
                          percent(at(cfr, "rate")), str(at(cfr, "band")));
  r.restore = fmt::format("{} ({})", humanDuration(at(ttr, "medianSeconds")), str(at(ttr, "band")));
  if (num(at(ttr, "unrestored")) > 0) r.restore += fmt::format(", {} not yet", str(at(ttr, "unrestored")));
  r.success = fmt::format("{} of {} = {}", str(at(sr, "succeeded")), str(at(sr, "ended")), percent(at(sr, "rate")));
  r.rollbacks = fmt::format("{} auto, {} manual", str(at(rb, "automatic")), str(at(rb, "manual")));
  r.approval = fmt::format("{} in {}", humanDuration(at(w, "approvalSeconds")), str(at(w, "approvalWaits")));
  r.window = fmt::format("{} in {}", humanDuration(at(w, "windowSeconds")), str(at(w, "windowWaits")));
  return r;
}

std::string scope(const json::value& report) {
  const std::string env = str(at(report, "environment"));
  return fmt::format("{} from {} to {}", env.empty() ? std::string("every environment") : env,
                     str(at(report, "since")), str(at(report, "until")));
}

}  // namespace

std::string deliveryMarkdown(const json::value& report) {
  std::string out = fmt::format("# Delivery report\n\n{}", scope(report));
  out += "\n\n| period | deployments (frequency) | lead time | change failure rate | time to restore | "
         "success rate | rollbacks | approval waits | window waits |\n"
         "|---|---|---|---|---|---|---|---|---|\n";
  const auto line = [&](const std::string& name, const json::value& p) {
    const Row r = rowOf(p);
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", name, r.frequency, r.lead, r.failure,
                       r.restore, r.success, r.rollbacks, r.approval, r.window);
  };
  if (const auto& periods = at(report, "periods"); periods.is_array() && periods.get_array().size() > 1) {
    for (const auto& p : periods.get_array()) line(str(at(p, "from")).substr(0, 10), p);
  }
  line("**total**", at(report, "total"));
  const auto& reasons = at(at(at(report, "total"), "rollbacks"), "reasons");
  if (reasons.is_array() && !reasons.get_array().empty()) {
    out += "\n## Rollback reasons\n\n| reason | rollbacks |\n|---|---|\n";
    for (const auto& r : reasons.get_array()) out += fmt::format("| {} | {} |\n", str(at(r, "kind")), str(at(r, "count")));
  }
  out += "\n## Deployments\n\n| id | environment | version | phase | lead time | failed change | time to "
         "restore | rollback reason |\n|---|---|---|---|---|---|---|---|\n";
  if (const auto& list = at(report, "deployments"); list.is_array()) {
    for (const auto& d : list.get_array()) {
      const bool failed = at(d, "failedChange").is_bool() && at(d, "failedChange").get_bool();
      out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", str(at(d, "id")), str(at(d, "environment")),
                         str(at(d, "version")), str(at(d, "phase")), humanDuration(at(d, "leadTimeSeconds")),
                         failed ? str(at(d, "failure")) : std::string("no"),
                         humanDuration(at(d, "timeToRestoreSeconds")), str(at(d, "rollbackReason")));
    }
  }
  return out;
}

std::string deliveryTable(const json::value& report) {
  std::string out = fmt::format("delivery report: {}\n\n", scope(report));
  const auto block = [&](const std::string& name, const json::value& p) {
    const Row r = rowOf(p);
    out += fmt::format("{}\n", name);
    out += fmt::format("  {:<22} {}\n", "deployment frequency", r.frequency);
    out += fmt::format("  {:<22} {}\n", "lead time (median)", r.lead);
    out += fmt::format("  {:<22} {}\n", "change failure rate", r.failure);
    out += fmt::format("  {:<22} {}\n", "time to restore", r.restore);
    out += fmt::format("  {:<22} {}\n", "success rate", r.success);
    out += fmt::format("  {:<22} {}\n", "rollbacks", r.rollbacks);
    out += fmt::format("  {:<22} {}\n", "waiting for approval", r.approval);
    out += fmt::format("  {:<22} {}\n", "waiting for a window", r.window);
  };
  if (const auto& periods = at(report, "periods"); periods.is_array() && periods.get_array().size() > 1) {
    for (const auto& p : periods.get_array()) {
      block(fmt::format("{} .. {}", str(at(p, "from")), str(at(p, "to"))), p);
    }
    out += "\n";
  }
  block("total", at(report, "total"));
  return out;
}

}  // namespace runway::report
