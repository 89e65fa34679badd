#include "runway/core/redact.hpp"

#include <algorithm>
#include <cstdlib>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "runway/core/child_environment.hpp"
#include "runway/core/logging.hpp"

namespace runway {
namespace {

constexpr const char* kToken = "rwy_0123456789abcdef_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";

TEST(RedactTest, DeclaredValuesAreReplacedLongestFirst) {
  SecretRedactor r;
  r.setValues({"hunter2-long", "hunter2", "ab"});
  EXPECT_EQ(r.redact("pw=hunter2-long; other=hunter2!"), "pw=[redacted]; other=[redacted]!");
  // Too short to be declared: left alone.
  EXPECT_EQ(r.redact("ab cd"), "ab cd");
  EXPECT_EQ(r.redact(""), "");
}

TEST(RedactTest, NothingIsMatchedInsideAReplacement) {
  SecretRedactor r;
  r.setValues({"secret-value", "dacted"});
  EXPECT_EQ(r.redact("secret-value"), "[redacted]");
}

TEST(RedactTest, TokenShapedTextIsRedactedWithoutBeingDeclared) {
  SecretRedactor r;
  EXPECT_EQ(r.redact(std::string("Authorization: Bearer ") + kToken + "\n"),
            "Authorization: Bearer [redacted]\n");
  // Not a token: too short, uppercase in the id, no separator.
  EXPECT_EQ(r.redact("rwy_0123456789abcdef_short"), "rwy_0123456789abcdef_short");
  EXPECT_EQ(r.redact("rwy_0123456789ABCDEF_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"),
            "rwy_0123456789ABCDEF_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde");
  EXPECT_EQ(r.redact("rwy_rwy_"), "rwy_rwy_");
}

TEST(RedactTest, AddValueKeepsTheOthers) {
  SecretRedactor r;
  r.addValue("first-secret");
  r.addValue("second-secret");
  EXPECT_EQ(r.redact("first-secret second-secret"), "[redacted] [redacted]");
}

TEST(RedactTest, LogLinesAreRedactedInBothFormats) {
  secretRedactor().setValues({"log-secret-42"});
  for (auto format : {LogFormat::Human, LogFormat::Json}) {
    ASSERT_TRUE(initLogging(format, "info"));
    ::testing::internal::CaptureStderr();
    spdlog::info("connecting with log-secret-42 and {}", kToken);
    const auto out = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(out.find("log-secret-42"), std::string::npos) << out;
    EXPECT_EQ(out.find(kToken), std::string::npos) << out;
    EXPECT_NE(out.find("connecting with [redacted] and [redacted]"), std::string::npos) << out;
  }
  secretRedactor().setValues({});
}

TEST(ChildEnvironmentTest, OnlyTheBaseIsTakenFromTheProcess) {
  ASSERT_EQ(::setenv("RUNWAY_TEST_PASSWORD", "do-not-pass", 1), 0);
  ASSERT_EQ(::setenv("TZ", "UTC", 1), 0);
  ASSERT_EQ(::unsetenv("LC_ALL"), 0);
  const auto env = baseChildEnvironment();
  EXPECT_EQ(env.count("RUNWAY_TEST_PASSWORD"), 0u);
  EXPECT_EQ(env.count("LC_ALL"), 0u);  // unset: left out, not set empty
  ASSERT_EQ(env.count("TZ"), 1u);
  EXPECT_EQ(env.at("TZ"), "UTC");
  for (const auto& [name, value] : env) {
    EXPECT_NE(std::find(inheritedVariableNames().begin(), inheritedVariableNames().end(), name),
              inheritedVariableNames().end())
        << name;
  }
  ::unsetenv("RUNWAY_TEST_PASSWORD");
}

}  // namespace
}  // namespace runway
