#include "records.hpp"

#include <boost/json.hpp>

namespace runway::store {

bool isJson(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  return !ec;
}

Result<void> validateEvent(const NewEvent& event) {
  if (event.kind.empty()) return fail(ErrorCode::InvalidArgument, "event kind is empty");
  if (!isJson(event.data_json)) {
    return fail(ErrorCode::InvalidArgument,
                "event " + event.kind + ": data_json is not valid JSON: " + event.data_json);
  }
  return {};
}

Result<void> validateNotification(const NewNotification& n) {
  if (n.channel.empty() || n.event.empty() || n.dedup_key.empty()) {
    return fail(ErrorCode::InvalidArgument, "a notification needs a channel, an event and a dedup key");
  }
  if (!isJson(n.message_json)) {
    return fail(ErrorCode::InvalidArgument, "notification message for " + n.channel + " is not valid JSON");
  }
  return {};
}

std::string artifactsToJson(const std::map<std::string, std::string>& artifacts) {
  boost::json::object object;
  for (const auto& [service, ref] : artifacts) object[service] = ref;
  return boost::json::serialize(object);
}

Result<std::map<std::string, std::string>> artifactsFromJson(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    return fail(ErrorCode::Internal, "stored release artifacts are not a JSON object");
  }
  std::map<std::string, std::string> artifacts;
  for (const auto& [service, ref] : value.as_object()) {
    if (!ref.is_string()) {
      return fail(ErrorCode::Internal, "stored release artifact is not a string");
    }
    artifacts.emplace(std::string(service), std::string(ref.as_string()));
  }
  return artifacts;
}

std::string fenceMessage(const Fence& fence, const std::string& holder, std::int64_t term) {
  return "write refused: " + fence.holder + " no longer holds lease " + fence.lease + " at term " +
         std::to_string(fence.term) + " (" +
         (holder.empty() ? std::string("it is free") : "held by " + holder + " at term " + std::to_string(term)) +
         "); this server must stop writing and step down";
}

std::string rolesToJson(const std::vector<std::string>& roles) {
  boost::json::array array;
  for (const std::string& role : roles) array.emplace_back(role);
  return boost::json::serialize(array);
}

Result<std::vector<std::string>> rolesFromJson(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_array()) {
    return fail(ErrorCode::Internal, "stored token roles are not a JSON array");
  }
  std::vector<std::string> roles;
  for (const auto& role : value.as_array()) {
    if (!role.is_string()) return fail(ErrorCode::Internal, "stored token role is not a string");
    roles.emplace_back(role.as_string());
  }
  return roles;
}

}  // namespace runway::store
