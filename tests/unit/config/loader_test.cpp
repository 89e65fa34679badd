#include "runway/config/loader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "text.hpp"
#include "test_paths.hpp"

namespace runway::config {
namespace {

using ::testing::ElementsAre;
using test::env;
using test::messages;
using ::testing::ElementsAreArray;

const std::string kSourceDir = RUNWAY_SOURCE_DIR;

std::string fixture(const std::string& name) { return kSourceDir + "/tests/data/config/" + name; }

struct FixtureCase {
  std::string file;
  std::vector<std::string> expected;
};

void PrintTo(const FixtureCase& c, std::ostream* os) { *os << c.file; }

class ErrorFixtureTest : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(ErrorFixtureTest, ReportsExactlyTheseDiagnostics) {
  const auto& c = GetParam();
  const auto result = loadConfig(fixture(c.file));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.config.has_value());
  EXPECT_THAT(messages(result), ElementsAreArray(c.expected));
}

const std::string kDir = "tests/data/config/";

// One fixture per error class; each asserts the exact message with file:line:column.
INSTANTIATE_TEST_SUITE_P(
    EveryErrorClass, ErrorFixtureTest,
    ::testing::Values(
        FixtureCase{"unknown-field.yaml",
                    {kDir + "unknown-field.yaml:19:9: spec.canary.steps[0].setWieght: unknown "
                            "field \"setWieght\" (did you mean \"setWeight\"?)"}},
        FixtureCase{"wrong-type.yaml",
                    {kDir + "wrong-type.yaml:8:18: spec.services[0].instances: expected an "
                            "integer, got \"many\""}},
        FixtureCase{"weight-out-of-range.yaml",
                    {kDir + "weight-out-of-range.yaml:19:20: spec.canary.steps[0].setWeight: "
                            "must be between 0 and 100, got 150"}},
        FixtureCase{"weights-decreasing.yaml",
                    {kDir + "weights-decreasing.yaml:21:9: spec.canary.steps[2].setWeight: "
                            "weight 10 is lower than the previous setWeight 50 "
                            "(spec.canary.steps[0]); weights must not decrease"}},
        FixtureCase{"weights-not-ending-at-100.yaml",
                    {kDir + "weights-not-ending-at-100.yaml:20:9: "
                            "spec.canary.steps[1].setWeight: the last setWeight must be 100 (the "
                            "canary ends fully promoted), got 50"}},
        FixtureCase{"bad-duration.yaml",
                    {kDir + "bad-duration.yaml:20:28: spec.canary.steps[1].pause.duration: "
                            "invalid duration \"15x\": unknown unit \"x\" (write e.g. 30s, 15m, "
                            "1h30m, 2d)"}},
        FixtureCase{"dangling-template.yaml",
                    {kDir + "dangling-template.yaml:21:23: "
                            "spec.canary.steps[1].analysis.templates[0]: unknown "
                            "AnalysisTemplate \"eror-rate\" (did you mean \"error-rate\"?)"}},
        FixtureCase{"dangling-promotes-from.yaml",
                    {kDir + "dangling-promotes-from.yaml:22:17: spec.promotesFrom: unknown "
                            "Environment \"stagign\" (did you mean \"staging\"?)"}},
        FixtureCase{"promotes-from-cycle.yaml",
                    {kDir + "promotes-from-cycle.yaml:14:23: spec.promotesFrom: promotesFrom "
                            "cycle: staging -> production -> qa -> staging (each promotes from "
                            "the next; one of them must deploy anything)"}},
        FixtureCase{"duplicate-name.yaml",
                    {kDir + "duplicate-name.yaml:9:7: spec.services[1].name: duplicate service "
                            "\"web\" (first defined at " +
                     kSourceDir + "/tests/data/config/duplicate-name.yaml:7:7)"}},
        FixtureCase{"duplicate-environment.yaml",
                    {kDir + "duplicate-environment.yaml:18:19: metadata.name: duplicate "
                            "Environment \"staging\" (first defined at " +
                     kSourceDir + "/tests/data/config/duplicate-environment.yaml:13:19)"}},
        FixtureCase{"duplicate-key.yaml",
                    {kDir + "duplicate-key.yaml:9:7: spec.services[0].port: duplicate field "
                            "\"port\""}},
        FixtureCase{"missing-required.yaml",
                    {kDir + "missing-required.yaml:7:7: spec.services[0].name: required field is "
                            "missing"}},
        FixtureCase{"missing-application.yaml",
                    {kDir + "missing-application.yaml:6:16: spec.application: unknown "
                            "Application \"shop\" (none is defined)"}},
        FixtureCase{"unknown-kind.yaml",
                    {kDir + "unknown-kind.yaml:2:7: kind: unknown kind \"Enviroment\" (did you "
                            "mean \"Environment\"?)"}},
        FixtureCase{"bad-api-version.yaml",
                    {kDir + "bad-api-version.yaml:1:13: apiVersion: unsupported apiVersion "
                            "\"runway/v2\" (supported: runway/v1)"}},
        FixtureCase{"yaml-syntax.yaml",
                    {kDir + "yaml-syntax.yaml:8:30: YAML syntax error: illegal flow end"}},
        FixtureCase{"bad-substitution.yaml",
                    {kDir + "bad-substitution.yaml:9:48: spec.services[0].local.command[2]: "
                            "unknown substitution \"${PROT}\" (did you mean \"${PORT}\"?; "
                            "supported: ${PORT}, ${VERSION}, ${SERVICE}, ${ENVIRONMENT}, "
                            "${ARTIFACT})",
                     kDir + "bad-substitution.yaml:11:17: spec.services[0].env.REGION: unknown "
                            "substitution \"${REGION}\" (supported: ${PORT}, ${VERSION}, "
                            "${SERVICE}, ${ENVIRONMENT}, ${ARTIFACT})"}},
        FixtureCase{"bad-timezone.yaml",
                    {kDir + "bad-timezone.yaml:20:17: spec.windows[0].timezone: unsupported "
                            "timezone \"Europe/Berlin\": write \"UTC\" or a fixed offset such as "
                            "\"+02:00\" or \"-05:00\" (named zones are not supported)"}},
        FixtureCase{"bad-window.yaml",
                    {kDir + "bad-window.yaml:17:19: spec.windows[0].days[1]: unknown value "
                            "\"Wednesday\" (expected one of: Mon, Tue, Wed, Thu, Fri, Sat, Sun)",
                     kDir + "bad-window.yaml:18:14: spec.windows[0].start: invalid time "
                            "\"25:00\": write HH:MM on a 24-hour clock, e.g. \"10:00\""}},
        FixtureCase{"bad-freeze.yaml",
                    {kDir + "bad-freeze.yaml:18:12: spec.freezes[0].end: must be after start",
                     kDir + "bad-freeze.yaml:20:14: spec.freezes[1].start: invalid time \"24 Dec "
                            "2026\": write an RFC 3339 time with a zone, e.g. "
                            "\"2026-12-20T00:00:00Z\" or \"2026-12-20T08:00:00+02:00\""}},
        FixtureCase{"dangling-port-service.yaml",
                    {kDir + "dangling-port-service.yaml:18:16: spec.runtime.local.ports.wbe: "
                            "unknown service of Application \"shop\": \"wbe\" (did you mean "
                            "\"web\"?)"}},
        FixtureCase{"bad-enum.yaml",
                    {kDir + "bad-enum.yaml:16:13: spec.strategy: unknown value \"canery\" (did "
                            "you mean \"canary\"?; expected one of: rolling, blue-green, canary)"}},
        FixtureCase{"bad-builtin-query.yaml",
                    {kDir + "bad-builtin-query.yaml:9:14: spec.metrics[0].query: unknown value "
                            "\"latency_p59\" (did you mean \"latency_p50\"?; expected one of: "
                            "error_rate, latency_p50, latency_p95, latency_p99, request_rate, "
                            "availability)",
                     kDir + "bad-builtin-query.yaml:11:15: spec.metrics[0].noData: unknown value "
                            "\"maybe\" (expected one of: pass, fail, inconclusive, error)"}}),
    [](const ::testing::TestParamInfo<FixtureCase>& param_info) {
      std::string name;
      for (const char c : param_info.param.file.substr(0, param_info.param.file.find('.'))) {
        name += (c == '-') ? '_' : c;
      }
      return name;
    });

TEST(LoaderTest, ReportsEveryMistakeOfOneFileInOnePassInFileOrder) {
  const auto result = loadConfig(fixture("many-mistakes.yaml"));
  ASSERT_FALSE(result.ok());
  const std::string f = kDir + "many-mistakes.yaml:";
  EXPECT_THAT(
      messages(result),
      ElementsAre(
          f + "9:18: spec.services[0].instances: must be between 1 and 1000, got 0",
          f + "11:48: spec.services[0].local.command[2]: unknown substitution \"${PROT}\" (did "
              "you mean \"${PORT}\"?; supported: ${PORT}, ${VERSION}, ${SERVICE}, "
              "${ENVIRONMENT}, ${ARTIFACT})",
          f + "12:7: spec.services[1].name: duplicate service \"web\" (first defined at " +
              kSourceDir + "/tests/data/config/many-mistakes.yaml:8:7)",
          f + "14:7: spec.services[1].helth: unknown field \"helth\" (did you mean \"health\"?)",
          f + "21:17: spec.promotesFrom: unknown Environment \"stagign\" (did you mean "
              "\"staging\"?)",
          f + "26:28: spec.canary.steps[1].pause.duration: invalid duration \"15\": missing unit "
              "(ms, s, m, h or d) (write e.g. 30s, 15m, 1h30m, 2d)",
          f + "27:9: spec.canary.steps[2].setWeight: weight 10 is lower than the previous "
              "setWeight 20 (spec.canary.steps[0]); weights must not decrease",
          f + "28:33: spec.canary.steps[3].analysis.templates[0]: unknown AnalysisTemplate "
              "\"eror-rate\" (did you mean \"error-rate\"?)",
          f + "34:17: spec.windows[0].timezone: unsupported timezone \"CEST\": write \"UTC\" or "
              "a fixed offset such as \"+02:00\" or \"-05:00\" (named zones are not supported)",
          f + "37:7: kind: unknown kind \"AnalysisTemplat\" (did you mean \"AnalysisTemplate\"?)",
          f + "51:14: spec.metrics[0].count: must be between 0 and 100000, got -1",
          f + "54:9: YAML syntax error: illegal map value",
          f + "64:12: spec.approvals.roles: expected a list, got \"tech-lead\" (write [tech-lead])"));
}

TEST(LoaderTest, DecreasingWeightIsReportedWithoutAlsoComplainingAboutTheEnd) {
  // steps 50 -> 10 -> 100: one mistake, one message.
  const auto result = loadConfig(fixture("weights-decreasing.yaml"));
  EXPECT_EQ(result.diagnostics.size(), 1U);
}

TEST(LoaderTest, MissingFileIsADiagnosticWithoutLineNumbers) {
  const auto result = loadConfig(fixture("does-not-exist.yaml"));
  EXPECT_THAT(messages(result),
              ElementsAre(kDir + "does-not-exist.yaml: cannot read: no such file or directory"));
}

TEST(LoaderTest, UnreadableFileIsADiagnostic) {
  const auto dir = std::filesystem::temp_directory_path() / "runway-config-test-unreadable";
  std::filesystem::create_directories(dir);
  // A directory named like a YAML file cannot be read as one.
  std::filesystem::create_directories(dir / "broken.yaml");
  const auto result = loadConfig((dir / "broken.yaml").string() + "/");
  EXPECT_FALSE(result.ok());
  ASSERT_EQ(result.diagnostics.size(), 1U);
  EXPECT_EQ(result.diagnostics[0].location.line, 0);
  std::filesystem::remove_all(dir);
}

TEST(LoaderTest, EmptyDirectoryIsADiagnostic) {
  const auto dir = std::filesystem::temp_directory_path() / "runway-config-test-empty";
  std::filesystem::create_directories(dir);
  const auto result = loadConfig(dir.string());
  EXPECT_THAT(messages(result),
              ElementsAre(dir.string() + ": no *.yaml or *.yml files in this directory"));
  std::filesystem::remove_all(dir);
}

TEST(LoaderTest, DirectoryReadsYamlAndYmlSortedByNameNotRecursively) {
  const auto result = loadConfig(fixture("dir"));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const auto& config = *result.config;
  ASSERT_EQ(config.files.size(), 3U);
  EXPECT_EQ(config.files[0], fixture("dir/10-application.yaml"));
  EXPECT_EQ(config.files[1], fixture("dir/20-environment.yml"));
  EXPECT_EQ(config.files[2], fixture("dir/30-template.yaml"));
  EXPECT_EQ(config.applications.size(), 1U);
  EXPECT_EQ(config.environments.size(), 1U);
  ASSERT_EQ(config.templates.size(), 1U);  // nested/99-ignored.yaml is not read
  EXPECT_EQ(config.templates[0].location.file, fixture("dir/30-template.yaml"));
}

TEST(LoaderTest, DiagnosticsOfSeveralFilesFollowFileOrder) {
  const auto dir = std::filesystem::temp_directory_path() / "runway-config-test-order";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "b.yaml") << "apiVersion: runway/v1\nkind: Environment\nmetadata: {name: "
                                   "dev}\nspec:\n  promotesFrom: nowhere\n";
  std::ofstream(dir / "a.yaml") << "apiVersion: runway/v1\nkind: Application\nmetadata: {name: "
                                   "shop}\nspec:\n  services:\n    - name: web\n      image: x\n"
                                   "      port: 0\n";
  const auto result = loadConfig(dir.string());
  const auto a = (dir / "a.yaml").string();
  const auto b = (dir / "b.yaml").string();
  EXPECT_THAT(
      messages(result),
      ElementsAre(a + ":8:13: spec.services[0].port: must be between 1 and 65535, got 0",
                  b + ":5:3: spec.runtime: service \"web\" has no local.command, which the local "
                      "runtime needs",
                  b + ":5:17: spec.promotesFrom: unknown Environment \"nowhere\" (defined: dev)"));
  std::filesystem::remove_all(dir);
}

