#pragma once

// Where a Kubernetes API server is and how to authenticate to it: read from a kubeconfig file
// (what kubectl reads) or from the in-cluster service account. Plain value types; parsing
// happens once, and file references are resolved to their contents here, except token files
// and exec plugins, which are credentials that change while runway runs (credentials.hpp).

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runway/core/error.hpp"

namespace runway::kube {

// An exec credential plugin (client.authentication.k8s.io/v1), e.g. `aws eks get-token`.
struct ExecPlugin {
  std::string api_version;  // client.authentication.k8s.io/v1 (v1beta1 is accepted too)
  // The program: absolute, relative to the kubeconfig's directory when it contains a '/',
  // otherwise looked up on PATH when run.
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to runway's environment
  std::string interactive_mode;  // "Never", "IfAvailable" or "Always" (refused: no terminal)
  // provideClusterInfo: KUBERNETES_EXEC_INFO then carries spec.cluster (server,
  // certificate-authority-data, insecure-skip-tls-verify) of the kubeconfig's cluster.
  bool provide_cluster_info = false;
};

// Everything needed to talk to one API server as one user.
struct Connection {
  std::string server;  // "https://127.0.0.1:6443", no trailing '/'
  std::string context;  // the kubeconfig context it came from ("" for in-cluster)
  std::string namespace_name;  // the context's namespace, "default" when it names none

  // TLS. Certificates and keys are PEM text (never paths): file references are read when the
  // kubeconfig is loaded.
  std::string certificate_authority_pem;  // "" = the system's trust store
  bool insecure_skip_tls_verify = false;

  // At most one of these identifies the user (a kubeconfig naming two is refused):
  std::string client_certificate_pem;  // with client_key_pem
  std::string client_key_pem;
  std::string token;  // a static bearer token
  std::filesystem::path token_file;  // read again every minute (projected tokens rotate)
  std::optional<ExecPlugin> exec;
};

// Reads a kubeconfig. `context` "" means its current-context. Relative paths in it
// (certificate-authority, client-certificate, client-key, tokenFile, an exec command with a
// '/') are relative to the file's directory.
// Errors: NotFound (no such file, context, cluster or user), InvalidArgument (bad YAML, missing
// server, bad base64, an unsupported field such as auth-provider or username/password), with
// the file and the field in the message.
Result<Connection> loadKubeconfig(const std::filesystem::path& path, const std::string& context = {});

// The same from text already read; `base_dir` resolves relative paths, `origin` names the text
// in messages.
Result<Connection> parseKubeconfig(const std::string& text, const std::filesystem::path& base_dir,
                                   const std::string& context = {},
                                   const std::string& origin = "kubeconfig");

// Where a pod finds its service account. Injectable so that tests need no real pod.
struct InClusterEnvironment {
  // Returns the value of an environment variable, or nullopt when it is unset.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::filesystem::path service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";

  // The process's real environment and the standard directory.
  static InClusterEnvironment system();
};

// The in-cluster configuration: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the
// service account's CA (ca.crt), its token (token, read again every minute: it is rotated) and
// namespace (namespace, else "default").
// Errors: NotFound when the variables or files are missing (not running in a pod).
Result<Connection> inClusterConnection(const InClusterEnvironment& environment);

}  // namespace runway::kube
