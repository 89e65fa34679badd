#pragma once

// The memory of the request path's header fields. Beast's basic_fields allocates one block per
// field (and one for the request target or the reason): about 13 per proxied request, which
// with malloc and free cost ~3,500 instructions per request (docs/benchmarks.md, Router). A
// FieldPool keeps the blocks freed by one request for the next, in free lists by size, so the
// next request's fields reuse them without calling malloc.

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>

#include <boost/beast/http/fields.hpp>

namespace runway::router {

// Free lists of blocks of 32, 64, ... 1,024 bytes, at most kMaxPerClass blocks each (so at most
// ~4 MB kept, whatever the load was); bigger blocks go straight to operator new. One per worker
// thread. Not thread-safe: used from one thread at a time.
class FieldPool {
 public:
  FieldPool() = default;
  ~FieldPool() {
    for (auto* head : free_) {
      while (head != nullptr) {
        auto* next = head->next;
        ::operator delete(head);
        head = next;
      }
    }
  }
  FieldPool(const FieldPool&) = delete;
  FieldPool& operator=(const FieldPool&) = delete;

  void* allocate(std::size_t bytes) {
    const std::size_t c = sizeClass(bytes);
    if (c >= kClasses) return ::operator new(bytes);
    if (Node* n = free_[c]) {
      free_[c] = n->next;
      --count_[c];
      return n;
    }
    return ::operator new((c + 1) * kGranule);
  }

  // REQUIRES: p came from allocate(bytes) on this pool.
  void deallocate(void* p, std::size_t bytes) noexcept {
    const std::size_t c = sizeClass(bytes);
    if (c >= kClasses || count_[c] >= kMaxPerClass) {
      ::operator delete(p);
      return;
    }
    free_[c] = new (p) Node{free_[c]};
    ++count_[c];
  }

  static constexpr std::size_t kGranule = 32;
  static constexpr std::size_t kClasses = 32;
  static constexpr std::uint32_t kMaxPerClass = 128;

 private:
  struct Node {
    Node* next;
  };
  static std::size_t sizeClass(std::size_t bytes) { return (bytes - (bytes != 0)) / kGranule; }

  std::array<Node*, kClasses> free_{};
  std::array<std::uint32_t, kClasses> count_{};
};

// The allocator of the router's header fields: from its FieldPool, or operator new when it has
// none (a default-constructed allocator: tests, a fields object made off the request path).
template <class T>
class FieldAllocator {
 public:
  using value_type = T;
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "the pool's blocks are new's");

  FieldAllocator() noexcept = default;
  explicit FieldAllocator(FieldPool& pool) noexcept : pool_(&pool) {}
  template <class U>
  FieldAllocator(const FieldAllocator<U>& other) noexcept : pool_(other.pool()) {}  // NOLINT

  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    return static_cast<T*>(pool_ != nullptr ? pool_->allocate(bytes) : ::operator new(bytes));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (pool_ != nullptr) {
      pool_->deallocate(p, n * sizeof(T));
    } else {
      ::operator delete(p);
    }
  }

  FieldPool* pool() const noexcept { return pool_; }

  template <class U>
  bool operator==(const FieldAllocator<U>& other) const noexcept {
    return pool_ == other.pool();
  }
  template <class U>
  bool operator!=(const FieldAllocator<U>& other) const noexcept {
    return pool_ != other.pool();
  }

 private:
  FieldPool* pool_ = nullptr;
};

// The header fields of the requests and responses the router relays.
using Fields = boost::beast::http::basic_fields<FieldAllocator<char>>;

}  // namespace runway::router
