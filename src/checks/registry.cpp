#include "runway/checks/registry.hpp"

#include <cctype>
#include <cstdlib>
#include <map>
#include <regex>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "http.hpp"

namespace runway::checks {
namespace {

const char* kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

std::string envValue(const std::string& name) {
  if (name.empty()) return "";
  const char* v = std::getenv(name.c_str());
  return v != nullptr ? v : "";
}

// key="value" pairs of a WWW-Authenticate challenge.
std::map<std::string, std::string> challengeParams(const std::string& header) {
  std::map<std::string, std::string> out;
  static const std::regex kPair(R"re((\w+)="([^"]*)")re");
  for (auto it = std::sregex_iterator(header.begin(), header.end(), kPair);
       it != std::sregex_iterator(); ++it) {
    out[(*it)[1].str()] = (*it)[2].str();
  }
  return out;
}

// The first error code and message of a registry error body ({"errors":[{"code","message"}]}).
std::string registryError(const std::string& body) {
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return "";
  const auto* errors = value.as_object().if_contains("errors");
  if (errors == nullptr || !errors->is_array() || errors->as_array().empty()) return "";
  const auto& first = errors->as_array().front();
  if (!first.is_object()) return "";
  std::string code;
  std::string message;
  if (const auto* c = first.as_object().if_contains("code"); c != nullptr && c->is_string()) {
    code = std::string(c->as_string());
  }
  if (const auto* m = first.as_object().if_contains("message"); m != nullptr && m->is_string()) {
    message = std::string(m->as_string());
  }
  return message.empty() ? code : fmt::format("{}: {}", code, message);
}

}  // namespace

Result<ImageReference> parseImageReference(std::string_view image, std::string_view tag) {
  static const std::regex kTag(R"([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})");
  if (image.empty()) return fail(ErrorCode::InvalidArgument, "empty image name");
  if (!std::regex_match(std::string(tag), kTag)) {
    return fail(ErrorCode::InvalidArgument, fmt::format("\"{}\" is not a valid image tag", tag));
  }
  ImageReference ref;
  ref.tag = std::string(tag);
  const auto slash = image.find('/');
  const auto first = image.substr(0, slash);
  if (slash != std::string_view::npos &&
      (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
       first == "localhost")) {
    ref.registry = std::string(first);
    ref.repository = std::string(image.substr(slash + 1));
  } else {
    ref.registry = "registry-1.docker.io";
    ref.repository = slash == std::string_view::npos ? "library/" + std::string(image)
                                                     : std::string(image);
  }
  if (ref.repository.empty()) return fail(ErrorCode::InvalidArgument, "empty repository name");
  return ref;
}

Result<ManifestCheck> checkManifest(const ImageReference& image,
                                    const config::RegistrySpec& registry,
                                    std::chrono::milliseconds timeout) {
  const std::string scheme = registry.insecure ? "http" : "https";
  const auto url = fmt::format("{}://{}/v2/{}/manifests/{}", scheme, image.registry,
                               image.repository, image.tag);
  const auto user = envValue(registry.username_env);
  const auto password = envValue(registry.password_env);
  auto request = detail::checkRequest("HEAD", url, timeout);
  request.headers["Accept"] = kManifestAccept;
  auto response = http::send(request);
  if (!response) return fail(response.error());

  if (response->status == 401) {
    const auto challenge = response->headers["www-authenticate"];
    if (challenge.rfind("Bearer", 0) == 0) {
      auto params = challengeParams(challenge);
      if (params["realm"].empty()) {
        return ManifestCheck{false, 401, "401 with a Bearer challenge without a realm"};
      }
      std::string token_url = params["realm"];
      std::string sep = token_url.find('?') == std::string::npos ? "?" : "&";
      if (!params["service"].empty()) {
        token_url += sep + "service=" + http::urlEncode(params["service"]);
        sep = "&";
      }
      const auto scope = params["scope"].empty()
                             ? fmt::format("repository:{}:pull", image.repository)
                             : params["scope"];
      token_url += sep + "scope=" + http::urlEncode(scope);
      auto token_request = detail::checkRequest("GET", token_url, timeout);
      if (!user.empty()) {
        token_request.basic_user = user;
        token_request.basic_password = password;
      }
      auto token_response = http::send(token_request);
      if (!token_response) return fail(token_response.error());
      if (!detail::isSuccess(token_response->status)) {
        return ManifestCheck{false, token_response->status,
                             fmt::format("token service {} -> {}", params["realm"],
                                         token_response->status)};
      }
      boost::system::error_code ec;
      auto body = boost::json::parse(token_response->body, ec);
      std::string token;
      if (!ec && body.is_object()) {
        for (const char* key : {"token", "access_token"}) {
          if (const auto* t = body.as_object().if_contains(key); t != nullptr && t->is_string()) {
            token = std::string(t->as_string());
            break;
          }
        }
      }
      if (token.empty()) {
        return ManifestCheck{false, token_response->status,
                             "the token service answered without a token"};
      }
      request.bearer_token = token;
    } else if (!user.empty()) {
      request.basic_user = user;
      request.basic_password = password;
    } else {
      return ManifestCheck{false, 401,
                           "UNAUTHORIZED: the registry wants credentials (set "
                           "preflight.registry.usernameEnv/passwordEnv)"};
    }
    response = http::send(request);
    if (!response) return fail(response.error());
  }

  ManifestCheck check;
  check.status = response->status;
  if (detail::isSuccess(response->status)) {
    check.exists = true;
    const auto digest = response->headers["docker-content-digest"];
    check.detail = digest.empty() ? "manifest present" : digest;
    return check;
  }
  // HEAD carries no body: ask again with GET for the registry's error code.
  auto get = request;
  get.method = "GET";
  auto body = http::send(get);
  std::string code = body ? registryError(body->body) : "";
  check.detail = code.empty() ? fmt::format("HTTP {}", response->status)
                              : fmt::format("{} (HTTP {})", code, response->status);
  return check;
}

}  // namespace runway::checks
