#pragma once

// Log-linear latency buckets (HdrHistogram's layout with 32 sub-buckets per power of two):
// values below 64 µs have exact buckets, above that each bucket is 1/32..1/64 of its value wide,
// so a quantile read at a bucket's midpoint is within ~1.6 % of the true value. Values are
// microseconds, clamped to ~134 s.

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace runway::router::histogram {

inline constexpr int kSubBits = 5;                     // 32 sub-buckets per octave
inline constexpr std::uint64_t kLinear = 2u << kSubBits;  // 64 exact buckets
inline constexpr int kMaxMsb = 26;                     // 2^27 µs ≈ 134 s
inline constexpr std::size_t kBuckets =
    kLinear + static_cast<std::size_t>(kMaxMsb - kSubBits) * (1u << kSubBits);
inline constexpr std::uint64_t kMaxValue = (std::uint64_t{1} << (kMaxMsb + 1)) - 1;

constexpr std::size_t bucketOf(std::uint64_t us) {
  us = std::min(us, kMaxValue);
  if (us < kLinear) return static_cast<std::size_t>(us);
  const int msb = 63 - std::countl_zero(us);
  const int shift = msb - kSubBits;  // us >> shift in [32, 64)
  return static_cast<std::size_t>(kLinear + static_cast<std::uint64_t>(shift - 1) * 32 +
                                  ((us >> shift) - 32));
}

// Smallest value in bucket i.
constexpr std::uint64_t bucketLow(std::size_t i) {
  if (i < kLinear) return i;
  const std::uint64_t j = i - kLinear;
  const std::uint64_t shift = j / 32 + 1;
  return (32 + j % 32) << shift;
}

// One past the largest value in bucket i.
constexpr std::uint64_t bucketHigh(std::size_t i) {
  if (i < kLinear) return i + 1;
  const std::uint64_t j = i - kLinear;
  const std::uint64_t shift = j / 32 + 1;
  return (32 + j % 32 + 1) << shift;
}

// The q-quantile (0 < q <= 1) of the counts, in µs at the bucket midpoint; 0 when empty.
template <typename Counts>
double quantile(const Counts& counts, std::uint64_t total, double q) {
  if (total == 0) return 0.0;
  auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total) + 0.5);
  rank = std::clamp<std::uint64_t>(rank, 1, total);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts[i];
    if (seen >= rank) {
      return (static_cast<double>(bucketLow(i)) + static_cast<double>(bucketHigh(i) - 1)) / 2.0;
    }
  }
  return static_cast<double>(kMaxValue);
}

using Counts = std::array<std::uint32_t, kBuckets>;
using WideCounts = std::array<std::uint64_t, kBuckets>;

}  // namespace runway::router::histogram
