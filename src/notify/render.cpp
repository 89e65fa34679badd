#include "runway/notify/render.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/core/utf8.hpp"

namespace runway::notify {
namespace {

namespace json = boost::json;

// Block Kit and Events API limits (/work/shared/reference/judges-and-formats.md §4.4, §4.5).
constexpr std::size_t kSlackHeaderMax = 150;
constexpr std::size_t kSlackSectionMax = 3000;
constexpr std::size_t kSlackFieldMax = 2000;
constexpr std::size_t kSlackFieldsPerSection = 10;
constexpr std::size_t kSlackBlocksMax = 50;
constexpr std::size_t kPagerDutySummaryMax = 1024;
// An event may be 512 KB; custom details stop well before that.
constexpr std::size_t kPagerDutyDetailValueMax = 1024;
constexpr std::size_t kPagerDutyDetailsBytesMax = 256 * 1024;

// At most `max` characters (code points) of valid UTF-8 text, ending in "…" when cut.
std::string clipChars(std::string_view raw, std::size_t max) {
  const std::string text = escapeInvalidUtf8(raw);
  std::size_t chars = 0;
  std::size_t i = 0;
  std::size_t cut = std::string::npos;  // byte offset after max-1 characters
  while (i < text.size()) {
    if (chars == max - 1) cut = i;
    if (chars == max) return text.substr(0, cut) + "\u2026";
    std::size_t n = utf8SequenceLength(std::string_view(text).substr(i));
    i += n == 0 ? 1 : n;
    ++chars;
  }
  return text;
}

// Slack mrkdwn: &, < and > are control characters.
std::string slackEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string_view emojiFor(const std::string& event) {
  if (event == "deployment.rolled_back" || event == "incident.opened" || event == "alert.firing" ||
      event == "incident.escalated" || event == "incident.update_overdue") {
    return "\U0001F6A8";  // 🚨
  }
  if (event == "deployment.failed" || event == "deployment.rejected") return "\u274C";        // ❌
  if (event == "deployment.succeeded" || event == "watch.completed" || event == "alert.resolved" ||
      event == "incident.resolved") {
    return "\u2705";  // ✅
  }
  if (event == "deployment.started") return "\U0001F680";                                     // 🚀
  if (event == "deployment.degraded" || event == "analysis.failing") return "\u26A0\uFE0F";   // ⚠️
  if (event == "approval.needed" || event == "deployment.waiting_for_window") return "\u23F3";  // ⏳
  return "\u2139\uFE0F";                                                                      // ℹ️
}

json::object mrkdwn(std::string text) { return json::object{{"type", "mrkdwn"}, {"text", std::move(text)}}; }

std::string hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xF];
  }
  return out;
}

std::string pagerDutySeverity(const std::string& severity) {
  if (severity == "critical" || severity == "error" || severity == "warning" || severity == "info") {
    return severity;
  }
  return "error";
}

json::object customDetails(const Message& m) {
  json::object d;
  if (!m.reason.empty()) d["reason"] = m.reason;
  d["event"] = m.event;
  d["environment"] = m.environment;
  if (!m.application.empty()) d["application"] = m.application;
  if (!m.version.empty()) d["version"] = m.version;
  if (!m.previous_version.empty()) d["previous_version"] = m.previous_version;
  if (!m.deployment_id.empty()) d["deployment"] = m.deployment_id;
  std::size_t bytes = 0;
  std::size_t left = m.details.size();
  for (const auto& [k, v] : m.details) {
    std::string value = clipChars(v, kPagerDutyDetailValueMax);
    bytes += k.size() + value.size();
    if (bytes > kPagerDutyDetailsBytesMax) {
      d["details_omitted"] = fmt::format("{} more details did not fit", left);
      break;
    }
    d[k] = std::move(value);
    --left;
  }
  return d;
}

}  // namespace

