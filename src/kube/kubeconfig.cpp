#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "base64.hpp"
#include "runway/kube/config.hpp"

namespace runway::kube {
namespace {

namespace fs = std::filesystem;

Result<std::string> readFile(const fs::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::NotFound, fmt::format("cannot read {} {}", what, path.string()));
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

fs::path resolve(const fs::path& base_dir, const std::string& path) {
  const fs::path p(path);
  return p.is_absolute() ? p : base_dir / p;
}

std::string scalar(const YAML::Node& map, const char* key) {
  const auto node = map[key];
  return node && node.IsScalar() ? node.as<std::string>() : std::string{};
}

// The entry called `name` of a kubeconfig list (clusters, users, contexts), its `field` map;
// nullopt when there is none.
std::optional<YAML::Node> findNamed(const YAML::Node& root, const char* list, const char* field,
                                    const std::string& name) {
  const auto entries = root[list];
  if (!entries || !entries.IsSequence()) return std::nullopt;
  for (const auto& entry : entries) {
    if (entry.IsMap() && scalar(entry, "name") == name) {
      const auto value = entry[field];
      return value && value.IsMap() ? value : YAML::Node(YAML::NodeType::Map);
    }
  }
  return std::nullopt;
}

// `<key>-data` (base64) or `<key>` (a file): the PEM text, "" when neither is set.
Result<std::string> pemFrom(const YAML::Node& map, const std::string& key,
                            const fs::path& base_dir, const std::string& where) {
  const auto data = scalar(map, (key + "-data").c_str());
  const auto file = scalar(map, key.c_str());
  if (!data.empty() && !file.empty()) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("{}: both {} and {}-data are set; keep one", where, key, key));
  }
  if (!data.empty()) {
    auto decoded = detail::decodeBase64(data);
    if (!decoded) {
      return fail(ErrorCode::InvalidArgument, fmt::format("{}: {}-data is not base64", where, key));
    }
    return std::move(*decoded);
  }
  if (!file.empty()) return readFile(resolve(base_dir, file), fmt::format("{} ({})", key, where));
  return std::string{};
}

Result<ExecPlugin> parseExec(const YAML::Node& node, const fs::path& base_dir,
                             const std::string& where) {
  ExecPlugin exec;
  exec.api_version = scalar(node, "apiVersion");
  if (exec.api_version != "client.authentication.k8s.io/v1" &&
      exec.api_version != "client.authentication.k8s.io/v1beta1") {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("{}.exec.apiVersion: \"{}\" is not supported (use "
                            "client.authentication.k8s.io/v1)",
                            where, exec.api_version));
  }
  exec.command = scalar(node, "command");
  if (exec.command.empty()) {
    return fail(ErrorCode::InvalidArgument, fmt::format("{}.exec.command: missing", where));
  }
  // As client-go: a command with a path separator is relative to the kubeconfig's directory.
  if (exec.command.find('/') != std::string::npos) {
    exec.command = resolve(base_dir, exec.command).string();
  }
  if (const auto args = node["args"]; args && args.IsSequence()) {
    for (const auto& arg : args) exec.args.push_back(arg.as<std::string>());
  }
  if (const auto env = node["env"]; env && env.IsSequence()) {
    for (const auto& entry : env) exec.env.emplace_back(scalar(entry, "name"), scalar(entry, "value"));
  }
  exec.provide_cluster_info = scalar(node, "provideClusterInfo") == "true";
  exec.interactive_mode = scalar(node, "interactiveMode");
  if (exec.interactive_mode.empty()) exec.interactive_mode = "IfAvailable";
  if (exec.interactive_mode == "Always") {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("{}.exec.interactiveMode: Always needs a terminal, and runway has none; "
                            "use Never or IfAvailable",
                            where));
  }
  return exec;
}

