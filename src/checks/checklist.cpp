// The pre-deployment checklist's judgements: vulnerability reports (SARIF, Trivy, Grype), JUnit
// test reports, semantic versions.

#include "runway/checks/checklist.hpp"

#include <expat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace runway::checks {
namespace {

namespace json = boost::json;
using config::Severity;

std::string_view severityName(Severity s) {
  switch (s) {
    case Severity::Critical: return "critical";
    case Severity::High: return "high";
    case Severity::Medium: return "medium";
    case Severity::Low: return "low";
  }
  return "unknown";
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "CRITICAL", "High", "negligible", "unknown" → a severity, nullopt when unknown.
std::optional<Severity> severityOf(std::string_view text) {
  const std::string s = lower(text);
  if (s == "critical") return Severity::Critical;
  if (s == "high") return Severity::High;
  if (s == "medium" || s == "moderate") return Severity::Medium;
  if (s == "low" || s == "negligible") return Severity::Low;
  return std::nullopt;
}

// GitHub's mapping of a CVSS score ("security-severity") to a severity.
std::optional<Severity> severityOfScore(const json::value& v) {
  double score = 0;
  if (v.is_string()) {
    const std::string text(v.get_string());
    char* end = nullptr;
    score = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0') return std::nullopt;
  } else if (v.is_number()) {
    score = v.to_number<double>();
  } else {
    return std::nullopt;
  }
  if (score >= 9.0) return Severity::Critical;
  if (score >= 7.0) return Severity::High;
  if (score >= 4.0) return Severity::Medium;
  return Severity::Low;
}

struct Malformed {
  std::string name;
  Error operator()(const std::string& what) const {
    return Error{ErrorCode::InvalidArgument, fmt::format("{}: {}", name, what)};
  }
};

const json::value* member(const json::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  return v.get_object().if_contains(key);
}

// A member that must be an array when present (null counts as absent, as Trivy writes it).
Result<const json::array*> arrayAt(const json::value& v, std::string_view key, const std::string& path,
                                   const Malformed& bad) {
  const auto* x = member(v, key);
  if (x == nullptr || x->is_null()) return static_cast<const json::array*>(nullptr);
  if (!x->is_array()) return tl::unexpected(bad(fmt::format("{}{} is not a list", path, key)));
  return &x->get_array();
}

Result<std::string> stringAt(const json::value& v, std::string_view key, const std::string& path,
                             const Malformed& bad, bool required) {
  const auto* x = member(v, key);
  if (x == nullptr || x->is_null()) {
    if (required) return tl::unexpected(bad(fmt::format("{}{} is missing", path, key)));
    return std::string();
  }
  if (!x->is_string()) return tl::unexpected(bad(fmt::format("{}{} is not a string", path, key)));
  return std::string(x->get_string());
}

Result<std::vector<Finding>> parseTrivy(const json::value& doc, const Malformed& bad) {
  std::vector<Finding> out;
  auto results = arrayAt(doc, "Results", "", bad);
  if (!results) return tl::unexpected(results.error());
  if (*results == nullptr) return out;
  for (std::size_t i = 0; i < (*results)->size(); ++i) {
    const auto& result = (**results)[i];
    const std::string at = fmt::format("Results[{}].", i);
    if (!result.is_object()) return tl::unexpected(bad(fmt::format("Results[{}] is not an object", i)));
    auto vulns = arrayAt(result, "Vulnerabilities", at, bad);
    if (!vulns) return tl::unexpected(vulns.error());
    if (*vulns == nullptr) continue;
    for (std::size_t j = 0; j < (*vulns)->size(); ++j) {
      const auto& v = (**vulns)[j];
      const std::string vat = fmt::format("{}Vulnerabilities[{}].", at, j);
      auto id = stringAt(v, "VulnerabilityID", vat, bad, true);
      if (!id) return tl::unexpected(id.error());
      auto severity = stringAt(v, "Severity", vat, bad, true);
      if (!severity) return tl::unexpected(severity.error());
      auto pkg = stringAt(v, "PkgName", vat, bad, false);
      if (!pkg) return tl::unexpected(pkg.error());
      auto installed = stringAt(v, "InstalledVersion", vat, bad, false);
      if (!installed) return tl::unexpected(installed.error());
      out.push_back(Finding{*id, severityOf(*severity), installed->empty() ? *pkg : *pkg + " " + *installed});
    }
  }
  return out;
}

Result<std::vector<Finding>> parseGrype(const json::value& doc, const Malformed& bad) {
  std::vector<Finding> out;
  auto matches = arrayAt(doc, "matches", "", bad);
  if (!matches) return tl::unexpected(matches.error());
  for (std::size_t i = 0; *matches != nullptr && i < (*matches)->size(); ++i) {
    const auto& m = (**matches)[i];
    const std::string at = fmt::format("matches[{}].", i);
    const auto* vuln = member(m, "vulnerability");
    if (vuln == nullptr || !vuln->is_object()) {
      return tl::unexpected(bad(at + "vulnerability is missing or not an object"));
    }
    auto id = stringAt(*vuln, "id", at + "vulnerability.", bad, true);
    if (!id) return tl::unexpected(id.error());
    auto severity = stringAt(*vuln, "severity", at + "vulnerability.", bad, true);
    if (!severity) return tl::unexpected(severity.error());
    std::string package;
    if (const auto* artifact = member(m, "artifact"); artifact != nullptr) {
      auto name = stringAt(*artifact, "name", at + "artifact.", bad, false);
      if (!name) return tl::unexpected(name.error());
      auto version = stringAt(*artifact, "version", at + "artifact.", bad, false);
      if (!version) return tl::unexpected(version.error());
      package = version->empty() ? *name : *name + " " + *version;
    }
    out.push_back(Finding{*id, severityOf(*severity), package});
  }
  return out;
}

Result<std::vector<Finding>> parseSarif(const json::value& doc, const Malformed& bad) {
  std::vector<Finding> out;
  auto runs = arrayAt(doc, "runs", "", bad);
  if (!runs) return tl::unexpected(runs.error());
  for (std::size_t i = 0; *runs != nullptr && i < (*runs)->size(); ++i) {
    const auto& run = (**runs)[i];
    const std::string at = fmt::format("runs[{}].", i);
    // The rules' security-severity, by rule id (Trivy and CodeQL put it on the rule).
    std::vector<std::pair<std::string, const json::value*>> rule_scores;
    if (const auto* driver = member(run, "tool") ? member(*member(run, "tool"), "driver") : nullptr) {
      auto rules = arrayAt(*driver, "rules", at + "tool.driver.", bad);
      if (!rules) return tl::unexpected(rules.error());
      for (std::size_t k = 0; *rules != nullptr && k < (*rules)->size(); ++k) {
        const auto& rule = (**rules)[k];
        auto id = stringAt(rule, "id", fmt::format("{}tool.driver.rules[{}].", at, k), bad, false);
        if (!id) return tl::unexpected(id.error());
        const auto* props = member(rule, "properties");
        const auto* score = props != nullptr ? member(*props, "security-severity") : nullptr;
        if (score != nullptr) rule_scores.emplace_back(*id, score);
      }
    }
    auto results = arrayAt(run, "results", at, bad);
    if (!results) return tl::unexpected(results.error());
    for (std::size_t j = 0; *results != nullptr && j < (*results)->size(); ++j) {
      const auto& result = (**results)[j];
      const std::string rat = fmt::format("{}results[{}].", at, j);
      if (!result.is_object()) return tl::unexpected(bad(fmt::format("{}results[{}] is not an object", at, j)));
      auto rule = stringAt(result, "ruleId", rat, bad, true);
      if (!rule) return tl::unexpected(rule.error());
      std::optional<Severity> severity;
      const auto* props = member(result, "properties");
      if (const auto* score = props != nullptr ? member(*props, "security-severity") : nullptr) {
        severity = severityOfScore(*score);
      } else {
        for (const auto& [id, s] : rule_scores) {
          if (id == *rule) severity = severityOfScore(*s);
        }
      }
      if (!severity) {
        auto level = stringAt(result, "level", rat, bad, false);
        if (!level) return tl::unexpected(level.error());
        // SARIF's default level is "warning".
        if (*level == "error") severity = Severity::High;
        else if (*level == "warning" || level->empty()) severity = Severity::Medium;
        else if (*level == "note" || *level == "none") severity = Severity::Low;
      }
      out.push_back(Finding{*rule, severity, ""});
    }
  }
  return out;
}

}  // namespace

std::string_view toString(ChecklistStatus status) { return status == ChecklistStatus::Passed ? "passed" : "failed"; }

bool ChecklistReport::passed() const {
  return std::all_of(items.begin(), items.end(), [](const ChecklistItem& i) { return i.status == ChecklistStatus::Passed; });
}

std::string ChecklistReport::firstFailure() const {
  for (const auto& i : items) {
    if (i.status == ChecklistStatus::Failed) return i.name + ": " + i.reason;
  }
  return "";
}

Result<std::vector<Finding>> parseVulnerabilityReport(std::string_view name, std::string_view content) {
  const Malformed bad{std::string(name)};
  json::error_code ec;
  json::value doc = json::parse(content, ec);
  if (ec) return tl::unexpected(bad("not JSON: " + ec.message()));
  if (!doc.is_object()) return tl::unexpected(bad("not a JSON object"));
  const auto& o = doc.get_object();
  if (o.contains("runs")) return parseSarif(doc, bad);
  if (o.contains("matches")) return parseGrype(doc, bad);
  if (o.contains("Results") || o.contains("SchemaVersion")) return parseTrivy(doc, bad);
  return tl::unexpected(
      bad("not a SARIF, Trivy or Grype report (none of \"runs\", \"Results\", \"matches\" at the top)"));
}

namespace {

struct JUnitState {
  XML_Parser parser = nullptr;
  int depth = 0;
  bool root_checked = false;
  std::string root_error;
  bool doctype = false;
  bool in_case = false;
  bool case_failed = false;
  bool case_skipped = false;
  std::string case_name;
  std::string failure_message;
  TestSummary summary;
};

std::string attribute(const XML_Char** attrs, std::string_view key) {
  for (int i = 0; attrs[i] != nullptr; i += 2) {
    if (key == attrs[i]) return attrs[i + 1];
  }
  return "";
}

void XMLCALL onStart(void* data, const XML_Char* element, const XML_Char** attrs) {
  auto* s = static_cast<JUnitState*>(data);
  const std::string_view el(element);
  if (!s->root_checked) {
    s->root_checked = true;
    if (el != "testsuites" && el != "testsuite") {
      s->root_error = fmt::format("the root element is <{}>, expected <testsuites> or <testsuite>", el);
      XML_StopParser(s->parser, XML_FALSE);
      return;
    }
  }
  ++s->depth;
  if (el == "testcase") {
    s->in_case = true;
    s->case_failed = false;
    s->case_skipped = false;
    const std::string cls = attribute(attrs, "classname");
    const std::string name = attribute(attrs, "name");
    s->case_name = cls.empty() ? name : cls + "." + name;
    s->failure_message.clear();
  } else if (s->in_case && (el == "failure" || el == "error")) {
    s->case_failed = true;
    if (s->failure_message.empty()) {
      s->failure_message = attribute(attrs, "message");
      if (s->failure_message.empty()) s->failure_message = std::string(el);
    }
  } else if (s->in_case && el == "skipped") {
    s->case_skipped = true;
  }
}

void XMLCALL onEnd(void* data, const XML_Char* element) {
  auto* s = static_cast<JUnitState*>(data);
  --s->depth;
  if (std::string_view(element) != "testcase" || !s->in_case) return;
  s->in_case = false;
  if (s->case_failed) {
    ++s->summary.failed;
    ++s->summary.tests;
    if (s->summary.first_failure.empty()) s->summary.first_failure = s->case_name + ": " + s->failure_message;
  } else if (s->case_skipped) {
    ++s->summary.skipped;
  } else {
    ++s->summary.tests;
  }
}

void XMLCALL onDoctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  auto* s = static_cast<JUnitState*>(data);
  s->doctype = true;
  XML_StopParser(s->parser, XML_FALSE);
}

}  // namespace

