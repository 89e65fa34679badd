#pragma once

// Checks a request body against what Slack and PagerDuty document for it
// (/work/shared/reference/judges-and-formats.md §4.4, §4.5): the fake receivers run these on
// every payload, and the unit tests on every rendering. Each returns the rules broken ("" rule
// names what and where); empty = valid.

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

namespace runway::testing {

// UTF-8 code points (Slack and PagerDuty count characters).
inline std::size_t charCount(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

namespace formats_detail {

inline const boost::json::object* objectAt(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

inline bool isString(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string();
}

inline std::string str(const boost::json::object& o, std::string_view key) {
  return isString(o, key) ? std::string(o.at(key).as_string()) : std::string();
}

// A Block Kit text object: type plain_text or mrkdwn, text within `max` characters.
inline void checkText(const boost::json::value& v, std::size_t max, const std::string& where,
                      std::vector<std::string>& out) {
  if (!v.is_object()) {
    out.push_back(where + ": not a text object");
    return;
  }
  const auto& t = v.as_object();
  const std::string type = str(t, "type");
  if (type != "plain_text" && type != "mrkdwn") out.push_back(where + ".type: \"" + type + "\"");
  if (!isString(t, "text") || str(t, "text").empty()) {
    out.push_back(where + ".text: missing or empty");
  } else if (charCount(str(t, "text")) > max) {
    out.push_back(where + ".text: longer than " + std::to_string(max));
  }
}

}  // namespace formats_detail

inline std::vector<std::string> slackViolations(const std::string& body) {
  using namespace formats_detail;
  std::vector<std::string> out;
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {"body is not a JSON object"};
  const auto& o = v.as_object();
  static const std::set<std::string> kTop{"text", "blocks", "attachments", "thread_ts", "mrkdwn"};
  for (const auto& kv : o) {
    // App incoming webhooks cannot override channel, username or icon.
    if (kTop.count(std::string(kv.key())) == 0) out.push_back("unexpected field " + std::string(kv.key()));
  }
  if (!isString(o, "text") || str(o, "text").empty()) out.push_back("text: the fallback is missing");
  const auto* blocks = o.if_contains("blocks");
  if (blocks == nullptr) return out;
  if (!blocks->is_array()) return {"blocks: not a list"};
  if (blocks->as_array().size() > 50) out.push_back("blocks: more than 50");
  std::size_t i = 0;
  for (const auto& b : blocks->as_array()) {
    const std::string where = "blocks[" + std::to_string(i++) + "]";
    if (!b.is_object()) {
      out.push_back(where + ": not an object");
      continue;
    }
    const auto& block = b.as_object();
    const std::string type = str(block, "type");
    if (type == "header") {
      if (block.if_contains("text") == nullptr || str(block.at("text").as_object(), "type") != "plain_text") {
        out.push_back(where + ": a header's text must be plain_text");
      }
      if (const auto* t = block.if_contains("text")) checkText(*t, 150, where + ".text", out);
    } else if (type == "section") {
      const auto* text = block.if_contains("text");
      const auto* fields = block.if_contains("fields");
      if (text == nullptr && fields == nullptr) out.push_back(where + ": a section needs text or fields");
      if (text != nullptr) checkText(*text, 3000, where + ".text", out);
      if (fields != nullptr) {
        if (!fields->is_array() || fields->as_array().size() > 10) {
          out.push_back(where + ".fields: not a list of at most 10");
        } else {
          std::size_t j = 0;
          for (const auto& f : fields->as_array()) {
            checkText(f, 2000, where + ".fields[" + std::to_string(j++) + "]", out);
          }
        }
      }
    } else if (type == "context") {
      const auto* elements = block.if_contains("elements");
      if (elements == nullptr || !elements->is_array() || elements->as_array().empty() ||
          elements->as_array().size() > 10) {
        out.push_back(where + ".elements: 1 to 10 needed");
      } else {
        for (const auto& e : elements->as_array()) checkText(e, 3000, where + ".elements[]", out);
      }
    } else if (type != "divider") {
      out.push_back(where + ".type: unknown block type \"" + type + "\"");
    }
  }
  return out;
}

// An Events API v2 event (POST /v2/enqueue).
inline std::vector<std::string> pagerDutyEventViolations(const std::string& body) {
  using namespace formats_detail;
  std::vector<std::string> out;
  if (body.size() > 512 * 1024) out.push_back("body larger than 512 KB");
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {"body is not a JSON object"};
  const auto& o = v.as_object();
  static const std::set<std::string> kTop{"routing_key", "event_action", "dedup_key", "payload",
                                          "images",      "links",        "client",    "client_url"};
  for (const auto& kv : o) {
    if (kTop.count(std::string(kv.key())) == 0) out.push_back("unexpected field " + std::string(kv.key()));
  }
  if (str(o, "routing_key").size() != 32) out.push_back("routing_key: not 32 characters");
  const std::string action = str(o, "event_action");
  if (action != "trigger" && action != "acknowledge" && action != "resolve") {
    out.push_back("event_action: \"" + action + "\"");
  }
  if (o.contains("dedup_key")) {
    const std::string key = str(o, "dedup_key");
    if (key.empty() || key.size() > 255) out.push_back("dedup_key: empty or longer than 255");
  } else if (action != "trigger") {
    out.push_back("dedup_key: required for " + action);
  }
  if (action != "trigger") return out;
  const auto* payload = objectAt(o, "payload");
  if (payload == nullptr) {
    out.push_back("payload: required for trigger");
    return out;
  }
  const std::string summary = str(*payload, "summary");
  if (summary.empty() || charCount(summary) > 1024) out.push_back("payload.summary: empty or longer than 1024");
  if (str(*payload, "source").empty()) out.push_back("payload.source: required");
  static const std::set<std::string> kSeverity{"critical", "error", "warning", "info"};
  if (kSeverity.count(str(*payload, "severity")) == 0) {
    out.push_back("payload.severity: \"" + str(*payload, "severity") + "\"");
  }
  if (payload->contains("timestamp") && str(*payload, "timestamp").size() < 20) {
    out.push_back("payload.timestamp: not an ISO 8601 date-time");
  }
  for (const char* k : {"component", "group", "class"}) {
    if (payload->contains(k) && !isString(*payload, k)) out.push_back(std::string("payload.") + k + ": not a string");
  }
  if (payload->contains("custom_details") && objectAt(*payload, "custom_details") == nullptr) {
    out.push_back("payload.custom_details: not an object");
  }
  return out;
}

// A change event (POST /v2/change/enqueue).
inline std::vector<std::string> pagerDutyChangeViolations(const std::string& body) {
  using namespace formats_detail;
  std::vector<std::string> out;
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {"body is not a JSON object"};
  const auto& o = v.as_object();
  static const std::set<std::string> kTop{"routing_key", "payload", "links", "images"};
  for (const auto& kv : o) {
    if (kTop.count(std::string(kv.key())) == 0) out.push_back("unexpected field " + std::string(kv.key()));
  }
  if (str(o, "routing_key").size() != 32) out.push_back("routing_key: not 32 characters");
  const auto* payload = objectAt(o, "payload");
  if (payload == nullptr) return {"payload: required"};
  const std::string summary = str(*payload, "summary");
  if (summary.empty() || charCount(summary) > 1024) out.push_back("payload.summary: empty or longer than 1024");
  if (payload->contains("timestamp") && str(*payload, "timestamp").size() < 20) {
    out.push_back("payload.timestamp: not an ISO 8601 date-time");
  }
  return out;
}

}  // namespace runway::testing
