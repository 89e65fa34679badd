// Markdown and HTML renderings of the release report's JSON document. The HTML is one
// self-contained page: inline CSS, inline SVG charts drawn here as text, no script.

#include <algorithm>
#include <cmath>
#include <optional>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "render_text.hpp"
#include "runway/report/release.hpp"

namespace runway::report {
namespace {

namespace json = boost::json;
using render::escapeHtml;

const json::value& get(const json::value& v, std::string_view key) { return render::field(v, key); }
std::string textOf(const json::value& v) { return render::text(v); }
double numberOf(const json::value& v) { return render::number(v); }
std::string escapeCell(std::string_view s) { return render::markdownCell(s); }

const json::array& arrayOf(const json::value& v) {
  static const json::array empty;
  return v.is_array() ? v.get_array() : empty;
}

// Milliseconds since the epoch of a report timestamp; nullopt when it does not parse.
std::optional<double> millisOf(const json::value& v) {
  if (!v.is_string()) return std::nullopt;
  auto t = parseTimestamp(std::string(v.get_string()));
  if (!t) return std::nullopt;
  return static_cast<double>(toUnixMillis(*t));
}

// The threshold of a simple condition "result > 0.01" / "result < 0.99" (nullopt otherwise).
std::optional<double> thresholdOf(const std::string& condition) {
  for (const char* op : {">=", "<=", ">", "<"}) {
    const auto at = condition.find(op);
    if (at == std::string::npos) continue;
    try {
      std::size_t used = 0;
      const std::string rest = condition.substr(at + std::string_view(op).size());
      const double v = std::stod(rest, &used);
      if (rest.find_first_not_of(" \t", used) == std::string::npos) return v;
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string outcomeColour(const std::string& outcome) {
  if (outcome == "Successful") return "#2e7d32";
  if (outcome == "Failed") return "#c62828";
  if (outcome == "Inconclusive") return "#f9a825";
  return "#757575";
}

// One analysis metric: its measurements over time (dots coloured by outcome) and the failure
// threshold (dashed red line) when the condition is a simple comparison.
std::string svgMetricChart(const json::value& metric) {
  const auto& points = arrayOf(get(metric, "measurements"));
  constexpr double kW = 560, kH = 180, kLeft = 60, kRight = 20, kTop = 15, kBottom = 35;
  std::vector<std::pair<double, double>> xy;
  std::vector<std::string> colours;
  for (const auto& p : points) {
    auto t = millisOf(get(p, "at"));
    if (!t || !get(p, "value").is_number()) continue;
    xy.emplace_back(*t, numberOf(get(p, "value")));
    colours.push_back(outcomeColour(textOf(get(p, "outcome"))));
  }
  const auto threshold = thresholdOf(textOf(get(metric, "failureCondition")));
  double t0 = 0, t1 = 1, v0 = 0, v1 = 1;
  if (!xy.empty()) {
    t0 = t1 = xy.front().first;
    v1 = 0;
    for (const auto& [t, v] : xy) {
      t0 = std::min(t0, t);
      t1 = std::max(t1, t);
      v0 = std::min(v0, v);
      v1 = std::max(v1, v);
    }
  }
  if (threshold) v1 = std::max(v1, *threshold);
  if (v1 <= v0) v1 = v0 + 1;
  v1 *= 1.1;
  if (t1 <= t0) t1 = t0 + 1000;
  const auto x = [&](double t) { return kLeft + (t - t0) / (t1 - t0) * (kW - kLeft - kRight); };
  const auto y = [&](double v) { return kTop + (1 - (v - v0) / (v1 - v0)) * (kH - kTop - kBottom); };
  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" role="img">)", kW, kH);
  svg += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#999"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#999"/>)",
                     kLeft, kTop, kH - kBottom, kW - kRight);
  svg += fmt::format(R"(<text x="{}" y="{}" font-size="11" text-anchor="end">{:.4g}</text>)", kLeft - 4, y(v1) + 4, v1);
  svg += fmt::format(R"(<text x="{}" y="{}" font-size="11" text-anchor="end">{:.4g}</text>)", kLeft - 4, y(v0) + 4, v0);
  svg += fmt::format(R"(<text x="{}" y="{}" font-size="11">+0 s</text>)", kLeft, kH - 12);
  svg += fmt::format(R"(<text x="{}" y="{}" font-size="11" text-anchor="end">+{:.0f} s</text>)", kW - kRight, kH - 12,
                     (t1 - t0) / 1000);
  if (threshold) {
    svg += fmt::format(
        R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#c62828" stroke-dasharray="5,4"/><text x="{}" y="{:.1f}" font-size="11" fill="#c62828" text-anchor="end">{}</text>)",
        kLeft, y(*threshold), kW - kRight, y(*threshold), kW - kRight, y(*threshold) - 4,
        escapeHtml(textOf(get(metric, "failureCondition"))));
  }
  if (xy.size() > 1) {
    std::string path;
    for (const auto& [t, v] : xy) path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", x(t), y(v));
    svg += fmt::format(R"(<path d="{}" fill="none" stroke="#1565c0" stroke-width="1.5"/>)", path);
  }
  for (std::size_t i = 0; i < xy.size(); ++i) {
    svg += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="4" fill="{}"/>)", x(xy[i].first), y(xy[i].second), colours[i]);
  }
  svg += "</svg>";
  return svg;
}

// Before/after bars for one service: P50, P95, P99 (ms) side by side.
std::string svgComparison(const json::value& service) {
  constexpr double kW = 420, kH = 200, kLeft = 50, kBottom = 40, kTop = 20;
  const char* keys[] = {"p50Ms", "p95Ms", "p99Ms"};
  const char* labels[] = {"P50", "P95", "P99"};
  double top = 1;
  for (const char* k : keys) {
    top = std::max({top, numberOf(get(get(service, "before"), k)), numberOf(get(get(service, "after"), k))});
  }
  top *= 1.15;
  const auto y = [&](double v) { return kTop + (1 - v / top) * (kH - kTop - kBottom); };
  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" role="img">)", kW, kH);
  svg += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#999"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#999"/>)",
                     kLeft, kTop, kH - kBottom, kW - 10);
  svg += fmt::format(R"(<text x="{}" y="{}" font-size="11" text-anchor="end">{:.1f} ms</text>)", kLeft - 4, kTop + 4, top);
  for (int i = 0; i < 3; ++i) {
    const double gx = kLeft + 20 + i * 120.0;
    const double b = numberOf(get(get(service, "before"), keys[i]));
    const double a = numberOf(get(get(service, "after"), keys[i]));
    svg += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="40" height="{:.1f}" fill="#90a4ae"/>)", gx, y(b), kH - kBottom - y(b));
    svg += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="40" height="{:.1f}" fill="#1565c0"/>)", gx + 44, y(a), kH - kBottom - y(a));
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="10" text-anchor="middle">{:.1f}</text>)", gx + 20, y(b) - 3, b);
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="10" text-anchor="middle">{:.1f}</text>)", gx + 64, y(a) - 3, a);
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="12" text-anchor="middle">{}</text>)", gx + 42, kH - kBottom + 16, labels[i]);
  }
  svg += fmt::format(R"(<rect x="{0}" y="{1}" width="10" height="10" fill="#90a4ae"/><text x="{2}" y="{3}" font-size="11">before</text><rect x="{4}" y="{1}" width="10" height="10" fill="#1565c0"/><text x="{5}" y="{3}" font-size="11">after</text>)",
                     kLeft, kH - 16, kLeft + 14, kH - 7, kLeft + 80, kLeft + 94);
  svg += "</svg>";
  return svg;
}

