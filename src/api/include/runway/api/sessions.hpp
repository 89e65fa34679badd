#pragma once

// Browser sessions for the dashboard (docs/dashboard.md): a sign-in exchanges an API token for a
// session cookie, and each state-changing call made with that cookie must carry the session's
// CSRF token in a header. Bearer-token calls do not use any of this.
//
// The sessions live in a table in the server's memory, not in a signed cookie:
//   - signing out, revoking the token, or the session's expiry end it at once, with no list of
//     revoked signatures to keep;
//   - there is no signing key to create, keep secret and rotate, and nothing secret is written
//     to disk;
//   - each use of a session looks its token up again, so a token revoked or expired after the
//     sign-in stops its sessions too.
// The price: a restart of `runway serve` ends every session (the dashboard then asks to sign in
// again), and several servers would not share them (runway serves the API from one process).
//
// A session id and a CSRF token are 32 random bytes each (RAND_bytes), as 43 base64url
// characters. Neither is ever logged or put in an event; the token the session was opened with
// is not kept at all (only its public id).

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "runway/api/http_server.hpp"
#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/store/store.hpp"

namespace runway::api {

// The cookie's name and the header that carries the CSRF token (lower case, as HttpRequest
// stores header names).
inline constexpr std::string_view kSessionCookie = "runway_session";
inline constexpr std::string_view kCsrfHeader = "x-csrf-token";
inline constexpr Duration kDefaultSessionTtl = std::chrono::hours(8);
inline constexpr Duration kMinSessionTtl = std::chrono::seconds(1);
inline constexpr Duration kMaxSessionTtl = std::chrono::hours(24 * 30);

struct Session {
  std::string id;          // the cookie's value
  std::string csrf_token;  // what X-CSRF-Token must carry
  Identity identity;       // who signed in (identity.token_id: the token used)
  TimePoint expires_at;
};

struct SessionOptions {
  std::shared_ptr<Clock> clock;  // null = the system clock
  // How long a session lasts from its sign-in (never past its token's own expiry).
  Duration ttl = kDefaultSessionTtl;
  // At most this many sessions at once; opening one more first drops the expired ones, then the
  // one that expires soonest.
  std::size_t max_sessions = 10'000;
  // Add the cookie attribute Secure (the server speaks HTTPS).
  bool secure_cookie = false;
  // The token store: each use of a session checks that its token is neither revoked nor
  // expired. Null = no check (unit tests of the table alone).
  std::shared_ptr<store::Store> store;
};

// Thread-safe.
class SessionTable {
 public:
  explicit SessionTable(SessionOptions options);

  // A new session for `who` (who just authenticated with a token), expiring after the ttl or at
  // the token's own expiry if that is sooner. Internal when the random generator fails;
  // Unavailable when the token store fails.
  Result<Session> open(const Identity& who);

  // The live session with this id. Unauthenticated "session expired or unknown; sign in again"
  // for an unknown or expired id, or when its token was revoked or expired meanwhile (the
  // session is then ended); Unavailable when the token store fails.
  Result<Session> find(std::string_view id);

  // The identity of a request that came with the session cookie `id`. A state-changing request
  // (anything but GET and HEAD) must also carry the session's CSRF token: PermissionDenied
  // "missing or wrong CSRF token ..." when `csrf_token` does not equal it (compared in constant
  // time). Errors of find() otherwise.
  Result<Identity> authenticate(std::string_view id, bool state_changing,
                                std::string_view csrf_token);

  // Ends the session (sign-out). Unknown ids are ignored.
  void close(std::string_view id);

  // Set-Cookie values: the session's cookie (HttpOnly, SameSite=Strict, Path=/, Max-Age up to
  // its expiry, Secure when configured), and one that deletes it.
  std::string setCookie(const Session& session) const;
  std::string clearCookie() const;

  Duration ttl() const { return options_.ttl; }
  std::size_t size() const;

 private:
  TimePoint now() const;
  void makeRoomLocked(TimePoint now);

  SessionOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Session, std::less<>> sessions_;
};

// The value of cookie `name` in a Cookie request header ("a=1; runway_session=xyz"), or nullopt.
std::optional<std::string> cookieValue(std::string_view cookie_header, std::string_view name);

}  // namespace runway::api
