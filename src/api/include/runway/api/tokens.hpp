#pragma once

// API bearer tokens: issuing them, authenticating them against the store, and the admin token
// written on first start.
//
// A token is handed to its holder once, as the bearer text "rwy_<id>_<secret>":
//   id     16 lowercase hex characters (8 random bytes); public, names the token in the store,
//          in events and in `runway token list`.
//   secret 43 base64url characters without padding (32 random bytes from RAND_bytes).
// The store keeps only a random 16-byte salt and SHA-256(salt bytes || secret text bytes), both
// lowercase hex; the secret itself is never stored, logged, put in an event or an error message.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runway/api/http_server.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/store/store.hpp"

namespace runway::api {

// The bearer prefix, and the file under the data directory holding the bootstrap admin token.
inline constexpr std::string_view kTokenPrefix = "rwy_";
inline constexpr std::string_view kAdminTokenFile = "admin.token";

// A freshly made token: the bearer text for its holder (shown once) and the record to store.
struct IssuedToken {
  std::string bearer;
  store::TokenRecord record;
};

// Name: 1..64 characters of [a-z0-9._@-], starting with a letter or digit.
// Role: 1..64 characters of [a-z0-9-], starting with a letter.
// InvalidArgument naming the problem (and the offending character) otherwise.
Result<void> validateTokenName(std::string_view name);
Result<void> validateRoleName(std::string_view role);

// The lifetimes a token may be given (`runway token create --ttl`).
inline constexpr Duration kMinTokenTtl = std::chrono::minutes(1);
inline constexpr Duration kMaxTokenTtl = std::chrono::hours(24 * 3650);

// Makes a new token with a random id, salt and secret; record.created_at = now, not revoked,
// record.expires_at = now + ttl (no ttl: it does not expire).
// Nothing is stored: the caller passes `record` to Store::createToken.
// InvalidArgument for a bad name, no roles, a bad or duplicate role, or a ttl outside
// [kMinTokenTtl, kMaxTokenTtl]; Internal when the system's random generator fails.
Result<IssuedToken> issueToken(std::string name, std::vector<std::string> roles,
                               std::string created_by, TimePoint now,
                               std::optional<Duration> ttl = std::nullopt);

// An Authenticator over `store`. authenticate() takes the bearer text "rwy_<id>_<secret>"
// (without "Bearer "), looks the id up and compares SHA-256(salt || secret) with the stored hash
// in constant time. Errors:
//   Unauthenticated "invalid token"  malformed text, unknown id or wrong secret (one message for
//                                    all three; the token is never echoed)
//   Unauthenticated "token revoked"  right secret, but the token was revoked
//   Unauthenticated "token expired"  right secret, not revoked, but clock->now() >= expires_at
//   Unavailable                      the store failed, or holds a damaged token row
// On success Identity{record.name, record.roles, record.id}. Thread-safe if the store is.
// `clock` null = the system clock.
std::shared_ptr<Authenticator> storeAuthenticator(std::shared_ptr<store::Store> store,
                                                  std::shared_ptr<Clock> clock = nullptr);

// First start: makes sure data_dir/admin.token (mode 0600, content bearer + "\n") holds a valid,
// unrevoked token with the role admin. Creates data_dir (mode 0700) if it is missing.
// If the file authenticates with role admin, does nothing and returns false. Otherwise (file
// missing, garbled, unknown, revoked or not admin) issues a token named "admin" with roles
// {"admin"}, created_by "bootstrap", stores it with the event "token.created" (actor
// "bootstrap", subject the token id, no secret in it), then writes the file atomically (temp
// file 0600 + rename) and returns true.
// Errors: PermissionDenied when the existing file cannot be read (it is left alone), Unavailable
// when the store fails or the directory or file cannot be written.
Result<bool> ensureBootstrapToken(store::Store& store, const std::filesystem::path& data_dir,
                                  TimePoint now);

// `bytes` random bytes from the system's generator (RAND_bytes) as base64url text without
// padding (43 characters for 32 bytes): token secrets, session ids, CSRF tokens.
// Internal when the generator fails.
Result<std::string> randomBase64Url(std::size_t bytes);

// The bearer text in a token file, surrounding whitespace trimmed. NotFound if the file is
// missing, PermissionDenied if it cannot be read, InvalidArgument if it is empty or too large to
// be a token file (over 4 KiB), Unavailable for other I/O errors. Errors never quote the content.
Result<std::string> readTokenFile(const std::filesystem::path& path);

}  // namespace runway::api