std::string phaseColour(const std::string& phase) {
  if (phase == "Succeeded") return "#2e7d32";
  if (phase == "RolledBack" || phase == "Aborting" || phase == "Failed" || phase == "Rejected") return "#c62828";
  if (phase == "AwaitingApproval" || phase == "WaitingForWindow" || phase == "Paused") return "#f9a825";
  if (phase == "Progressing" || phase == "Promoting" || phase == "PreFlight") return "#1565c0";
  return "#9e9e9e";
}

// The phases over time: one coloured band per stay, from the timeline's phase changes.
std::string svgPhases(const json::value& report) {
  struct Stay {
    std::string phase;
    double from, to;
  };
  std::vector<Stay> stays;
  for (const auto& item : arrayOf(get(report, "timeline"))) {
    if (!get(item, "to").is_string()) continue;
    auto t = millisOf(get(item, "at"));
    if (!t) continue;
    if (!stays.empty()) stays.back().to = *t;
    stays.push_back(Stay{textOf(get(item, "to")), *t, *t});
  }
  if (stays.empty()) return "";
  const double t0 = stays.front().from;
  const double t1 = std::max(stays.back().from, t0 + 1000);
  // The last phase (the end) gets a sliver so that it shows.
  stays.back().to = t1 + (t1 - t0) * 0.03;
  constexpr double kW = 760, kLeft = 10, kRight = 10;
  const double span = stays.back().to - t0;
  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="60" viewBox="0 0 {0} 60" role="img">)", kW);
  for (const auto& s : stays) {
    const double x = kLeft + (s.from - t0) / span * (kW - kLeft - kRight);
    const double w = std::max(1.0, (s.to - s.from) / span * (kW - kLeft - kRight));
    svg += fmt::format(R"(<rect x="{:.1f}" y="5" width="{:.1f}" height="24" fill="{}"><title>{} {:.0f} s</title></rect>)", x, w,
                       phaseColour(s.phase), s.phase, (s.to - s.from) / 1000);
  }
  svg += fmt::format(R"(<text x="{}" y="48" font-size="11">{}</text>)", kLeft, escapeHtml(textOf(get(report, "createdAt"))));
  svg += fmt::format(R"(<text x="{}" y="48" font-size="11" text-anchor="end">+{:.0f} s</text>)", kW - kRight, (t1 - t0) / 1000);
  svg += "</svg>";
  return svg;
}

