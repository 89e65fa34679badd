#include "runway/api/sessions.hpp"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>
#include <openssl/crypto.h>

#include "runway/api/tokens.hpp"

namespace runway::api {
namespace {

constexpr std::size_t kRandomBytes = 32;
constexpr std::string_view kUnknownSession = "session expired or unknown; sign in again";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string> cookieValue(std::string_view cookie_header, std::string_view name) {
  while (!cookie_header.empty()) {
    const auto end = cookie_header.find(';');
    const std::string_view pair = trim(cookie_header.substr(0, end));
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == name) {
      std::string_view value = trim(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      return std::string(value);
    }
    if (end == std::string_view::npos) break;
    cookie_header.remove_prefix(end + 1);
  }
  return std::nullopt;
}

SessionTable::SessionTable(SessionOptions options) : options_(std::move(options)) {
  if (!options_.clock) options_.clock = systemClock();
}

TimePoint SessionTable::now() const { return options_.clock->now(); }

Result<Session> SessionTable::open(const Identity& who) {
  const TimePoint at = now();
  Session session;
  session.identity = who;
  session.expires_at = at + options_.ttl;
  if (options_.store) {
    auto token = options_.store->getToken(who.token_id);
    if (!token) {
      if (token.error().code == ErrorCode::NotFound)
        return fail(ErrorCode::Unauthenticated, "invalid token");
      return fail(ErrorCode::Unavailable,
                  "cannot open a session: the token store failed: " + token.error().message);
    }
    if (token->expires_at && *token->expires_at < session.expires_at)
      session.expires_at = *token->expires_at;
  }
  auto id = randomBase64Url(kRandomBytes);
  if (!id) return fail(std::move(id).error());
  auto csrf = randomBase64Url(kRandomBytes);
  if (!csrf) return fail(std::move(csrf).error());
  session.id = std::move(*id);
  session.csrf_token = std::move(*csrf);
  std::lock_guard lock(mu_);
  makeRoomLocked(at);
  sessions_.emplace(session.id, session);
  return session;
}

void SessionTable::makeRoomLocked(TimePoint at) {
  if (sessions_.size() < options_.max_sessions) return;
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.expires_at <= at; });
  while (!sessions_.empty() && sessions_.size() >= options_.max_sessions) {
    auto soonest = std::min_element(
        sessions_.begin(), sessions_.end(),
        [](const auto& a, const auto& b) { return a.second.expires_at < b.second.expires_at; });
    sessions_.erase(soonest);
  }
}

Result<Session> SessionTable::find(std::string_view id) {
  const TimePoint at = now();
  Session session;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end())
      return fail(ErrorCode::Unauthenticated, std::string(kUnknownSession));
    if (it->second.expires_at <= at) {
      sessions_.erase(it);
      return fail(ErrorCode::Unauthenticated, std::string(kUnknownSession));
    }
    session = it->second;
  }
  if (options_.store) {
    // The token may have been revoked, or have expired, since the sign-in.
    auto token = options_.store->getToken(session.identity.token_id);
    if (!token && token.error().code != ErrorCode::NotFound) {
      return fail(ErrorCode::Unavailable,
                  "cannot check the session: the token store failed: " + token.error().message);
    }
    if (!token || token->revoked_at || (token->expires_at && *token->expires_at <= at)) {
      close(id);
      return fail(ErrorCode::Unauthenticated, std::string(kUnknownSession));
    }
  }
  return session;
}

Result<Identity> SessionTable::authenticate(std::string_view id, bool state_changing,
                                            std::string_view csrf_token) {
  auto session = find(id);
  if (!session) return fail(std::move(session).error());
  if (state_changing) {
    const auto& want = session->csrf_token;
    if (csrf_token.size() != want.size() ||
        CRYPTO_memcmp(csrf_token.data(), want.data(), want.size()) != 0) {
      return fail(
          ErrorCode::PermissionDenied,
          "missing or wrong CSRF token: a state-changing call made with a session cookie must "
          "send the session's csrfToken in the X-CSRF-Token header");
    }
  }
  return std::move(session->identity);
}

void SessionTable::close(std::string_view id) {
  std::lock_guard lock(mu_);
  if (auto it = sessions_.find(id); it != sessions_.end()) sessions_.erase(it);
}

std::size_t SessionTable::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

std::string SessionTable::setCookie(const Session& session) const {
  const auto left =
      std::chrono::duration_cast<std::chrono::seconds>(session.expires_at - now()).count();
  return fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", kSessionCookie,
                     session.id, std::max<std::int64_t>(0, left),
                     options_.secure_cookie ? "; Secure" : "");
}

std::string SessionTable::clearCookie() const {
  return fmt::format("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}", kSessionCookie,
                     options_.secure_cookie ? "; Secure" : "");
}

}  // namespace runway::api