std::string slackPayload(const Message& m) {
  json::array blocks;
  const std::string emoji(emojiFor(m.event));
  blocks.push_back(json::object{
      {"type", "header"},
      {"text", json::object{{"type", "plain_text"}, {"text", clipChars(emoji + " " + m.title, kSlackHeaderMax)}, {"emoji", true}}}});
  if (!m.reason.empty()) {
    blocks.push_back(json::object{{"type", "section"}, {"text", mrkdwn(clipChars(slackEscape(m.reason), kSlackSectionMax))}});
  }
  std::vector<std::pair<std::string, std::string>> fields{{"Environment", m.environment}};
  if (!m.version.empty()) {
    fields.emplace_back("Version", m.previous_version.empty() ? m.version : m.previous_version + " \u2192 " + m.version);
  }
  if (!m.application.empty()) fields.emplace_back("Application", m.application);
  fields.emplace_back("Severity", m.severity);
  for (const auto& d : m.details) fields.push_back(d);
  json::array section_fields;
  const auto flush = [&] {
    if (section_fields.empty()) return;
    blocks.push_back(json::object{{"type", "section"}, {"fields", std::move(section_fields)}});
    section_fields = json::array();
  };
  for (const auto& [name, value] : fields) {
    // Leave room for the context block.
    if (blocks.size() + 2 > kSlackBlocksMax) break;
    section_fields.push_back(mrkdwn(clipChars(fmt::format("*{}*\n{}", slackEscape(name), slackEscape(value)), kSlackFieldMax)));
    if (section_fields.size() == kSlackFieldsPerSection) flush();
  }
  flush();
  std::string context = fmt::format("runway \u00B7 {} \u00B7 {}", m.event, formatTimestamp(m.at));
  if (!m.deployment_id.empty()) context += " \u00B7 deployment " + m.deployment_id;
  blocks.push_back(json::object{{"type", "context"}, {"elements", json::array{mrkdwn(clipChars(slackEscape(context), kSlackSectionMax))}}});
  std::string fallback = emoji + " " + m.title;
  if (!m.reason.empty()) fallback += ": " + m.reason;
  json::object body{{"text", clipChars(fallback, kSlackSectionMax)}, {"blocks", std::move(blocks)}};
  return json::serialize(body);
}

std::optional<PagerDutyAction> pagerDutyAction(const std::string& event, bool change_events) {
  if (event == "deployment.failed" || event == "deployment.rolled_back" ||
      event == "deployment.degraded" || event == "analysis.failing" || event == "incident.opened" ||
      event == "alert.firing" || event == "incident.escalated") {
    return PagerDutyAction::Trigger;
  }
  if (event == "incident.acknowledged") return PagerDutyAction::Acknowledge;
  if (event == "alert.resolved" || event == "incident.resolved") return PagerDutyAction::Resolve;
  // The post-deploy watch ended without a rollback: whatever it paged about is over.
  if (event == "watch.completed") return PagerDutyAction::Resolve;
  if (change_events && (event == "deployment.started" || event == "deployment.promoted" ||
                        event == "deployment.succeeded")) {
    return PagerDutyAction::Change;
  }
  return std::nullopt;
}

std::string pagerDutyPayload(const Message& m, PagerDutyAction action, const std::string& routing_key,
                             const std::string& source) {
  const std::string summary = clipChars(m.reason.empty() ? m.title : m.title + ": " + m.reason, kPagerDutySummaryMax);
  if (action == PagerDutyAction::Change) {
    json::object payload{{"summary", summary},
                         {"timestamp", formatTimestamp(m.at)},
                         {"source", source},
                         {"custom_details", customDetails(m)}};
    return json::serialize(json::object{{"routing_key", routing_key}, {"payload", std::move(payload)}});
  }
  json::object body{{"routing_key", routing_key}, {"dedup_key", m.dedup_key.substr(0, 255)}};
  if (action == PagerDutyAction::Acknowledge || action == PagerDutyAction::Resolve) {
    body["event_action"] = action == PagerDutyAction::Acknowledge ? "acknowledge" : "resolve";
    return json::serialize(body);
  }
  body["event_action"] = "trigger";
  body["payload"] = json::object{{"summary", summary},
                                 {"source", source},
                                 {"severity", pagerDutySeverity(m.severity)},
                                 {"timestamp", formatTimestamp(m.at)},
                                 {"component", m.application},
                                 {"group", m.environment},
                                 {"class", m.event},
                                 {"custom_details", customDetails(m)}};
  body["client"] = "runway";
  return json::serialize(body);
}