std::string signedMs(double v) { return fmt::format("{:+.1f} ms", v); }
std::string relativeText(const json::value& v) {
  return v.is_number() ? fmt::format("{:+.0f}%", numberOf(v) * 100) : std::string("-");
}

}  // namespace

std::string releaseMarkdown(const json::value& r) {
  std::string out = fmt::format("# Release report: {} {} to {}\n\n", textOf(get(r, "application")),
                                textOf(get(r, "version")), textOf(get(r, "environment")));
  out += fmt::format("- deployment: {}{}\n- phase: {}\n- requested by {} at {}; ended {}\n", textOf(get(r, "id")),
                     get(r, "rollback") == true ? " (rollback)" : "", textOf(get(r, "phase")),
                     textOf(get(r, "requestedBy")), textOf(get(r, "createdAt")), textOf(get(r, "endedAt")));
  if (!textOf(get(r, "abortReason")).empty() && get(r, "abortReason") != "") {
    out += fmt::format("- why it ended: {}\n", textOf(get(r, "abortReason")));
  }
  const auto& cmp = get(r, "comparison");
  out += fmt::format("\n## Before / after: {}\n\n", textOf(get(cmp, "verdict")));
  if (get(cmp, "why").is_string()) out += textOf(get(cmp, "why")) + "\n";
  if (get(cmp, "before").is_object()) {
    out += fmt::format("Before: {} .. {}. ", textOf(get(get(cmp, "before"), "from")), textOf(get(get(cmp, "before"), "to")));
  }
  if (get(cmp, "after").is_object()) {
    out += fmt::format("After: {} .. {}.", textOf(get(get(cmp, "after"), "from")), textOf(get(get(cmp, "after"), "to")));
  }
  out += "\n\n| service | P50 before → after | P95 before → after | P99 before → after | error rate before → after | "
         "throughput before → after | verdict |\n|---|---|---|---|---|---|---|\n";
  for (const auto& s : arrayOf(get(cmp, "services"))) {
    const auto& b = get(s, "before");
    const auto& a = get(s, "after");
    const auto& d = get(s, "delta");
    out += fmt::format("| {} | {:.1f} → {:.1f} ms ({}) | {:.1f} → {:.1f} ms ({}) | {:.1f} → {:.1f} ms ({}) | {:.2f}% → {:.2f}% | "
                       "{:.1f}/s → {:.1f}/s ({}) | {} |\n",
                       textOf(get(s, "service")), numberOf(get(b, "p50Ms")), numberOf(get(a, "p50Ms")),
                       signedMs(numberOf(get(d, "p50Ms"))), numberOf(get(b, "p95Ms")), numberOf(get(a, "p95Ms")),
                       signedMs(numberOf(get(d, "p95Ms"))), numberOf(get(b, "p99Ms")), numberOf(get(a, "p99Ms")),
                       signedMs(numberOf(get(d, "p99Ms"))), numberOf(get(b, "errorRate")) * 100,
                       numberOf(get(a, "errorRate")) * 100, numberOf(get(b, "throughput")),
                       numberOf(get(a, "throughput")), relativeText(get(d, "throughputRelative")),
                       textOf(get(s, "verdict")));
    for (const auto& c : arrayOf(get(s, "checks"))) {
      out += fmt::format("|  | {} | {} | {} |  |  |  |\n", textOf(get(c, "name")), textOf(get(c, "status")),
                         escapeCell(textOf(get(c, "detail"))));
    }
  }
  out += "\n## Analysis\n\n";
  for (const auto& m : arrayOf(get(r, "analysis"))) {
    out += fmt::format("### run {} {}{} (fails when {})\n\n| at | value | outcome |\n|---|---|---|\n",
                       textOf(get(m, "run")), textOf(get(m, "metric")),
                       textOf(get(m, "service")).empty() ? "" : " of " + textOf(get(m, "service")),
                       textOf(get(m, "failureCondition")).empty() ? "-" : textOf(get(m, "failureCondition")));
    for (const auto& p : arrayOf(get(m, "measurements"))) {
      const auto& v = get(p, "value");
      out += fmt::format("| {} | {} | {} |\n", textOf(get(p, "at")),
                         v.is_number() ? fmt::format("{:.6g}", numberOf(v)) : std::string("-"), textOf(get(p, "outcome")));
    }
    out += "\n";
  }
  out += "## Approvals\n\n";
  for (const auto& a : arrayOf(get(r, "approvals"))) {
    out += fmt::format("- {} {} as {} at {}{}\n", textOf(get(a, "actor")), textOf(get(a, "decision")),
                       textOf(get(a, "role")), textOf(get(a, "at")),
                       textOf(get(a, "comment")).empty() ? "" : ": " + textOf(get(a, "comment")));
  }
  if (arrayOf(get(r, "approvals")).empty()) out += "none\n";
  out += "\n## Timeline\n\n| at | event | by | phase | detail |\n|---|---|---|---|---|\n";
  for (const auto& e : arrayOf(get(r, "timeline"))) {
    out += fmt::format("| {} | {} | {} | {} | {} |\n", textOf(get(e, "at")), textOf(get(e, "kind")), textOf(get(e, "actor")),
                       get(e, "to").is_string() ? textOf(get(e, "from")) + " → " + textOf(get(e, "to")) : "",
                       escapeCell(textOf(get(e, "reason"))));
  }
  return out;
}