Result<TestSummary> parseJUnitReport(std::string_view name, std::string_view content) {
  const Malformed bad{std::string(name)};
  JUnitState state;
  XML_Parser parser = XML_ParserCreate("UTF-8");
  if (parser == nullptr) return fail(ErrorCode::Internal, "cannot create an XML parser");
  state.parser = parser;
  XML_SetUserData(parser, &state);
  XML_SetElementHandler(parser, onStart, onEnd);
  XML_SetStartDoctypeDeclHandler(parser, onDoctype);
  const auto status = XML_Parse(parser, content.data(), static_cast<int>(content.size()), XML_TRUE);
  const auto line = XML_GetCurrentLineNumber(parser);
  const auto column = XML_GetCurrentColumnNumber(parser);
  // XML_ErrorString is null for "no error".
  const XML_LChar* described = XML_ErrorString(XML_GetErrorCode(parser));
  const std::string message = described != nullptr ? described : "unknown error";
  XML_ParserFree(parser);
  if (state.doctype) {
    return tl::unexpected(bad(fmt::format("{}:{}: a document type declaration is not accepted in a JUnit report",
                                          line, column + 1)));
  }
  if (!state.root_error.empty()) return tl::unexpected(bad(state.root_error));
  if (status != XML_STATUS_OK) {
    return tl::unexpected(bad(fmt::format("{}:{}: not well-formed XML: {}", line, column + 1, message)));
  }
  return state.summary;
}

