#pragma once

// Channel formats. Each turns a Message into the HTTP request its receiver documents:
//   - Slack incoming webhook: {text, blocks} with Block Kit limits kept (at most 50 blocks, a
//     header at most 150 characters, section text at most 3000; `text` is the plain fallback);
//   - PagerDuty Events API v2: trigger / acknowledge / resolve at /v2/enqueue with the message's
//     dedup_key (summary at most 1024 characters, severity critical|error|warning|info), or a
//     change event at /v2/change/enqueue (deploy markers, no paging);
//   - a generic webhook: the message as JSON, signed with HMAC-SHA256 over "<timestamp>.<body>"
//     (X-Runway-Timestamp, X-Runway-Signature: sha256=<hex>), which a receiver checks with
//     verifyWebhookSignature() inside a replay window.
// Pure functions: no I/O, no clock.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "runway/config/model.hpp"
#include "runway/core/error.hpp"
#include "runway/notify/message.hpp"

namespace runway::notify {

// What to send.
struct Outgoing {
  std::string url;
  std::map<std::string, std::string> headers;
  std::string body;
};

// Slack: the {text, blocks} body.
std::string slackPayload(const Message& message);

enum class PagerDutyAction { Trigger, Acknowledge, Resolve, Change };
// The PagerDuty action an event maps to, or nullopt when PagerDuty has nothing to do with it.
// Change events are only used when `change_events` is set.
std::optional<PagerDutyAction> pagerDutyAction(const std::string& event, bool change_events);

// PagerDuty: the event body (Trigger/Acknowledge/Resolve) or change-event body (Change).
std::string pagerDutyPayload(const Message& message, PagerDutyAction action,
                             const std::string& routing_key, const std::string& source);

// HMAC-SHA256 of "<timestamp>.<body>" under `secret`, lowercase hex.
std::string webhookSignature(const std::string& secret, std::int64_t timestamp,
                             const std::string& body);

// A receiver's check: the signature header ("sha256=<hex>") matches and the timestamp is
// within `window` of `now_unix_seconds` either way. PermissionDenied otherwise, naming which.
Result<void> verifyWebhookSignature(const std::string& secret, const std::string& timestamp_header,
                                    const std::string& signature_header, const std::string& body,
                                    std::int64_t now_unix_seconds, std::chrono::seconds window);

// The request for `channel`. `secret` is the channel's secret (the Slack webhook URL, the
// PagerDuty routing key, the webhook signing key); `delivery_id` identifies the outbox row
// (webhooks send it as X-Runway-Delivery, an idempotency key); `now_unix_seconds` stamps webhook
// signatures. InvalidArgument when the channel cannot carry the message's event.
Result<Outgoing> render(const config::NotificationChannel& channel, const Message& message,
                        const std::string& secret, std::int64_t delivery_id,
                        std::int64_t now_unix_seconds);

}  // namespace runway::notify