Result<Connection> parseDocument(const YAML::Node& root, const fs::path& base_dir,
                                 const std::string& wanted_context, const std::string& origin) {
  if (!root.IsMap()) {
    return fail(ErrorCode::InvalidArgument, fmt::format("{}: not a kubeconfig (no mapping)", origin));
  }
  Connection c;
  c.context = wanted_context.empty() ? scalar(root, "current-context") : wanted_context;
  if (c.context.empty()) {
    return fail(ErrorCode::NotFound,
                fmt::format("{}: no current-context; name a context", origin));
  }
  const auto found_context = findNamed(root, "contexts", "context", c.context);
  if (!found_context) {
    return fail(ErrorCode::NotFound, fmt::format("{}: no context \"{}\"", origin, c.context));
  }
  const auto& context = *found_context;
  const auto cluster_name = scalar(context, "cluster");
  const auto user_name = scalar(context, "user");
  c.namespace_name = scalar(context, "namespace");
  if (c.namespace_name.empty()) c.namespace_name = "default";

  const auto found_cluster = findNamed(root, "clusters", "cluster", cluster_name);
  const auto cluster_where = fmt::format("{}: clusters[{}]", origin, cluster_name);
  if (!found_cluster) {
    return fail(ErrorCode::NotFound,
                fmt::format("{}: context \"{}\" names cluster \"{}\", which is not defined", origin,
                            c.context, cluster_name));
  }
  const auto& cluster = *found_cluster;
  c.server = scalar(cluster, "server");
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  if (c.server.empty()) {
    return fail(ErrorCode::InvalidArgument, fmt::format("{}.server: missing", cluster_where));
  }
  for (const char* unsupported : {"proxy-url", "tls-server-name"}) {
    if (!scalar(cluster, unsupported).empty()) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("{}.{}: not supported by runway yet", cluster_where, unsupported));
    }
  }
  auto ca = pemFrom(cluster, "certificate-authority", base_dir, cluster_where);
  if (!ca) return fail(ca.error());
  c.certificate_authority_pem = std::move(*ca);
  c.insecure_skip_tls_verify = scalar(cluster, "insecure-skip-tls-verify") == "true";

  const auto found_user = findNamed(root, "users", "user", user_name);
  const auto user_where = fmt::format("{}: users[{}]", origin, user_name);
  if (!found_user) {
    return fail(ErrorCode::NotFound,
                fmt::format("{}: context \"{}\" names user \"{}\", which is not defined", origin,
                            c.context, user_name));
  }
  const auto& user = *found_user;
  for (const char* unsupported : {"auth-provider", "username", "password", "as"}) {
    if (user[unsupported]) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("{}.{}: not supported by runway (use a client certificate, a token, "
                              "a tokenFile or an exec plugin)",
                              user_where, unsupported));
    }
  }
  auto cert = pemFrom(user, "client-certificate", base_dir, user_where);
  if (!cert) return fail(cert.error());
  auto key = pemFrom(user, "client-key", base_dir, user_where);
  if (!key) return fail(key.error());
  if (cert->empty() != key->empty()) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("{}: a client certificate needs its key and a key its certificate",
                            user_where));
  }
  c.client_certificate_pem = std::move(*cert);
  c.client_key_pem = std::move(*key);
  c.token = scalar(user, "token");
  if (const auto file = scalar(user, "tokenFile"); !file.empty()) c.token_file = resolve(base_dir, file);
  if (const auto exec = user["exec"]; exec && exec.IsMap()) {
    auto plugin = parseExec(exec, base_dir, user_where);
    if (!plugin) return fail(plugin.error());
    c.exec = std::move(*plugin);
  }
  const int identities = (c.client_certificate_pem.empty() ? 0 : 1) + (c.token.empty() ? 0 : 1) +
                         (c.token_file.empty() ? 0 : 1) + (c.exec ? 1 : 0);
  if (identities > 1) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("{}: more than one of client-certificate, token, tokenFile and exec "
                            "is set; keep one",
                            user_where));
  }
  return c;
}

}  // namespace

Result<Connection> parseKubeconfig(const std::string& text, const fs::path& base_dir,
                                   const std::string& context, const std::string& origin) {
  // yaml-cpp reports errors by throwing: this is its adapter.
  try {
    return parseDocument(YAML::Load(text), base_dir, context, origin);
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("{}:{}:{}: {}", origin, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

Result<Connection> loadKubeconfig(const fs::path& path, const std::string& context) {
  auto text = readFile(path, "kubeconfig");
  if (!text) return fail(text.error());
  return parseKubeconfig(*text, path.parent_path(), context, path.string());
}

InClusterEnvironment InClusterEnvironment::system() {
  InClusterEnvironment environment;
  environment.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  return environment;
}

Result<Connection> inClusterConnection(const InClusterEnvironment& environment) {
  const auto host = environment.getenv("KUBERNETES_SERVICE_HOST");
  const auto port = environment.getenv("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return fail(ErrorCode::NotFound,
                "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and "
                "KUBERNETES_SERVICE_PORT are not set");
  }
  Connection c;
  // An IPv6 address needs brackets in a URL.
  const bool ipv6 = host->find(':') != std::string::npos;
  c.server = fmt::format("https://{}{}{}:{}", ipv6 ? "[" : "", *host, ipv6 ? "]" : "", *port);
  const auto& dir = environment.service_account_dir;
  auto ca = readFile(dir / "ca.crt", "service account CA");
  if (!ca) return fail(ca.error());
  c.certificate_authority_pem = std::move(*ca);
  if (!fs::exists(dir / "token")) {
    return fail(ErrorCode::NotFound,
                fmt::format("no service account token at {}", (dir / "token").string()));
  }
  c.token_file = dir / "token";
  c.namespace_name = "default";
  if (auto ns = readFile(dir / "namespace", "service account namespace")) {
    auto& text = *ns;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (!text.empty()) c.namespace_name = text;
  }
  return c;
}

}  // namespace runway::kube