std::optional<SemanticVersion> parseSemanticVersion(std::string_view text) {
  if (!text.empty() && text.front() == 'v') text.remove_prefix(1);
  if (const auto plus = text.find('+'); plus != std::string_view::npos) {
    const auto build = text.substr(plus + 1);
    if (build.empty()) return std::nullopt;
    text = text.substr(0, plus);
  }
  std::string_view core = text;
  std::string_view pre;
  if (const auto dash = text.find('-'); dash != std::string_view::npos) {
    core = text.substr(0, dash);
    pre = text.substr(dash + 1);
    if (pre.empty()) return std::nullopt;
  }
  SemanticVersion v;
  unsigned long long* parts[] = {&v.major, &v.minor, &v.patch};
  for (int i = 0; i < 3; ++i) {
    const auto dot = i < 2 ? core.find('.') : core.size();
    if (dot == std::string_view::npos) return std::nullopt;
    const auto number = core.substr(0, dot);
    if (number.empty() || (number.size() > 1 && number.front() == '0')) return std::nullopt;
    const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), *parts[i]);
    if (ec != std::errc() || ptr != number.data() + number.size()) return std::nullopt;
    core = i < 2 ? core.substr(dot + 1) : std::string_view();
  }
  while (!pre.empty()) {
    const auto dot = pre.find('.');
    const auto id = pre.substr(0, dot);
    const bool numeric = !id.empty() && std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
    const bool valid = !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
                         return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
                       });
    if (!valid || (numeric && id.size() > 1 && id.front() == '0')) return std::nullopt;
    v.prerelease.emplace_back(id);
    if (dot == std::string_view::npos) break;
    pre = pre.substr(dot + 1);
    if (pre.empty()) return std::nullopt;
  }
  return v;
}