TEST(LoaderTest, MultiDocumentFileWithEmptyDocumentsAndComments) {
  const std::string text = R"(# leading comment
---
apiVersion: runway/v1
kind: Application
metadata: {name: shop}
spec:
  services:
    - name: web
      local: {command: [web]}
---
# an empty document
---
apiVersion: runway/v1
kind: Environment
metadata: {name: dev}
spec: {}
---
apiVersion: runway/v1
kind: Environment
metadata: {name: prod}
spec: {promotesFrom: dev}
...
)";
  const auto result = loadConfigText(text, "multi.yaml");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->applications.size(), 1U);
  ASSERT_EQ(result.config->environments.size(), 2U);
  EXPECT_EQ(result.config->environments[1].location.line, 18);
  EXPECT_EQ(result.config->environments[1].promotes_from, "dev");
  EXPECT_EQ(result.config->files, std::vector<std::string>{"multi.yaml"});
}

// The canary's scale-down delay after success and its initial-deploy setting (issue 13): read
// when valid, and a bad value is an error at its file:line:column like every other field.
TEST(LoaderTest, CanaryScaleDownDelayAndInitialDeploy) {
  const std::string head =
      "apiVersion: runway/v1\nkind: Application\nmetadata: {name: shop}\n"
      "spec: {services: [{name: web, local: {command: [web]}}]}\n---\n"
      "apiVersion: runway/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n"
      "  strategy: canary\n  canary:\n    steps: [{setWeight: 100}]\n";
  const auto good = loadConfigText(head + "    scaleDownDelay: 5m\n    initialDeploy: runSteps\n", "t.yaml");
  ASSERT_TRUE(good.ok()) << (good.diagnostics.empty() ? "" : good.diagnostics[0].format());
  EXPECT_EQ(good.config->environments[0].canary.scale_down_delay, std::chrono::minutes(5));
  EXPECT_TRUE(good.config->environments[0].canary.steps_on_initial_deploy);
  const auto skip = loadConfigText(head + "    initialDeploy: skipSteps\n", "t.yaml");
  ASSERT_TRUE(skip.ok());
  EXPECT_FALSE(skip.config->environments[0].canary.steps_on_initial_deploy);

  const auto bad = loadConfigText(head + "    scaleDownDelay: soon\n    initialDeploy: always\n", "t.yaml");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(messages(bad),
              ElementsAre("t.yaml:13:21: spec.canary.scaleDownDelay: invalid duration \"soon\": "
                          "expected a number (write e.g. 30s, 15m, 1h30m, 2d)",
                          "t.yaml:14:20: spec.canary.initialDeploy: unknown value \"always\" "
                          "(expected one of: skipSteps, runSteps)"));
}

