#include "runway/checks/registry.hpp"

#include <gtest/gtest.h>

#include "runway/checks/health.hpp"
#include "runway/checks/preflight.hpp"

namespace runway::checks {
namespace {

TEST(ImageReferenceTest, RegistryHostRepositoryAndTag) {
  auto a = parseImageReference("registry.example.com/shop/api", "v1.2.3");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->registry, "registry.example.com");
  EXPECT_EQ(a->repository, "shop/api");
  EXPECT_EQ(a->tag, "v1.2.3");
  auto b = parseImageReference("localhost/api", "abc123");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->registry, "localhost");
  auto c = parseImageReference("127.0.0.1:5000/api", "v1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->registry, "127.0.0.1:5000");
  EXPECT_EQ(c->repository, "api");
  auto hub = parseImageReference("bitnami/redis", "7");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->registry, "registry-1.docker.io");
  EXPECT_EQ(hub->repository, "bitnami/redis");
  auto library = parseImageReference("redis", "7");
  ASSERT_TRUE(library);
  EXPECT_EQ(library->repository, "library/redis");
}

TEST(ImageReferenceTest, BadInput) {
  EXPECT_FALSE(parseImageReference("", "v1"));
  EXPECT_FALSE(parseImageReference("shop/api", ""));
  EXPECT_FALSE(parseImageReference("shop/api", "-v1"));
  EXPECT_FALSE(parseImageReference("shop/api", "v1/x"));
  EXPECT_FALSE(parseImageReference("registry.example.com/", "v1"));
}

TEST(LevelTest, ParsesTheNamedLevelsOnly) {
  EXPECT_EQ(*parseHealthLevel("detailed"), HealthLevel::Detailed);
  EXPECT_FALSE(parseHealthLevel("full"));
  EXPECT_EQ(*parsePreflightLevel("comprehensive"), PreflightLevel::Comprehensive);
  EXPECT_FALSE(parsePreflightLevel("detailed"));
}

}  // namespace
}  // namespace runway::checks
