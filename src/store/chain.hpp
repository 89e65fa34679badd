#pragma once

// The audit hash chain, independent of where the records live, so every Store implementation
// computes and verifies it the same way.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runway/store/store.hpp"

namespace runway::store {

// prev_hash of the first record: 64 '0' characters.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Lowercase hex SHA-256 of `data`.
std::string sha256Hex(std::string_view data);

// The hash a record without a key must carry: sha256Hex(prev_hash || canonicalEvent(seq, event)).
std::string eventHash(std::string_view prev_hash, std::int64_t seq, const NewEvent& event);

// The hash a record linked with `key` must carry: lowercase hex HMAC-SHA256(key.secret,
// prev_hash || key.id || canonicalEvent(seq, event)).
std::string keyedEventHash(const AuditKey& key, std::string_view prev_hash, std::int64_t seq,
                           const NewEvent& event);

// Checks records fed in seq order, keeping only the previous record's seq and hash, so it
// verifies logs of any length in constant memory. Records without a key_id are accepted (and
// counted as unkeyed) only before the first keyed record and before the key's `since`.
class ChainVerifier {
 public:
  explicit ChainVerifier(std::optional<AuditKey> key = std::nullopt) : key_(std::move(key)) {}
  // The first break found at `record`, if any. After a break, stop feeding.
  std::optional<ChainBreak> next(const EventRecord& record);
  // After the last record: compares the end of the log with the head the store recorded
  // (seq 0 and kGenesisHash for an empty log).
  std::optional<ChainBreak> finish(std::int64_t head_seq, TimePoint head_at,
                                   std::string_view head_hash) const;
  std::int64_t count() const { return count_; }
  std::int64_t unkeyed() const { return unkeyed_; }

 private:
  std::optional<AuditKey> key_;
  bool keyed_seen_ = false;
  std::int64_t unkeyed_ = 0;
  std::int64_t count_ = 0;
  std::int64_t last_seq_ = 0;
  TimePoint last_at_{};
  std::string last_hash_{kGenesisHash};
};

}  // namespace runway::store
