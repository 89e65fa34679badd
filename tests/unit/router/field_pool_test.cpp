#include "field_pool.hpp"

#include <string>

#include <gtest/gtest.h>

#include "routing.hpp"

namespace runway::router {
namespace {

namespace http = boost::beast::http;

TEST(FieldPool, AFreedBlockIsReusedForTheSameSizeClass) {
  FieldPool pool;
  void* a = pool.allocate(100);
  pool.deallocate(a, 100);
  // 97..128 bytes share a class: the block comes back.
  void* b = pool.allocate(120);
  EXPECT_EQ(a, b);
  void* c = pool.allocate(120);
  EXPECT_NE(b, c);
  pool.deallocate(b, 120);
  pool.deallocate(c, 120);
}

TEST(FieldPool, ClassesAreSeparateAndBigBlocksAreNotKept) {
  FieldPool pool;
  void* small = pool.allocate(10);
  pool.deallocate(small, 10);
  void* other = pool.allocate(200);
  EXPECT_NE(small, other);
  pool.deallocate(other, 200);
  // Above the largest class: operator new and delete each time (ASan checks the pairing).
  void* big = pool.allocate(4096);
  pool.deallocate(big, 4096);
  void* zero = pool.allocate(0);
  pool.deallocate(zero, 0);
}

TEST(FieldPool, KeepsAtMostTheCapPerClass) {
  FieldPool pool;
  std::vector<void*> blocks;
  for (std::uint32_t i = 0; i < FieldPool::kMaxPerClass + 10; ++i) blocks.push_back(pool.allocate(64));
  // The blocks past the cap are freed on the spot (LeakSanitizer would see them otherwise).
  for (void* b : blocks) pool.deallocate(b, 64);
}

// The router's fields behave as Beast's with the pool behind them, through many requests'
// worth of inserts, replacements and erasures (ASan sees any block freed to the wrong place).
TEST(FieldPool, FieldsFromThePoolAcrossRequests) {
  FieldPool pool;
  for (int request = 0; request < 50; ++request) {
    Fields f{FieldAllocator<char>{pool}};
    f.set(http::field::host, "example.test");
    f.insert(http::field::connection, "keep-alive, X-Drop");
    f.insert("X-Drop", "1");
    f.insert("X-Keep", std::string(static_cast<std::size_t>(request * 40), 'k'));
    f.set("X-Forwarded-For", "10.0.0." + std::to_string(request));
    stripHopByHop(f);
    EXPECT_EQ(f.count(http::field::connection), 0u);
    EXPECT_EQ(f.count("X-Drop"), 0u);
    EXPECT_EQ(f["X-Keep"].size(), static_cast<std::size_t>(request * 40));
    EXPECT_EQ(f[http::field::host], "example.test");
    Fields copy = f;  // same pool: the copy's fields come from it too
    EXPECT_EQ(copy["X-Forwarded-For"], "10.0.0." + std::to_string(request));
  }
  // Without a pool: operator new.
  Fields plain;
  plain.set(http::field::host, "h");
  EXPECT_EQ(plain[http::field::host], "h");
}

}  // namespace
}  // namespace runway::router
