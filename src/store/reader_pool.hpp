#pragma once

// Read-only connections of a store, each lent to one call at a time: lookups and lists go
// through them, never through the connection that writes, so a GET does not queue behind the
// controller's commits. Used by the SQLite store (read-only WAL connections) and the PostgreSQL
// store (read-only sessions).

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <optional>
#include <utility>

#include "runway/core/error.hpp"

namespace runway::store {

template <class Connection, std::size_t N>
class ReaderPool {
 public:
  // A connection held by one call until the lease goes.
  class Lease {
   public:
    Lease(std::unique_lock<std::mutex> lock, Connection& conn) : lock_(std::move(lock)), conn_(&conn) {}
    Connection& conn() { return *conn_; }

   private:
    std::unique_lock<std::mutex> lock_;
    Connection* conn_;
  };

  // A free connection if there is one, else the next in turn once it is free; opened with
  // `open()` (returning Result<Connection>) on first use, and again after a failed open.
  template <class Open>
  Result<Lease> acquire(Open&& open) {
    const std::size_t first = next_.fetch_add(1, std::memory_order_relaxed) % N;
    std::unique_lock<std::mutex> lock;
    std::size_t chosen = first;
    for (std::size_t i = 0; i < N; ++i) {
      const std::size_t at = (first + i) % N;
      std::unique_lock<std::mutex> attempt(slots_[at].mutex, std::try_to_lock);
      if (attempt.owns_lock()) {
        lock = std::move(attempt);
        chosen = at;
        break;
      }
    }
    if (!lock.owns_lock()) lock = std::unique_lock<std::mutex>(slots_[chosen].mutex);
    Slot& slot = slots_[chosen];
    if (!slot.conn) {
      auto opened = open();
      if (!opened) return fail(opened.error());
      slot.conn.emplace(std::move(*opened));
    }
    return Lease(std::move(lock), *slot.conn);
  }

 private:
  struct Slot {
    std::mutex mutex;  // guards conn
    std::optional<Connection> conn;
  };
  std::array<Slot, N> slots_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace runway::store