std::string releaseHtml(const json::value& r) {
  const auto& cmp = get(r, "comparison");
  const std::string verdict = textOf(get(cmp, "verdict"));
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  html += fmt::format("<title>Release report: {} {} to {}</title>", escapeHtml(textOf(get(r, "application"))),
                      escapeHtml(textOf(get(r, "version"))), escapeHtml(textOf(get(r, "environment"))));
  html += "<style>body{font-family:sans-serif;margin:2em;max-width:60em;color:#222}table{border-collapse:collapse;"
          "margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}"
          ".passed{color:#2e7d32}.failed{color:#c62828}.info,.pending,.unavailable{color:#757575}"
          "h2{border-bottom:1px solid #ddd}</style></head><body>\n";
  html += fmt::format("<h1>Release report: {} {} to {}</h1>\n", escapeHtml(textOf(get(r, "application"))),
                      escapeHtml(textOf(get(r, "version"))), escapeHtml(textOf(get(r, "environment"))));
  html += fmt::format("<p>Deployment {}{}: <b>{}</b>. Requested by {} at {}; ended {}.</p>\n", escapeHtml(textOf(get(r, "id"))),
                      get(r, "rollback") == true ? " (rollback)" : "", escapeHtml(textOf(get(r, "phase"))),
                      escapeHtml(textOf(get(r, "requestedBy"))), escapeHtml(textOf(get(r, "createdAt"))),
                      escapeHtml(textOf(get(r, "endedAt"))));
  if (get(r, "abortReason").is_string() && !get(r, "abortReason").get_string().empty()) {
    html += fmt::format("<p>Why it ended: {}</p>\n", escapeHtml(textOf(get(r, "abortReason"))));
  }
  html += "<h2>Phases</h2>\n" + svgPhases(r) + "\n";
  html += fmt::format("<h2>Before / after: <span class=\"{0}\">{0}</span></h2>\n", escapeHtml(verdict));
  if (get(cmp, "why").is_string()) html += "<p>" + escapeHtml(textOf(get(cmp, "why"))) + "</p>\n";
  if (get(cmp, "before").is_object() && get(cmp, "after").is_object()) {
    html += fmt::format("<p>Before: {} .. {}; after: {} .. {}.</p>\n", escapeHtml(textOf(get(get(cmp, "before"), "from"))),
                        escapeHtml(textOf(get(get(cmp, "before"), "to"))), escapeHtml(textOf(get(get(cmp, "after"), "from"))),
                        escapeHtml(textOf(get(get(cmp, "after"), "to"))));
  }
  for (const auto& s : arrayOf(get(cmp, "services"))) {
    const std::string sv = textOf(get(s, "verdict"));
    html += fmt::format("<h3>{} <span class=\"{}\">{}</span></h3>\n", escapeHtml(textOf(get(s, "service"))),
                        escapeHtml(sv), escapeHtml(sv));
    if (!get(s, "before").is_object()) continue;
    html += svgComparison(s) + "\n<table><tr><th>check</th><th>status</th><th>detail</th></tr>";
    for (const auto& c : arrayOf(get(s, "checks"))) {
      const std::string st = textOf(get(c, "status"));
      html += fmt::format("<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>", escapeHtml(textOf(get(c, "name"))),
                          escapeHtml(st), escapeHtml(st), escapeHtml(textOf(get(c, "detail"))));
    }
    html += fmt::format("</table><p>Error rate {:.2f}% → {:.2f}%; throughput {:.1f}/s → {:.1f}/s ({}).</p>\n",
                        numberOf(get(get(s, "before"), "errorRate")) * 100, numberOf(get(get(s, "after"), "errorRate")) * 100,
                        numberOf(get(get(s, "before"), "throughput")), numberOf(get(get(s, "after"), "throughput")),
                        relativeText(get(get(s, "delta"), "throughputRelative")));
  }
  html += "<h2>Analysis</h2>\n";
  for (const auto& m : arrayOf(get(r, "analysis"))) {
    html += fmt::format("<h3>run {} {}{}</h3>\n", escapeHtml(textOf(get(m, "run"))), escapeHtml(textOf(get(m, "metric"))),
                        textOf(get(m, "service")).empty() ? "" : " of " + escapeHtml(textOf(get(m, "service"))));
    html += svgMetricChart(m) + "\n";
  }
  if (arrayOf(get(r, "analysis")).empty()) html += "<p>No analysis ran.</p>\n";
  html += "<h2>Approvals</h2>\n<table><tr><th>at</th><th>who</th><th>role</th><th>decision</th><th>comment</th></tr>";
  for (const auto& a : arrayOf(get(r, "approvals"))) {
    html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", escapeHtml(textOf(get(a, "at"))),
                        escapeHtml(textOf(get(a, "actor"))), escapeHtml(textOf(get(a, "role"))),
                        escapeHtml(textOf(get(a, "decision"))), escapeHtml(textOf(get(a, "comment"))));
  }
  html += "</table>\n<h2>Timeline</h2>\n<table><tr><th>at</th><th>event</th><th>by</th><th>phase</th><th>detail</th></tr>";
  for (const auto& e : arrayOf(get(r, "timeline"))) {
    html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", escapeHtml(textOf(get(e, "at"))),
                        escapeHtml(textOf(get(e, "kind"))), escapeHtml(textOf(get(e, "actor"))),
                        get(e, "to").is_string() ? escapeHtml(textOf(get(e, "from")) + " → " + textOf(get(e, "to"))) : "",
                        escapeHtml(textOf(get(e, "reason"))));
  }
  html += "</table>\n</body></html>\n";
  return html;
}

}  // namespace runway::report