TEST(LoaderTest, SyntaxErrorInOneDocumentDoesNotHideErrorsInOthers) {
  const std::string text =
      "apiVersion: runway/v1\nkind: Application\nmetadata: {name: shop}\nspec: {services: [}\n"
      "---\napiVersion: runway/v1\nkind: Environmnt\nmetadata: {name: dev}\nspec: {}\n";
  const auto result = loadConfigText(text, "t.yaml");
  ASSERT_EQ(result.diagnostics.size(), 2U);
  EXPECT_EQ(result.diagnostics[0].location.line, 4);
  EXPECT_EQ(result.diagnostics[1].format(),
            "t.yaml:7:7: kind: unknown kind \"Environmnt\" (did you mean \"Environment\"?)");
}

TEST(LoaderTest, UnclosedFlowIsReportedAtTheEndOfItsDocumentNotInTheNext) {
  const std::string text =
      "apiVersion: runway/v1\nkind: Application\nmetadata: {name: shop\n\n---\n"
      "apiVersion: runway/v1\nkind: Environment\nmetadata: {name: dev}\nspec: {}\n";
  const auto result = loadConfigText(text, "t.yaml");
  ASSERT_FALSE(result.diagnostics.empty());
  EXPECT_EQ(result.diagnostics[0].format(),
            "t.yaml:3:22: YAML syntax error: end of map flow not found");
}

