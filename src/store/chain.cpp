#include "chain.hpp"

#include <array>

#include <boost/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "runway/core/clock.hpp"

namespace runway::store {

std::string canonicalEvent(std::int64_t seq, const NewEvent& event) {
  boost::json::array fields;
  fields.reserve(7);
  fields.emplace_back(seq);
  fields.emplace_back(toUnixMillis(event.at));
  fields.emplace_back(event.actor);
  fields.emplace_back(event.kind);
  fields.emplace_back(event.subject);
  fields.emplace_back(event.reason);
  fields.emplace_back(event.data_json);
  return boost::json::serialize(fields);
}

std::string sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  // EVP_Digest with SHA-256 fails only when OpenSSL itself is broken.
  int ok = EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr);
  RUNWAY_ASSERT(ok == 1 && size == 32);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0f]);
  }
  return hex;
}

std::string eventHash(std::string_view prev_hash, std::int64_t seq, const NewEvent& event) {
  std::string input(prev_hash);
  input += canonicalEvent(seq, event);
  return sha256Hex(input);
}

std::string keyedEventHash(const AuditKey& key, std::string_view prev_hash, std::int64_t seq,
                           const NewEvent& event) {
  std::string input(prev_hash);
  input += key.id;
  input += canonicalEvent(seq, event);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int size = 0;
  const unsigned char* ok =
      HMAC(EVP_sha256(), key.secret.data(), static_cast<int>(key.secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(), &size);
  // HMAC-SHA256 fails only when OpenSSL itself is broken.
  RUNWAY_ASSERT(ok != nullptr && size == 32);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[mac[i] >> 4]);
    hex.push_back(kHex[mac[i] & 0x0f]);
  }
  return hex;
}

std::optional<ChainBreak> ChainVerifier::next(const EventRecord& record) {
  ++count_;
  const std::int64_t expected_seq = last_seq_ + 1;
  ChainBreak found;
  found.seq = record.seq;
  found.at = record.at;
  found.expected_seq = expected_seq;
  if (record.seq != expected_seq) {
    found.reason = kBreakSequenceGap;
    found.expected_hash = last_hash_;
    found.found_hash = record.prev_hash;
    return found;
  }
  if (record.prev_hash != last_hash_) {
    found.reason = kBreakBrokenLink;
    found.expected_hash = last_hash_;
    found.found_hash = record.prev_hash;
    return found;
  }
  NewEvent event{record.at,    record.actor,  record.kind,
                 record.subject, record.reason, record.data_json};
  std::string expected;
  if (record.key_id.empty()) {
    // Before the key only: an unkeyed record after a keyed one, or where the key file says the
    // key was already in use, was written by someone without the key.
    if (keyed_seen_ || (key_ && key_->since && record.seq >= *key_->since)) {
      found.reason = kBreakNotKeyed;
      found.expected_hash = key_ ? key_->id : std::string();
      found.found_hash = record.hash;
      return found;
    }
    expected = eventHash(record.prev_hash, record.seq, event);
  } else {
    if (!key_ || record.key_id != key_->id) {
      found.reason = key_ ? kBreakOtherKey : kBreakKeyNeeded;
      found.expected_hash = key_ ? key_->id : std::string();
      found.found_hash = record.key_id;
      return found;
    }
    expected = keyedEventHash(*key_, record.prev_hash, record.seq, event);
  }
  if (record.hash != expected) {
    found.reason = kBreakHashMismatch;
    found.expected_hash = std::move(expected);
    found.found_hash = record.hash;
    return found;
  }
  if (record.key_id.empty()) {
    ++unkeyed_;
  } else {
    keyed_seen_ = true;
  }
  last_seq_ = record.seq;
  last_at_ = record.at;
  last_hash_ = record.hash;
  return std::nullopt;
}

std::optional<ChainBreak> ChainVerifier::finish(std::int64_t head_seq, TimePoint head_at,
                                                std::string_view head_hash) const {
  if (head_seq == last_seq_ && head_hash == last_hash_) return std::nullopt;
  ChainBreak found;
  if (head_seq > last_seq_) {
    found.seq = head_seq;
    found.at = head_at;
    found.expected_seq = head_seq;
    found.reason = kBreakTruncated;
  } else {
    found.seq = last_seq_;
    found.at = last_at_;
    found.expected_seq = head_seq;
    found.reason = kBreakHeadMismatch;
  }
  found.expected_hash = std::string(head_hash);
  found.found_hash = last_hash_;
  return found;
}

}  // namespace runway::store
