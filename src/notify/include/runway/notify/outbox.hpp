#pragma once

// The outbox worker: delivers the notifications the controller committed (store outbox) at
// least once, in order per channel and dedup key.
//
// One attempt per due message: 2xx → delivered; a network error, a timeout, 429 or 5xx → tried
// again after a backoff (the channel's initialBackoff doubling up to maxBackoff, and never
// sooner than a Retry-After the receiver sent), until the channel's maxAttempts → failed; any
// other status → failed at once with the response (status and the start of the body). A message
// whose channel is no longer configured, or whose secret variable is unset, fails at once.
// A crash between a receiver's 2xx and the store's record sends that message again after a
// restart: receivers dedupe on the dedup key (PagerDuty) or X-Runway-Delivery (webhooks).
//
// Secrets (webhook URLs, routing keys, signing keys) are never logged nor stored in errors.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "runway/config/model.hpp"
#include "runway/core/clock.hpp"
#include "runway/http/client.hpp"
#include "runway/store/store.hpp"

namespace runway::notify {

// Sends one request (the real one: http::send). Tests substitute a fake.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<http::Response> send(const http::Request& request) = 0;
};
std::shared_ptr<Transport> httpTransport();

struct OutboxOptions {
  std::shared_ptr<store::Store> store;
  std::shared_ptr<Clock> clock;
  std::shared_ptr<Transport> transport;
  // The live configuration (channels are looked up at delivery time).
  std::function<std::shared_ptr<const config::Config>()> config;
  // A secret by environment variable name; nullopt when unset. Default: getenv.
  std::function<std::optional<std::string>(const std::string&)> secret;
  int batch = 50;  // messages per pass
};

// Counters since start, for /metrics.
struct OutboxCounters {
  std::int64_t delivered = 0;
  std::int64_t retried = 0;  // attempts that will be tried again
  std::int64_t failed = 0;   // messages that failed for good
};

class OutboxWorker {
 public:
  // REQUIRES: options has a store, clock, transport and config.
  explicit OutboxWorker(OutboxOptions options);

  // One pass: every message due now (up to the batch) gets one attempt, in due order; a message
  // with an earlier message of the same channel and dedup key still pending waits for it.
  // Returns the number of attempts made. Errors: the store's (nothing more is attempted).
  // Not reentrant: one caller at a time (the runner's thread, or a test).
  Result<int> deliverDue();

  OutboxCounters counters() const;

 private:
  void attempt(const store::NotificationRecord& n);
  void record(const store::NotificationRecord& n, std::string_view status, TimePoint next,
              int http_status, std::string error);

  OutboxOptions o_;
  std::atomic<std::int64_t> delivered_{0};
  std::atomic<std::int64_t> retried_{0};
  std::atomic<std::int64_t> failed_{0};
};

// Runs an OutboxWorker on its own thread: a pass, then a wait of `poll` (real time) or until
// wake(). Blocking HTTP happens there, never on the controller's strand, so a slow or dead
// receiver delays only other notifications, never a rollback.
class OutboxRunner {
 public:
  OutboxRunner(std::shared_ptr<OutboxWorker> worker, std::chrono::milliseconds poll);
  ~OutboxRunner();  // stop()
  OutboxRunner(const OutboxRunner&) = delete;
  OutboxRunner& operator=(const OutboxRunner&) = delete;

  void wake();
  // Finishes the attempt in progress and joins. Idempotent.
  void stop();
  const OutboxWorker& worker() const { return *worker_; }

 private:
  void run();

  std::shared_ptr<OutboxWorker> worker_;
  std::chrono::milliseconds poll_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace runway::notify
