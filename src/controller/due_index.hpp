#pragma once

// A schedule of keys by time: each key is due at one time at most (set() again moves it). What
// the controller's periodic pass asks instead of looking at every deployment: which timers,
// retirements and measurements are due now (O(log n) per change and per due key), and when the
// next one is.
//
// Not thread-safe: the strand owns it.

#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "runway/core/clock.hpp"

namespace runway::controller {

template <typename Key>
class DueIndex {
 public:
  // Key `key` is due at `at` from now on; nullopt removes it.
  void set(const Key& key, std::optional<TimePoint> at) {
    auto it = at_.find(key);
    if (it != at_.end()) {
      if (at && it->second == *at) return;
      by_time_.erase({it->second, key});
      at_.erase(it);
    }
    if (at) {
      at_.emplace(key, *at);
      by_time_.emplace(*at, key);
    }
  }
  void erase(const Key& key) { set(key, std::nullopt); }

  // The keys due at `now` (their time <= now), earliest first, at most `limit` of them.
  std::vector<Key> due(TimePoint now, std::size_t limit = static_cast<std::size_t>(-1)) const {
    std::vector<Key> out;
    for (auto it = by_time_.begin(); it != by_time_.end() && it->first <= now && out.size() < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  // The earliest time a key is due; nullopt when none is scheduled.
  std::optional<TimePoint> earliest() const {
    if (by_time_.empty()) return std::nullopt;
    return by_time_.begin()->first;
  }

  std::optional<TimePoint> at(const Key& key) const {
    auto it = at_.find(key);
    if (it == at_.end()) return std::nullopt;
    return it->second;
  }

  std::size_t size() const { return at_.size(); }

 private:
  std::set<std::pair<TimePoint, Key>> by_time_;
  std::map<Key, TimePoint> at_;
};

}  // namespace runway::controller
