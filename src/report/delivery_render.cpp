// Markdown and table renderings of the delivery report's JSON document.

#include <algorithm>
#include <functional>
#include <optional>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "render_text.hpp"
#include "runway/report/delivery.hpp"

namespace runway::report {
namespace {

namespace json = boost::json;
using render::escapeHtml;
using render::markdownCell;

const json::value& at(const json::value& v, std::string_view key) { return render::field(v, key); }
std::string str(const json::value& v) { return render::text(v); }
double num(const json::value& v) { return render::number(v); }

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

std::string bandColour(const std::string& band) {
  if (band == "elite") return "#2e7d32";
  if (band == "high") return "#7cb342";
  if (band == "medium") return "#f9a825";
  if (band == "low") return "#c62828";
  return "#bdbdbd";
}

// One key over the periods: a bar per period, coloured by its band, labelled with its value.
// `value` reads the figure from a period (nullopt = no data: an empty slot).
std::string svgTrend(const json::array& periods, const std::string& title, const std::string& unit,
                     const std::function<std::optional<double>(const json::value&)>& value,
                     const std::function<std::string(const json::value&)>& band) {
  constexpr double kW = 440, kH = 170, kLeft = 10, kTop = 30, kBottom = 30;
  double top = 0;
  for (const auto& p : periods) top = std::max(top, value(p).value_or(0));
  if (top <= 0) top = 1;
  top *= 1.2;
  const double slot = (kW - 2 * kLeft) / static_cast<double>(std::max<std::size_t>(periods.size(), 1));
  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" role="img">)", kW, kH);
  svg += fmt::format(R"(<text x="{}" y="16" font-size="13" font-weight="bold">{}</text>)", kLeft, escapeHtml(title));
  svg += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#999"/>)", kLeft, kH - kBottom, kW - kLeft);
  for (std::size_t i = 0; i < periods.size(); ++i) {
    const auto& p = periods[i];
    const double x = kLeft + slot * static_cast<double>(i);
    const auto v = value(p);
    const std::string label = str(at(p, "from")).substr(0, 10);
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="10" text-anchor="middle">{}</text>)", x + slot / 2,
                       kH - kBottom + 14, escapeHtml(label));
    if (!v) {
      svg += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="10" text-anchor="middle" fill="#757575">no data</text>)",
                         x + slot / 2, kH - kBottom - 4);
      continue;
    }
    const double h = *v / top * (kH - kTop - kBottom);
    svg += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"><title>{}</title></rect>)",
                       x + slot * 0.2, kH - kBottom - h, slot * 0.6, h, bandColour(band(p)), escapeHtml(band(p)));
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="10" text-anchor="middle">{:.3g} {} ({})</text>)",
                       x + slot / 2, kH - kBottom - h - 3, *v, escapeHtml(unit), escapeHtml(band(p)));
  }
  svg += "</svg>";
  return svg;
}

std::optional<double> optNumber(const json::value& v) {
  if (!v.is_number()) return std::nullopt;
  return v.to_number<double>();
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
                         humanDuration(at(d, "timeToRestoreSeconds")), markdownCell(str(at(d, "rollbackReason"))));
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

namespace runway::report {

std::string deliveryHtml(const json::value& report) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Delivery report</title>";
  html += "<style>body{font-family:sans-serif;margin:2em;max-width:62em;color:#222}table{border-collapse:collapse;"
          "margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}"
          "h2{border-bottom:1px solid #ddd}.charts svg{margin:0 1em 1em 0}</style></head><body>\n";
  html += "<h1>Delivery report</h1>\n<p>" + escapeHtml(scope(report)) + ". Incidents: " +
          escapeHtml(str(at(report, "incidents"))) + ".</p>\n";
  static const json::array none;
  const auto& periods = at(report, "periods").is_array() ? at(report, "periods").get_array() : none;
  const auto band = [](const char* key) {
    return [key](const json::value& p) { return str(at(at(p, key), "band")); };
  };
  html += "<h2>Trends</h2>\n<div class=\"charts\">";
  html += svgTrend(periods, "Deployment frequency", "/day",
                   [](const json::value& p) { return optNumber(at(at(p, "deploymentFrequency"), "perDay")); },
                   band("deploymentFrequency"));
  html += svgTrend(periods, "Lead time for changes (median)", "h",
                   [](const json::value& p) -> std::optional<double> {
                     auto v = optNumber(at(at(p, "leadTime"), "medianSeconds"));
                     if (v) *v /= 3600;
                     return v;
                   },
                   band("leadTime"));
  html += svgTrend(periods, "Change failure rate", "%",
                   [](const json::value& p) -> std::optional<double> {
                     auto v = optNumber(at(at(p, "changeFailureRate"), "rate"));
                     if (v) *v *= 100;
                     return v;
                   },
                   band("changeFailureRate"));
  html += svgTrend(periods, "Time to restore (median)", "h",
                   [](const json::value& p) -> std::optional<double> {
                     auto v = optNumber(at(at(p, "timeToRestore"), "medianSeconds"));
                     if (v) *v /= 3600;
                     return v;
                   },
                   band("timeToRestore"));
  html += "</div>\n<h2>Per period</h2>\n<table><tr><th>period</th><th>deployment frequency</th><th>lead time</th>"
          "<th>change failure rate</th><th>time to restore</th><th>success rate</th><th>rollbacks</th>"
          "<th>approval waits</th><th>window waits</th></tr>";
  const auto row = [&](const std::string& name, const json::value& p) {
    const Row r = rowOf(p);
    html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escapeHtml(name), escapeHtml(r.frequency), escapeHtml(r.lead), escapeHtml(r.failure), escapeHtml(r.restore),
                        escapeHtml(r.success), escapeHtml(r.rollbacks), escapeHtml(r.approval), escapeHtml(r.window));
  };
  for (const auto& p : periods) row(str(at(p, "from")).substr(0, 10), p);
  row("total", at(report, "total"));
  html += "</table>\n<h2>Rollback reasons</h2>\n<table><tr><th>reason</th><th>rollbacks</th></tr>";
  if (const auto& reasons = at(at(at(report, "total"), "rollbacks"), "reasons"); reasons.is_array()) {
    for (const auto& r : reasons.get_array()) {
      html += fmt::format("<tr><td>{}</td><td>{}</td></tr>", escapeHtml(str(at(r, "kind"))), escapeHtml(str(at(r, "count"))));
    }
  }
  html += "</table>\n<h2>Deployments</h2>\n<table><tr><th>id</th><th>environment</th><th>version</th><th>phase</th>"
          "<th>lead time</th><th>failed change</th><th>time to restore</th><th>rollback reason</th></tr>";
  if (const auto& list = at(report, "deployments"); list.is_array()) {
    for (const auto& d : list.get_array()) {
      const bool failed = at(d, "failedChange").is_bool() && at(d, "failedChange").get_bool();
      html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                          escapeHtml(str(at(d, "id"))), escapeHtml(str(at(d, "environment"))), escapeHtml(str(at(d, "version"))),
                          escapeHtml(str(at(d, "phase"))), escapeHtml(humanDuration(at(d, "leadTimeSeconds"))),
                          escapeHtml(failed ? str(at(d, "failure")) : std::string("no")),
                          escapeHtml(humanDuration(at(d, "timeToRestoreSeconds"))), escapeHtml(str(at(d, "rollbackReason"))));
    }
  }
  html += "</table>\n</body></html>\n";
  return html;
}

}  // namespace runway::report