// yaml-cpp 0.7's LoadAll() loops forever, allocating, on a stray ',' where a node should start
// (found by tests/fuzz/config; the minimised input is below): the loader refuses it as a syntax
// error at that place instead of hanging `runway validate` and `runway serve`.
TEST(LoaderTest, AStrayCommaIsASyntaxErrorNotAHang) {
  const std::string text =
      "apiVersion: runway/v1\nkind: Environment\nmetadata: {name: production}\n---\n"
      "  ,   - setWeight: 10\n";
  const auto result = loadConfigText(text, "t.yaml");
  ASSERT_FALSE(result.diagnostics.empty());
  EXPECT_EQ(result.diagnostics.back().format(),
            "t.yaml:5:3: YAML syntax error: unexpected ',' where a value should start");
  for (const std::string alone : {",", "\n,\n", "- a\n,"}) {
    const auto r = loadConfigText(alone, "t.yaml");
    ASSERT_FALSE(r.diagnostics.empty()) << alone;
    EXPECT_NE(r.diagnostics[0].message.find("YAML syntax error"), std::string::npos) << r.diagnostics[0].format();
  }
}

// Mangled versions of the runbook never crash the loader, and every diagnostic points inside
// the text it was given.
TEST(LoaderTest, MangledConfigurationsNeverCrashAndStayLocated) {
  std::string original;
  for (const auto* name : {"application.yaml", "environments.yaml", "analysis.yaml"}) {
    std::ifstream in(kSourceDir + "/examples/runbook/" + name);
    std::stringstream text;
    text << in.rdbuf();
    original += text.str() + "\n---\n";
  }
  ASSERT_TRUE(loadConfigText(original, "fuzz.yaml").ok());
  std::mt19937 random(20261126);
  const std::string alphabet = ":-{}[]\"' \n#&*!|>%@`,?xX0$";
  int failing = 0;
  for (int round = 0; round < 200; ++round) {
    std::string text = original;
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const auto at = static_cast<std::size_t>(random() % text.size());
      switch (random() % 4) {
        case 0:
          text[at] = alphabet[random() % alphabet.size()];
          break;
        case 1:
          text.erase(at, 1 + random() % 20);
          break;
        case 2:
          text.insert(at, text.substr(random() % text.size(), 1 + random() % 40));
          break;
        default:
          text.resize(at);
          break;
      }
    }
    const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
    LoadResult result;
    ASSERT_NO_THROW(result = loadConfigText(text, "fuzz.yaml")) << text;
    EXPECT_EQ(result.config.has_value(), result.diagnostics.empty());
    if (!result.ok()) ++failing;
    for (const auto& d : result.diagnostics) {
      EXPECT_EQ(d.location.file, "fuzz.yaml");
      EXPECT_GE(d.location.line, 1) << d.format();
      EXPECT_LE(d.location.line, lines) << d.format();
      EXPECT_GE(d.location.column, 1) << d.format();
      EXPECT_FALSE(d.message.empty());
    }
  }
  EXPECT_GT(failing, 100);  // the mutations really do break things
}

// Smaller error classes, checked on text: (yaml, exact messages).
struct TextCase {
  std::string name;
  std::string yaml;
  std::vector<std::string> expected;
};

void PrintTo(const TextCase& c, std::ostream* os) { *os << c.name; }

class TextErrorTest : public ::testing::TestWithParam<TextCase> {};

