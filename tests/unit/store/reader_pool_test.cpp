#include "reader_pool.hpp"

#include <string>

#include <gtest/gtest.h>

namespace runway::store {
namespace {

// A connection that cannot be opened is an error for that call, never a lease on nothing; the
// next call on the same slot tries to open it again.
TEST(ReaderPool, AConnectionThatCannotBeOpenedIsAnErrorAndIsTriedAgainNextTime) {
  ReaderPool<std::string, 1> pool;
  int opens = 0;
  auto failing = [&]() -> Result<std::string> {
    ++opens;
    return fail(ErrorCode::Unavailable, "the database is down");
  };
  auto refused = pool.acquire(failing);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(opens, 1);

  auto working = [&]() -> Result<std::string> {
    ++opens;
    return std::string("connection ") + std::to_string(opens);
  };
  {
    auto lease = pool.acquire(working);
    ASSERT_TRUE(lease) << lease.error().message;
    EXPECT_EQ(lease->conn(), "connection 2");
  }
  // Opened once: the next call reuses it.
  auto again = pool.acquire(working);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->conn(), "connection 2");
  EXPECT_EQ(opens, 2);
}

// A free connection is taken rather than waiting for a busy one; each slot opens its own.
TEST(ReaderPool, ABusyConnectionIsPassedOverForAFreeOne) {
  ReaderPool<int, 2> pool;
  int opens = 0;
  auto open = [&]() -> Result<int> { return ++opens; };
  auto first = pool.acquire(open);
  ASSERT_TRUE(first);
  auto second = pool.acquire(open);  // the first is still lent out
  ASSERT_TRUE(second);
  EXPECT_NE(first->conn(), second->conn());
  EXPECT_EQ(opens, 2);
}

}  // namespace
}  // namespace runway::store
