// Release evidence: validation and the stored JSON form.

#include "runway/store/evidence.hpp"

#include <algorithm>
#include <exception>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/core/utf8.hpp"

namespace runway::store {
namespace {

namespace json = boost::json;

bool isHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// GitHub's owner and repository names: letters, digits, '-', '_' and '.'.
bool isNamePart(std::string_view s) {
  if (s.empty() || s.size() > 100 || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

bool knownKind(std::string_view kind) {
  return std::find(std::begin(kAttachmentKinds), std::end(kAttachmentKinds), kind) !=
         std::end(kAttachmentKinds);
}

}  // namespace

const Attachment* ReleaseEvidence::attachment(std::string_view kind) const {
  for (const auto& a : attachments) {
    if (a.kind == kind) return &a;
  }
  return nullptr;
}

Result<void> validateEvidence(const ReleaseEvidence& evidence) {
  const auto& c = evidence.commit;
  if (!c.empty() && (c.size() < 7 || c.size() > 64 || !std::all_of(c.begin(), c.end(), isHex))) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("commit: \"{}\" is not a commit SHA (7 to 64 lowercase hex digits)", c));
  }
  const auto& r = evidence.repository;
  if (!r.empty()) {
    const auto slash = r.find('/');
    if (slash == std::string::npos || !isNamePart(std::string_view(r).substr(0, slash)) ||
        !isNamePart(std::string_view(r).substr(slash + 1))) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("repository: \"{}\" is not OWNER/NAME (e.g. acme/shop)", r));
    }
  }
  std::vector<std::string_view> seen;
  for (const auto& a : evidence.attachments) {
    const std::string field = "attachments." + a.kind;
    if (!knownKind(a.kind)) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("{}: unknown attachment kind \"{}\" (kinds: vulnerabilities, tests, changelog)",
                              field, a.kind));
    }
    if (std::find(seen.begin(), seen.end(), a.kind) != seen.end()) {
      return fail(ErrorCode::InvalidArgument, field + ": attached twice; attach one report of each kind");
    }
    seen.push_back(a.kind);
    if (a.name.empty()) return fail(ErrorCode::InvalidArgument, field + ": the file name is empty");
    if (a.content.empty()) {
      return fail(ErrorCode::InvalidArgument, fmt::format("{}: {} is empty", field, a.name));
    }
    if (a.content.size() > kMaxAttachmentBytes) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("{}: {} is {} bytes, more than the {} bytes an attachment may have", field,
                              a.name, a.content.size(), kMaxAttachmentBytes));
    }
    if (!isValidUtf8(a.content)) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("{}: {} is not UTF-8 text", field, a.name));
    }
  }
  return {};
}

std::string toJson(const ReleaseEvidence& evidence) {
  json::object o;
  if (!evidence.commit.empty()) o["commit"] = evidence.commit;
  if (!evidence.repository.empty()) o["repository"] = evidence.repository;
  if (!evidence.attachments.empty()) {
    json::array list;
    for (const auto& a : evidence.attachments) {
      list.push_back(json::object{{"kind", a.kind}, {"name", a.name}, {"content", a.content}});
    }
    o["attachments"] = std::move(list);
  }
  return json::serialize(o);
}

Result<ReleaseEvidence> parseEvidence(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return fail(ErrorCode::InvalidArgument, "release evidence is not a JSON object");
  const auto& o = v.get_object();
  const auto stringAt = [](const json::object& from, std::string_view key) -> Result<std::string> {
    const auto* x = from.if_contains(key);
    if (x == nullptr) return std::string();
    if (!x->is_string()) {
      return fail(ErrorCode::InvalidArgument, fmt::format("release evidence: {} is not a string", key));
    }
    return std::string(x->get_string());
  };
  ReleaseEvidence out;
  auto commit = stringAt(o, "commit");
  if (!commit) return fail(commit.error());
  auto repository = stringAt(o, "repository");
  if (!repository) return fail(repository.error());
  out.commit = std::move(*commit);
  out.repository = std::move(*repository);
  if (const auto* list = o.if_contains("attachments"); list != nullptr) {
    if (!list->is_array()) return fail(ErrorCode::InvalidArgument, "release evidence: attachments is not a list");
    for (const auto& item : list->get_array()) {
      if (!item.is_object()) {
        return fail(ErrorCode::InvalidArgument, "release evidence: an attachment is not an object");
      }
      Attachment a;
      auto kind = stringAt(item.get_object(), "kind");
      auto name = stringAt(item.get_object(), "name");
      auto content = stringAt(item.get_object(), "content");
      for (auto* r : {&kind, &name, &content}) {
        if (!*r) return fail(r->error());
      }
      a.kind = std::move(*kind);
      a.name = std::move(*name);
      a.content = std::move(*content);
      out.attachments.push_back(std::move(a));
    }
  }
  return out;
}

}  // namespace runway::store