TEST_P(TextErrorTest, ReportsExactly) {
  const auto& c = GetParam();
  static const std::string kApp =
      "apiVersion: runway/v1\nkind: Application\nmetadata: {name: shop}\nspec:\n  services:\n"
      "    - name: web\n      local: {command: [web]}\n---\n";  // 8 lines
  static const std::string kTemplate =
      "\n---\napiVersion: runway/v1\nkind: AnalysisTemplate\nmetadata: {name: errors}\nspec:\n"
      "  metrics:\n    - name: error-rate\n      query: error_rate\n      failureCondition: "
      "\"result > ${threshold}\"\n";
  const auto result = loadConfigText(kApp + c.yaml + kTemplate, "t.yaml");
  EXPECT_FALSE(result.ok());
  std::vector<std::string> got;
  for (const auto& d : result.diagnostics) got.push_back(d.format());
  EXPECT_THAT(got, ElementsAreArray(c.expected));
}

// env(): lines 9-12; spec lines start at 13.
INSTANTIATE_TEST_SUITE_P(
    MoreErrorClasses, TextErrorTest,
    ::testing::Values(
        TextCase{"not_a_mapping", "- just\n- a list\n",
                 {"t.yaml:9:1: a document must be a mapping with apiVersion, kind, metadata and "
                  "spec, got a list"}},
        TextCase{"missing_spec_and_name",
                 "apiVersion: runway/v1\nkind: Environment\nmetadata: {}\n",
                 {"t.yaml:9:1: spec: required field is missing",
                  "t.yaml:11:11: metadata.name: required field is missing"}},
        TextCase{"invalid_name",
                 "apiVersion: runway/v1\nkind: Environment\nmetadata: {name: Prod}\nspec: {}\n",
                 {"t.yaml:11:18: metadata.name: invalid name \"Prod\": use 1-63 lowercase "
                  "letters, digits and '-', starting with a letter and not ending with '-'"}},
        TextCase{"self_promotion", env("  promotesFrom: prod\n"),
                 {"t.yaml:13:17: spec.promotesFrom: an environment cannot promote from itself"}},
        TextCase{"canary_without_block", env("  strategy: canary\n"),
                 {"t.yaml:13:13: spec.canary: strategy \"canary\" needs a canary block with "
                  "steps"}},
        TextCase{"two_actions_in_a_step",
                 env("  canary:\n    steps:\n      - {setWeight: 100, pause: {}}\n"),
                 {"t.yaml:15:9: spec.canary.steps[0]: a step does exactly one thing, got "
                  "setWeight and pause"}},
        TextCase{"pause_shorthand",
                 env("  canary:\n    steps:\n      - setWeight: 100\n      - pause: 15m\n"),
                 {"t.yaml:16:16: spec.canary.steps[1].pause: expected a mapping, got \"15m\" "
                  "(write pause: {duration: 15m}, or pause: {} to wait until promoted)"}},
        TextCase{"no_weight", env("  canary:\n    steps:\n      - pause: {}\n"),
                 {"t.yaml:15:7: spec.canary.steps: the steps must set a weight (setWeight) and "
                  "end at setWeight: 100"}},
        TextCase{"starting_step_out_of_range",
                 env("  canary:\n    steps: [{setWeight: 100}]\n    analysis: {templates: "
                     "[errors], startingStep: 3, thresholds: {error-rate: 0.01}}\n"),
                 {"t.yaml:15:51: spec.canary.analysis.startingStep: must be between 0 and 0, got "
                  "3"}},
        TextCase{"threshold_for_unknown_metric",
                 env("  blueGreen:\n    postPromotionAnalysis:\n      templates: [errors]\n"
                     "      thresholds: {error-rat: 0.01, error-rate: lots}\n"),
                 {"t.yaml:16:20: spec.blueGreen.postPromotionAnalysis.thresholds.error-rat: no "
                  "metric \"error-rat\" with a ${threshold} condition in the referenced templates "
                  "(did you mean \"error-rate\"?)",
                  "t.yaml:16:49: spec.blueGreen.postPromotionAnalysis.thresholds.error-rate: "
                  "expected a number, got \"lots\""}},
        TextCase{"header_route_needs_one_of_header_or_cookie",
                 env("  canary:\n    steps:\n      - setHeaderRoute: {header: X-Canary, cookie: "
                     "c, value: \"1\"}\n      - setHeaderRoute: {cookie: c, match: regex, value: "
                     "\"([\"}\n      - setWeight: 100\n"),
                 {"t.yaml:15:25: spec.canary.steps[0].setHeaderRoute: set exactly one of header "
                  "or cookie",
                  "t.yaml:16:58: spec.canary.steps[1].setHeaderRoute.value: \"([\": invalid "
                  "regular expression: missing ]: [ (RE2 syntax)"}},
        TextCase{"rolling_both_zero",
                 env("  rolling: {maxSurge: 0, maxUnavailable: 0%}\n"),
                 {"t.yaml:13:12: spec.rolling: maxSurge and maxUnavailable cannot both be 0 "
                  "(nothing could move)"}},
        TextCase{"rolling_bad_percent", env("  rolling: {maxSurge: 150%}\n"),
                 {"t.yaml:13:23: spec.rolling.maxSurge: must be between 0% and 100%, got 150%"}},
        TextCase{"thresholds_out_of_range",
                 env("  thresholds: {errorRate: 5, availability: yes, latencyP95: 0s}\n"),
                 {"t.yaml:13:27: spec.thresholds.errorRate: must be between 0 and 1, got 5",
                  "t.yaml:13:44: spec.thresholds.availability: expected a number, got \"yes\"",
                  "t.yaml:13:61: spec.thresholds.latencyP95: must be longer than 0s, got 0s"}},
        TextCase{"approvals_wrong_type",
                 env("  approvals: {roles: [tech-lead, tech-lead], preventSelfApproval: "
                     "maybe}\n"),
                 {"t.yaml:13:34: spec.approvals.roles[1]: \"tech-lead\" is listed twice",
                  "t.yaml:13:67: spec.approvals.preventSelfApproval: expected true or false, got "
                  "\"maybe\""}},
        TextCase{"runtime_both_kinds",
                 env("  runtime: {local: {}, kubernetes: {namespace: prod}}\n"),
                 {"t.yaml:13:12: spec.runtime: set exactly one of local, kubernetes or simulated"}},
        TextCase{"simulated_runtime_out_of_range",
                 env("  runtime: {simulated: {errorRate: 2, readyAfter: soon, colour: red}}\n"),
                 {"t.yaml:13:36: spec.runtime.simulated.errorRate: must be between 0 and 1, got 2",
                  "t.yaml:13:51: spec.runtime.simulated.readyAfter: invalid duration \"soon\": expected a "
                  "number (write e.g. 30s, 15m, 1h30m, 2d)",
                  "t.yaml:13:57: spec.runtime.simulated.colour: unknown field \"colour\""}},
        TextCase{"kubernetes_needs_images", env("  runtime: {kubernetes: {context: c}}\n"),
                 {"t.yaml:13:12: spec.runtime.kubernetes: service \"web\" has no "
                  "kubernetes.image, which the kubernetes runtime needs"}},
        TextCase{"port_used_twice",
                 "apiVersion: runway/v1\nkind: Application\nmetadata: {name: other}\nspec:\n"
                 "  services: [{name: a, local: {command: [a]}}, {name: b, local: {command: "
                 "[b]}}]\n---\n" +
                     env("  application: other\n  runtime: {local: {ports: {a: 80, b: 80}}}\n"),
                 {"t.yaml:20:39: spec.runtime.local.ports.b: port 80 is already used by service "
                  "\"a\""}},
        TextCase{"application_required_with_two",
                 "apiVersion: runway/v1\nkind: Application\nmetadata: {name: other}\nspec:\n"
                 "  services: [{name: a, local: {command: [a]}}]\n---\n" + env("  {}\n"),
                 {"t.yaml:19:3: spec.application: required when the configuration defines more "
                  "than one Application (shop, other)"}},
        TextCase{"bad_clock_and_equal_times",
                 env("  windows:\n    - {start: \"10:00\", end: \"10:00\"}\n    - {start: "
                     "\"9:00\", end: \"24:00\"}\n"),
                 {"t.yaml:14:29: spec.windows[0].end: must differ from start (a window of zero "
                  "length never opens; leave windows out to allow any time)",
                  "t.yaml:15:15: spec.windows[1].start: invalid time \"9:00\": write HH:MM on a "
                  "24-hour clock, e.g. \"10:00\""}},
        TextCase{"check_ref_needs_something",
                 env("  blueGreen: {prePromotionChecks: {}, postPromotionChecks: {health: "
                     "deep}}\n"),
                 {"t.yaml:13:35: spec.blueGreen.prePromotionChecks: set smoke (a suite name), "
                  "health (basic, comprehensive or detailed) or both",
                  "t.yaml:13:69: spec.blueGreen.postPromotionChecks.health: unknown value "
                  "\"deep\" (expected one of: basic, comprehensive, detailed)"}},
        TextCase{"post_deploy_needs_duration", env("  postDeploy: {analysis: {templates: []}}\n"),
                 {"t.yaml:13:15: spec.postDeploy.duration: required field is missing",
                  "t.yaml:13:38: spec.postDeploy.analysis.templates: must name at least one "
                  "AnalysisTemplate"}}));

