#include "runway/notify/outbox.hpp"

#include <cstdlib>
#include <ctime>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "runway/core/repeated_failure.hpp"
#include "runway/notify/message.hpp"
#include "runway/notify/render.hpp"

namespace runway::notify {
namespace {

class CurlTransport final : public Transport {
 public:
  Result<http::Response> send(const http::Request& request) override { return http::send(request); }
};

std::optional<std::string> fromEnvironment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// Retry-After: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); nullopt when absent or unreadable.
std::optional<Duration> retryAfter(const std::string& value, TimePoint now) {
  if (value.empty()) return std::nullopt;
  char* end = nullptr;
  const long long seconds = std::strtoll(value.c_str(), &end, 10);
  if (end != nullptr && *end == '\0') {
    if (seconds < 0) return std::nullopt;
    return Duration{seconds * 1000};
  }
  std::tm tm{};
  if (strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
  const auto at = fromUnixMillis(static_cast<std::int64_t>(timegm(&tm)) * 1000);
  return at > now ? at - now : Duration{0};
}

Duration backoff(const config::DeliveryRetry& retry, int attempts_before) {
  Duration d = retry.initial_backoff;
  for (int i = 0; i < attempts_before && d < retry.max_backoff; ++i) d *= 2;
  return std::min(d, retry.max_backoff);
}

// The start of a response body, for the record: one line, at most 200 bytes.
std::string excerpt(const std::string& body) {
  std::string out = body.substr(0, 200);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

std::shared_ptr<Transport> httpTransport() { return std::make_shared<CurlTransport>(); }

OutboxWorker::OutboxWorker(OutboxOptions options) : o_(std::move(options)) {
  if (!o_.secret) o_.secret = fromEnvironment;
}

OutboxCounters OutboxWorker::counters() const {
  return OutboxCounters{delivered_.load(), retried_.load(), failed_.load()};
}

Result<int> OutboxWorker::deliverDue() {
  auto due = o_.store->dueNotifications(o_.clock->now(), o_.batch);
  if (!due) return fail(due.error());
  int attempts = 0;
  // (channel, dedup key) pairs with an earlier message still pending: later ones wait, so that a
  // resolve never overtakes its trigger.
  std::set<std::pair<std::string, std::string>> blocked;
  std::map<std::string, std::vector<store::NotificationRecord>> pending_by_subject;
  for (const auto& n : *due) {
    const auto key = std::make_pair(n.channel, n.dedup_key);
    if (blocked.count(key) != 0) continue;
    auto it = pending_by_subject.find(n.subject);
    if (it == pending_by_subject.end()) {
      auto pending = o_.store->listNotifications({std::string(store::kNotificationPending), n.subject, 1000});
      if (!pending) return fail(pending.error());
      it = pending_by_subject.emplace(n.subject, std::move(*pending)).first;
    }
    bool earlier = false;
    for (const auto& p : it->second) {
      if (p.id < n.id && p.channel == n.channel && p.dedup_key == n.dedup_key) earlier = true;
    }
    // It waits; the earlier one (due or not) is not held up by it.
    if (earlier) continue;
    attempt(n);
    ++attempts;
    // Whether it is still pending or not, what follows it waits for the next pass.
    blocked.insert(key);
  }
  return attempts;
}

void OutboxWorker::attempt(const store::NotificationRecord& n) {
  const TimePoint now = o_.clock->now();
  const auto config = o_.config();
  const config::NotificationChannel* channel = config ? config->findChannel(n.channel) : nullptr;
  if (channel == nullptr) {
    record(n, store::kNotificationFailed, now, 0,
           fmt::format("channel {} is no longer configured", n.channel));
    return;
  }
  auto message = parseMessage(n.message_json);
  if (!message) {
    record(n, store::kNotificationFailed, now, 0, message.error().message);
    return;
  }
  const auto secret = o_.secret(channel->secret_env);
  if (!secret) {
    record(n, store::kNotificationFailed, now, 0,
           fmt::format("environment variable {} (the secret of channel {}) is not set", channel->secret_env,
                       channel->name));
    return;
  }
  auto outgoing = render(*channel, *message, *secret, n.id, toUnixMillis(now) / 1000);
  if (!outgoing) {
    record(n, store::kNotificationFailed, now, 0, outgoing.error().message);
    return;
  }
  http::Request request;
  request.method = "POST";
  request.url = outgoing->url;
  request.headers = std::move(outgoing->headers);
  request.body = std::move(outgoing->body);
  request.timeout = channel->timeout;
  request.max_body = 64 * 1024;
  request.log_name = fmt::format("{} channel {}", config::toString(channel->kind), channel->name);
  auto response = o_.transport->send(request);
  const TimePoint after = o_.clock->now();
  const int attempts = n.attempts + 1;
  const auto retry_or_fail = [&](int status, std::string why, std::optional<Duration> at_least) {
    if (attempts >= channel->retry.max_attempts) {
      record(n, store::kNotificationFailed, after, status,
             fmt::format("gave up after {} attempts: {}", attempts, why));
      return;
    }
    Duration wait = backoff(channel->retry, n.attempts);
    if (at_least && *at_least > wait) wait = *at_least;
    record(n, store::kNotificationPending, after + wait, status, std::move(why));
  };
  if (!response) {
    retry_or_fail(0, response.error().message, std::nullopt);
    return;
  }
  const int status = static_cast<int>(response->status);
  if (status >= 200 && status < 300) {
    record(n, store::kNotificationDelivered, after, status, "");
    return;
  }
  std::string why = fmt::format("HTTP {}", status);
  if (!response->body.empty()) why += ": " + excerpt(response->body);
  if (status == 429 || status >= 500) {
    retry_or_fail(status, std::move(why), retryAfter(response->header("retry-after"), after));
    return;
  }
  record(n, store::kNotificationFailed, after, status, std::move(why));
}

void OutboxWorker::record(const store::NotificationRecord& n, std::string_view status, TimePoint next,
                          int http_status, std::string error) {
  const TimePoint now = o_.clock->now();
  if (status == store::kNotificationDelivered) {
    ++delivered_;
  } else if (status == store::kNotificationFailed) {
    ++failed_;
    spdlog::warn("notification {} ({} to {}) failed: {}", n.id, n.event, n.channel, error);
  } else {
    ++retried_;
    spdlog::info("notification {} ({} to {}): {}; trying again at {}", n.id, n.event, n.channel, error,
                 formatTimestamp(next));
  }
  auto stored = o_.store->recordDeliveryAttempt(
      store::DeliveryAttempt{n.id, std::string(status), next, http_status, std::move(error), now});
  if (!stored) {
    // Still pending in the store: it is attempted again (at least once, never lost).
    spdlog::error("notification {}: cannot record the attempt: {}", n.id, stored.error().message);
  }
}

// ---- runner -----------------------------------------------------------------------------------

OutboxRunner::OutboxRunner(std::shared_ptr<OutboxWorker> worker, std::chrono::milliseconds poll)
    : worker_(std::move(worker)), poll_(poll) {
  thread_ = std::thread([this] { run(); });
}

OutboxRunner::~OutboxRunner() { stop(); }

void OutboxRunner::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void OutboxRunner::stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void OutboxRunner::run() {
  RepeatedFailure failures;  // a store that is down fails every pass: say so once a minute
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    if (auto r = worker_->deliverDue(); !r) {
      if (auto line = failures.failed(r.error(), RepeatedFailure::Clock::now())) {
        spdlog::error("notification outbox: {}", *line);
      }
    } else if (auto line = failures.succeeded()) {
      spdlog::info("notification outbox: {}", *line);
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, poll_, [this] { return stop_ || woken_; });
    woken_ = false;
    if (stop_) return;
  }
}

}  // namespace runway::notify
