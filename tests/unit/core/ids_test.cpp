#include "runway/core/ids.hpp"

#include <set>

#include <gtest/gtest.h>

namespace runway {
namespace {

TEST(IdGeneratorTest, IdsSortByCreationAndAreUnique) {
  auto clock = std::make_shared<FakeClock>();
  IdGenerator ids(clock, seededRandom(7));
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    clock->advance(Duration{1});
    auto id = ids.next("dep");
    EXPECT_EQ(id.rfind("dep-", 0), 0U);
    EXPECT_EQ(id.size(), 4U + 10U + 1U + 6U);
    EXPECT_GT(id, previous);
    EXPECT_TRUE(seen.insert(id).second);
    previous = id;
  }
}

TEST(IdGeneratorTest, SeededIsReproducible) {
  auto clock = std::make_shared<FakeClock>();
  IdGenerator a(clock, seededRandom(42));
  IdGenerator b(clock, seededRandom(42));
  EXPECT_EQ(a.next("x"), b.next("x"));
}

TEST(RequestIdTest, UsableIdsAreShortAndPlain) {
  for (const char* ok : {"abc-123", "6f1c0c1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f", "x.y_1"}) {
    EXPECT_TRUE(isUsableRequestId(ok)) << ok;
  }
  for (const char* bad : {"", "has space", "quote\"", "semi;colon", "new\nline", "a+b/c=", "caf\xc3\xa9"}) {
    EXPECT_FALSE(isUsableRequestId(bad)) << bad;
  }
  EXPECT_TRUE(isUsableRequestId(std::string(64, 'a')));
  EXPECT_FALSE(isUsableRequestId(std::string(65, 'a')));
}

TEST(HttpTokenTest, HeaderAndCookieNames) {
  for (const char* ok : {"X-Canary", "runway-version", "a!#$%&'*+.^_`|~"}) EXPECT_TRUE(isHttpToken(ok)) << ok;
  for (const char* bad : {"", "X Canary", "a;b", "a=b", "a\"b", "caf\xc3\xa9"}) EXPECT_FALSE(isHttpToken(bad)) << bad;
}

TEST(NameTest, AcceptsDnsLabels) {
  for (const char* ok : {"api", "data-service", "v2", "a", "production"}) {
    EXPECT_TRUE(isValidName(ok)) << ok;
  }
  for (const char* bad : {"", "Api", "-api", "api-", "1api", "data_service", "a.b",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_FALSE(isValidName(bad)) << bad;
  }
  auto r = validateName("service", "Data_Service");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("invalid service name \"Data_Service\""), std::string::npos);
}

}  // namespace
}  // namespace runway