std::string webhookSignature(const std::string& secret, std::int64_t timestamp, const std::string& body) {
  const std::string signed_text = std::to_string(timestamp) + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &length);
  return hex(mac, length);
}

Result<void> verifyWebhookSignature(const std::string& secret, const std::string& timestamp_header,
                                    const std::string& signature_header, const std::string& body,
                                    std::int64_t now_unix_seconds, std::chrono::seconds window) {
  char* end = nullptr;
  const long long ts = std::strtoll(timestamp_header.c_str(), &end, 10);
  if (timestamp_header.empty() || end == nullptr || *end != '\0') {
    return fail(ErrorCode::PermissionDenied, "missing or malformed X-Runway-Timestamp");
  }
  const std::int64_t skew = now_unix_seconds > ts ? now_unix_seconds - ts : ts - now_unix_seconds;
  if (skew > window.count()) {
    return fail(ErrorCode::PermissionDenied,
                fmt::format("timestamp {} is outside the {} s replay window", ts, window.count()));
  }
  constexpr std::string_view kPrefix = "sha256=";
  if (signature_header.rfind(kPrefix, 0) != 0) {
    return fail(ErrorCode::PermissionDenied, "missing or malformed X-Runway-Signature");
  }
  const std::string expected = webhookSignature(secret, ts, body);
  const std::string_view given = std::string_view(signature_header).substr(kPrefix.size());
  if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return fail(ErrorCode::PermissionDenied, "signature does not match");
  }
  return {};
}

Result<Outgoing> render(const config::NotificationChannel& channel, const Message& message,
                        const std::string& secret, std::int64_t delivery_id, std::int64_t now_unix_seconds) {
  Outgoing out;
  out.headers["Content-Type"] = "application/json";
  switch (channel.kind) {
    case config::NotificationChannel::Kind::Slack:
      out.url = secret;
      out.body = slackPayload(message);
      return out;
    case config::NotificationChannel::Kind::PagerDuty: {
      const auto action = pagerDutyAction(message.event, channel.change_events);
      if (!action) {
        return fail(ErrorCode::InvalidArgument,
                    fmt::format("PagerDuty channel {} has no action for {}", channel.name, message.event));
      }
      out.url = channel.url + (*action == PagerDutyAction::Change ? "/v2/change/enqueue" : "/v2/enqueue");
      out.body = pagerDutyPayload(message, *action, secret, channel.source);
      return out;
    }
    case config::NotificationChannel::Kind::Webhook: {
      out.url = channel.url;
      boost::system::error_code ec;
      json::value v = json::parse(toJson(message), ec);
      v.as_object()["deliveryId"] = delivery_id;
      out.body = json::serialize(v);
      out.headers["X-Runway-Event"] = message.event;
      out.headers["X-Runway-Delivery"] = std::to_string(delivery_id);
      out.headers["X-Runway-Dedup-Key"] = message.dedup_key;
      out.headers["X-Runway-Timestamp"] = std::to_string(now_unix_seconds);
      out.headers["X-Runway-Signature"] = "sha256=" + webhookSignature(secret, now_unix_seconds, out.body);
      return out;
    }
  }
  return fail(ErrorCode::Internal, "unknown channel kind");
}

}  // namespace runway::notify