int compare(const SemanticVersion& a, const SemanticVersion& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  // A release ranks above its pre-releases.
  if (a.prerelease.empty() || b.prerelease.empty()) {
    if (a.prerelease.empty() == b.prerelease.empty()) return 0;
    return a.prerelease.empty() ? 1 : -1;
  }
  const auto isNumber = [](const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  for (std::size_t i = 0; i < std::min(a.prerelease.size(), b.prerelease.size()); ++i) {
    const auto& x = a.prerelease[i];
    const auto& y = b.prerelease[i];
    if (x == y) continue;
    const bool xn = isNumber(x), yn = isNumber(y);
    if (xn && yn) {
      if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
      return x < y ? -1 : 1;
    }
    if (xn != yn) return xn ? -1 : 1;  // numeric identifiers rank below alphanumeric ones
    return x < y ? -1 : 1;
  }
  if (a.prerelease.size() == b.prerelease.size()) return 0;
  return a.prerelease.size() < b.prerelease.size() ? -1 : 1;
}

namespace {

ChecklistItem judgeVulnerabilities(const config::VulnerabilitiesItem& item, const ChecklistInput& in) {
  ChecklistItem out{"vulnerabilities", ChecklistStatus::Failed, ""};
  const auto* report = in.evidence.attachment("vulnerabilities");
  if (report == nullptr) {
    out.reason = "no vulnerability report attached (runway deploy --attach vulnerabilities=FILE)";
    return out;
  }
  auto findings = parseVulnerabilityReport(report->name, report->content);
  if (!findings) {
    out.reason = "cannot judge the report: " + findings.error().message;
    return out;
  }
  std::vector<std::string> blocking;
  int allowed = 0;
  for (const auto& f : *findings) {
    if (f.severity && *f.severity < item.fail_at) continue;
    const auto allowance = std::find_if(item.allow.begin(), item.allow.end(),
                                        [&](const config::VulnerabilityAllowance& a) { return a.id == f.id; });
    const std::string what =
        fmt::format("{} ({}{})", f.id, f.severity ? severityName(*f.severity) : "severity unknown",
                    f.package.empty() ? "" : ", " + f.package);
    if (allowance != item.allow.end()) {
      if (in.now < allowance->expires) {
        ++allowed;
        continue;
      }
      blocking.push_back(what + ": its allowance expired at " + formatTimestamp(allowance->expires));
      continue;
    }
    blocking.push_back(what);
  }
  if (!blocking.empty()) {
    out.reason = fmt::format("{}: {} finding{} at or above {}: {}", report->name, blocking.size(),
                             blocking.size() == 1 ? "" : "s", severityName(item.fail_at), blocking.front());
    if (blocking.size() > 1) out.reason += fmt::format(" and {} more", blocking.size() - 1);
    return out;
  }
  out.status = ChecklistStatus::Passed;
  out.reason = fmt::format("{}: {} finding{}, none at or above {}", report->name, findings->size(),
                           findings->size() == 1 ? "" : "s", severityName(item.fail_at));
  if (allowed > 0) out.reason += fmt::format(" except {} allowed until its expiry", allowed);
  return out;
}

ChecklistItem judgeTests(const config::TestsItem& item, const ChecklistInput& in) {
  ChecklistItem out{"tests", ChecklistStatus::Failed, ""};
  const auto* report = in.evidence.attachment("tests");
  if (report == nullptr) {
    out.reason = "no test report attached (runway deploy --attach tests=FILE, JUnit XML)";
    return out;
  }
  auto summary = parseJUnitReport(report->name, report->content);
  if (!summary) {
    out.reason = "cannot judge the report: " + summary.error().message;
    return out;
  }
  if (summary->failed > 0) {
    out.reason = fmt::format("{}: {} of {} tests failed (first: {})", report->name, summary->failed,
                             summary->tests, summary->first_failure);
    return out;
  }
  if (summary->tests < item.min_tests) {
    out.reason = fmt::format("{}: {} tests ran ({} skipped), fewer than the {} required", report->name,
                             summary->tests, summary->skipped, item.min_tests);
    return out;
  }
  out.status = ChecklistStatus::Passed;
  out.reason = fmt::format("{}: {} tests passed ({} skipped)", report->name, summary->tests, summary->skipped);
  return out;
}

ChecklistItem judgeSemver(const config::SemverItem& item, const ChecklistInput& in) {
  ChecklistItem out{"semver", ChecklistStatus::Failed, ""};
  const auto version = parseSemanticVersion(in.version);
  if (!version) {
    out.reason = fmt::format("{} is not a semantic version (MAJOR.MINOR.PATCH, e.g. v1.4.0)", in.version);
    return out;
  }
  if (item.require_newer && !in.current_release.empty()) {
    const auto current = parseSemanticVersion(in.current_release);
    if (!current) {
      out.reason = fmt::format("the current release {} is not a semantic version: cannot tell whether {} is newer",
                               in.current_release, in.version);
      return out;
    }
    if (compare(*version, *current) <= 0) {
      out.reason = fmt::format("{} is not newer than the current release {}", in.version, in.current_release);
      return out;
    }
    out.status = ChecklistStatus::Passed;
    out.reason = fmt::format("{} is a semantic version newer than {}", in.version, in.current_release);
    return out;
  }
  out.status = ChecklistStatus::Passed;
  out.reason = fmt::format("{} is a semantic version", in.version);
  return out;
}

}  // namespace

ChecklistReport judgeChecklist(const config::Checklist& checklist, const ChecklistInput& input) {
  ChecklistReport report;
  if (checklist.vulnerabilities) report.items.push_back(judgeVulnerabilities(*checklist.vulnerabilities, input));
  if (checklist.tests) report.items.push_back(judgeTests(*checklist.tests, input));
  if (checklist.semver) report.items.push_back(judgeSemver(*checklist.semver, input));
  return report;
}

}  // namespace runway::checks