INSTANTIATE_TEST_SUITE_P(
    ServiceErrors, TextErrorTest,
    ::testing::Values(
        TextCase{"service_fields",
                 "apiVersion: runway/v1\nkind: Application\nmetadata: {name: more}\nspec:\n"
                 "  services:\n    - name: api\n      image: x\n      env: {1BAD: x, OK: "
                 "\"${VERSION\"}\n      health: {path: health, period: 0s, failureThreshold: "
                 "0}\n      resources: {cpu: lots, memory: 12Zi}\n    - name: empty\n",
                 {"t.yaml:16:13: spec.services[0].env.1BAD: invalid environment variable name "
                  "\"1BAD\": use letters, digits and '_', not starting with a digit",
                  "t.yaml:16:26: spec.services[0].env.OK: unterminated \"${\" in \"${VERSION\" "
                  "(write ${NAME}, or $$ for a literal $)",
                  "t.yaml:17:22: spec.services[0].health.path: must start with '/', got "
                  "\"health\"",
                  "t.yaml:17:38: spec.services[0].health.period: must be longer than 0s, got 0s",
                  "t.yaml:17:60: spec.services[0].health.failureThreshold: must be between 1 and "
                  "100, got 0",
                  "t.yaml:18:24: spec.services[0].resources.cpu: invalid cpu \"lots\": write "
                  "cores (0.5, 2) or millicores (500m)",
                  "t.yaml:18:38: spec.services[0].resources.memory: invalid memory quantity "
                  "\"12Zi\": write e.g. 256Mi, 1Gi, 512M or a number of bytes",
                  "t.yaml:19:7: spec.services[1]: a service needs local (to run on the embedded "
                  "runtime) or kubernetes (to run on kubernetes)"}},
        TextCase{"template_errors",
                 "apiVersion: runway/v1\nkind: AnalysisTemplate\nmetadata: {name: more}\nspec:\n"
                 "  metrics:\n    - name: a\n      query: error_rate\n    - name: a\n"
                 "      provider: prometheus\n      query: up\n      prometheus: {address: "
                 "localhost:9090}\n      web: {url: http://x}\n      failureCondition: \"result "
                 "< 1\"\n      count: 5\n",
                 {"t.yaml:14:7: spec.metrics[0]: set successCondition, failureCondition or both "
                  "(e.g. failureCondition: \"result > 0.01\")",
                  "t.yaml:16:7: spec.metrics[1].name: duplicate metric \"a\" (first defined at "
                  "t.yaml:14:7)",
                  "t.yaml:19:29: spec.metrics[1].prometheus.address: expected an http:// or "
                  "https:// address, got \"localhost:9090\"",
                  "t.yaml:20:12: spec.metrics[1].web: only used with provider: web (this metric's "
                  "provider is prometheus)",
                  "t.yaml:22:14: spec.metrics[1].count: count 5 needs an interval between "
                  "measurements"}},
        TextCase{"judge_errors",
                 "apiVersion: runway/v1\nkind: AnalysisTemplate\nmetadata: {name: judged}\nspec:\n"
                 "  metrics:\n    - name: score\n      provider: judge\n      query: x\n"
                 "      judge:\n        metrics:\n          - {name: e, query: eror_rate, "
                 "direction: up}\n        groupWeights: {a: 70, b: 40}\n        scoreThresholds: "
                 "{pass: 50, marginal: 60}\n",
                 {"t.yaml:16:14: spec.metrics[0].query: not used by provider judge (its settings "
                  "block holds the query)",
                  "t.yaml:19:30: spec.metrics[0].judge.metrics[0].query: unknown value "
                  "\"eror_rate\" (did you mean \"error_rate\"?; expected one of: error_rate, "
                  "latency_p50, latency_p95, latency_p99, request_rate, availability) (set "
                  "judge.prometheus to use PromQL queries)",
                  "t.yaml:19:52: spec.metrics[0].judge.metrics[0].direction: unknown value \"up\" "
                  "(expected one of: increase, decrease, either)",
                  "t.yaml:20:23: spec.metrics[0].judge.groupWeights: group weights must add up to "
                  "at most 100, got 110",
                  "t.yaml:21:26: spec.metrics[0].judge.scoreThresholds: marginal (60) must not be "
                  "above pass (50)"}}));

