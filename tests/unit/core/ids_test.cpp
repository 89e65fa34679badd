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