// Two templates in one analysis defining the same metric name cannot be set up when the run
// starts (and used to count as a pass): refused at load time, at the second template, in every
// place an analysis is named.
TEST(LoaderTest, RefusesMetricNamesThatCollideWithinOneAnalysis) {
  const std::string text =
      "apiVersion: runway/v1\nkind: Application\nmetadata: {name: shop}\nspec:\n  services:\n"
      "    - name: web\n      local: {command: [web]}\n"
      "---\napiVersion: runway/v1\nkind: AnalysisTemplate\nmetadata: {name: errors}\nspec:\n"
      "  metrics:\n    - {name: error-rate, query: error_rate, failureCondition: \"result > 0.01\"}\n"
      "---\napiVersion: runway/v1\nkind: AnalysisTemplate\nmetadata: {name: more-errors}\nspec:\n"
      "  metrics:\n    - {name: error-rate, query: error_rate, failureCondition: \"result > 0.05\"}\n"
      "---\napiVersion: runway/v1\nkind: Environment\nmetadata: {name: prod}\nspec:\n"
      "  canary:\n    steps:\n      - setWeight: 10\n"
      "      - analysis: {templates: [errors, more-errors]}\n"  // line 30
      "      - setWeight: 100\n"
      "    analysis: {templates: [more-errors, errors]}\n"  // line 32
      "  postDeploy: {duration: 1h, analysis: {templates: [errors, more-errors]}}\n"  // line 33
      "---\napiVersion: runway/v1\nkind: Environment\nmetadata: {name: staging}\nspec:\n"
      "  blueGreen:\n"
      "    prePromotionAnalysis: {templates: [errors, more-errors]}\n"     // line 40
      "    postPromotionAnalysis: {templates: [more-errors, errors]}\n";   // line 41
  const auto result = loadConfigText(text, "t.yaml");
  ASSERT_FALSE(result.ok());
  std::vector<std::string> got;
  for (const auto& d : result.diagnostics) got.push_back(d.format());
  const std::string a =
      "template \"more-errors\" defines metric \"error-rate\", which template \"errors\" in this "
      "analysis defines too; one analysis measures each metric name once (rename one of the "
      "metrics)";
  const std::string b =
      "template \"errors\" defines metric \"error-rate\", which template \"more-errors\" in this "
      "analysis defines too; one analysis measures each metric name once (rename one of the "
      "metrics)";
  EXPECT_THAT(got, ElementsAre("t.yaml:30:40: spec.canary.steps[1].analysis.templates[1]: " + a,
                               "t.yaml:32:41: spec.canary.analysis.templates[1]: " + b,
                               "t.yaml:33:61: spec.postDeploy.analysis.templates[1]: " + a,
                               "t.yaml:40:48: spec.blueGreen.prePromotionAnalysis.templates[1]: " + a,
                               "t.yaml:41:54: spec.blueGreen.postPromotionAnalysis.templates[1]: " + b));
}

// A condition with ${threshold} and no value for it in the analysis that uses the template
// cannot be parsed when the run starts: refused at load time.
TEST(LoaderTest, RefusesAThresholdConditionWithoutItsValue) {
  const std::string text =
      "apiVersion: runway/v1\nkind: Application\nmetadata: {name: shop}\nspec:\n  services:\n"
      "    - name: web\n      local: {command: [web]}\n"
      "---\napiVersion: runway/v1\nkind: AnalysisTemplate\nmetadata: {name: errors}\nspec:\n"
      "  metrics:\n    - {name: error-rate, query: error_rate, failureCondition: \"result > "
      "${threshold}\"}\n"
      "---\napiVersion: runway/v1\nkind: Environment\nmetadata: {name: prod}\nspec:\n"
      "  canary:\n    steps:\n      - setWeight: 10\n"
      "      - analysis: {templates: [errors], thresholds: {error-rate: 0.01}}\n"  // line 23: ok
      "      - setWeight: 100\n"
      "    analysis: {templates: [errors]}\n";  // line 25
  const auto result = loadConfigText(text, "t.yaml");
  ASSERT_FALSE(result.ok());
  std::vector<std::string> got;
  for (const auto& d : result.diagnostics) got.push_back(d.format());
  EXPECT_THAT(got, ElementsAre("t.yaml:25:28: spec.canary.analysis.templates[0]: metric "
                               "\"error-rate\" of template \"errors\" uses ${threshold} in its "
                               "conditions; give its value in this analysis' thresholds "
                               "(thresholds: {error-rate: <number>})"));
}

// Issue 14 item 4: whether a rollback passes the deploy gates is said per environment.
TEST(LoaderTest, RollbackGatesAreSkipOrEnforcePerEnvironment) {
  const std::string app =
      "apiVersion: runway/v1\nkind: Application\nmetadata: {name: shop}\nspec:\n  services:\n"
      "    - name: web\n      local: {command: [web]}\n";
  const auto env = [](const std::string& name, const std::string& rollback) {
    return "---\napiVersion: runway/v1\nkind: Environment\nmetadata: {name: " + name + "}\nspec:\n" + rollback;
  };
  auto ok = loadConfigText(app + env("prod", "  rollback: {gates: enforce}\n") + env("staging", "  rollbackWindow: 1\n"), "t.yaml");
  ASSERT_TRUE(ok.ok()) << ok.diagnostics.front().format();
  EXPECT_EQ(ok.config->findEnvironment("prod")->rollback.gates, RollbackPolicy::Gates::Enforce);
  EXPECT_EQ(ok.config->findEnvironment("staging")->rollback.gates, RollbackPolicy::Gates::Skip);

  auto bad = loadConfigText(app + env("prod", "  rollback: {gates: always, approvals: true}\n"), "t.yaml");
  ASSERT_FALSE(bad.ok());
  std::vector<std::string> got;
  for (const auto& d : bad.diagnostics) got.push_back(d.format());
  EXPECT_THAT(got, ElementsAre("t.yaml:13:21: spec.rollback.gates: unknown value \"always\" (expected one "
                               "of: skip, enforce)",
                               "t.yaml:13:29: spec.rollback.approvals: unknown field \"approvals\""));
}

}  // namespace
}  // namespace runway::config

namespace runway::config {
namespace {

// `runtime: {simulated: {...}}` (issue 18's simulated runtime, built for `runway rehearse`):
// its model's fields, and its defaults when written empty.
TEST(LoaderTest, SimulatedRuntimeReadsItsModel) {
  const std::string app =
      "apiVersion: runway/v1\nkind: Application\nmetadata: {name: shop}\nspec:\n  services:\n"
      "    - name: web\n      local: {command: [web]}\n---\n";
  const auto result = loadConfigText(
      app +
          "apiVersion: runway/v1\nkind: Environment\nmetadata: {name: a}\nspec:\n"
          "  runtime: {simulated: {readyAfter: 2s, requestsPerSecond: 400, errorRate: 0.02, latencyP95: 300ms, "
          "seed: 9}}\n---\n"
          "apiVersion: runway/v1\nkind: Environment\nmetadata: {name: b}\nspec:\n  runtime: {simulated: {}}\n",
      "t.yaml");
  std::string all;
  for (const auto& d : result.diagnostics) all += d.format() + "\n";
  ASSERT_TRUE(result.ok()) << all;
  const auto& a = result.config->findEnvironment("a")->runtime;
  EXPECT_EQ(a.kind, RuntimeSpec::Kind::Simulated);
  EXPECT_EQ(a.simulated.ready_after, std::chrono::seconds(2));
  EXPECT_EQ(a.simulated.requests_per_second, 400);
  EXPECT_EQ(a.simulated.error_rate, 0.02);
  EXPECT_EQ(a.simulated.latency_p95, std::chrono::milliseconds(300));
  EXPECT_EQ(a.simulated.seed, 9u);
  EXPECT_EQ(toString(a.kind), "simulated");
  const auto& b = result.config->findEnvironment("b")->runtime;
  EXPECT_EQ(b.kind, RuntimeSpec::Kind::Simulated);
  EXPECT_EQ(b.simulated.ready_after, std::chrono::seconds(10));
  EXPECT_EQ(b.simulated.seed, 1u);
}

}  // namespace
}  // namespace runway::config
