#include <gtest/gtest.h>

#include <map>

#include "runway/kube/config.hpp"
#include "support/temp_dir.hpp"

namespace runway::kube {
namespace {

// base64 of "CA PEM", "CERT PEM", "KEY PEM".
constexpr const char* kCaData = "Q0EgUEVN";
constexpr const char* kCertData = "Q0VSVCBQRU0=";
constexpr const char* kKeyData = "S0VZIFBFTQ==";

std::string twoContexts() {
  return std::string(R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod-cluster
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: )") + kCaData + R"(
- name: dev-cluster
  cluster:
    server: https://dev.example:443
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate-data: )" + kCertData + R"(
    client-key-data: )" + kKeyData + R"(
- name: robot
  user:
    token: s3cr3t
contexts:
- name: prod
  context: {cluster: prod-cluster, user: admin, namespace: shop}
- name: dev
  context: {cluster: dev-cluster, user: robot}
)";
}

TEST(KubeconfigTest, CurrentContextWithInlineCertificates) {
  auto c = parseKubeconfig(twoContexts(), "/etc/kube");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->context, "prod");
  EXPECT_EQ(c->server, "https://10.0.0.1:6443");  // trailing '/' dropped
  EXPECT_EQ(c->namespace_name, "shop");
  EXPECT_EQ(c->certificate_authority_pem, "CA PEM");
  EXPECT_EQ(c->client_certificate_pem, "CERT PEM");
  EXPECT_EQ(c->client_key_pem, "KEY PEM");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_TRUE(c->token.empty());
  EXPECT_FALSE(c->exec);
}

TEST(KubeconfigTest, NamedContextWithTokenAndInsecureTls) {
  auto c = parseKubeconfig(twoContexts(), "/etc/kube", "dev");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server, "https://dev.example:443");
  EXPECT_EQ(c->namespace_name, "default");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->token, "s3cr3t");
  EXPECT_TRUE(c->certificate_authority_pem.empty());
}

TEST(KubeconfigTest, FilesAreRelativeToTheKubeconfig) {
  test::TempDir dir("kubeconfig");
  ASSERT_TRUE(dir.write("pki/ca.crt", "CA FROM FILE"));
  ASSERT_TRUE(dir.write("pki/admin.crt", "CERT FROM FILE"));
  ASSERT_TRUE(dir.write("pki/admin.key", "KEY FROM FILE"));
  auto path = dir.write("config", R"(apiVersion: v1
kind: Config
current-context: local
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:6443", certificate-authority: pki/ca.crt}
users:
- name: admin
  user: {client-certificate: pki/admin.crt, client-key: pki/admin.key}
contexts:
- name: local
  context: {cluster: local, user: admin}
)");
  ASSERT_TRUE(path);
  auto c = loadKubeconfig(*path);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->certificate_authority_pem, "CA FROM FILE");
  EXPECT_EQ(c->client_certificate_pem, "CERT FROM FILE");
  EXPECT_EQ(c->client_key_pem, "KEY FROM FILE");
}

TEST(KubeconfigTest, TokenFileAndExecPlugin) {
  const std::string text = R"(apiVersion: v1
kind: Config
current-context: eks
clusters:
- name: c
  cluster: {server: "https://eks.example"}
users:
- name: file
  user: {tokenFile: tokens/robot}
- name: aws
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: bin/get-token
      args: [eks, get-token, --cluster-name, prod]
      env: [{name: AWS_PROFILE, value: prod}]
      interactiveMode: Never
      provideClusterInfo: true
- name: on-path
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}
contexts:
- name: eks
  context: {cluster: c, user: aws}
- name: file
  context: {cluster: c, user: file}
- name: on-path
  context: {cluster: c, user: on-path}
)";
  auto exec = parseKubeconfig(text, "/home/me/.kube");
  ASSERT_TRUE(exec) << exec.error().message;
  ASSERT_TRUE(exec->exec);
  EXPECT_EQ(exec->exec->command, "/home/me/.kube/bin/get-token");
  EXPECT_EQ(exec->exec->args, (std::vector<std::string>{"eks", "get-token", "--cluster-name", "prod"}));
  ASSERT_EQ(exec->exec->env.size(), 1U);
  EXPECT_EQ(exec->exec->env[0], (std::pair<std::string, std::string>{"AWS_PROFILE", "prod"}));
  EXPECT_EQ(exec->exec->interactive_mode, "Never");
  EXPECT_TRUE(exec->exec->provide_cluster_info);

  auto on_path = parseKubeconfig(text, "/home/me/.kube", "on-path");
  ASSERT_TRUE(on_path) << on_path.error().message;
  EXPECT_EQ(on_path->exec->command, "aws");  // a bare name is looked up on PATH
  EXPECT_EQ(on_path->exec->interactive_mode, "IfAvailable");
  EXPECT_FALSE(on_path->exec->provide_cluster_info);

  auto file = parseKubeconfig(text, "/home/me/.kube", "file");
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->token_file, "/home/me/.kube/tokens/robot");
}

struct BadCase {
  std::string text;
  ErrorCode code;
  std::string message_part;
};

TEST(KubeconfigTest, MistakesAreNamed) {
  const std::string base = R"(clusters:
- name: c
  cluster: {server: "https://x"}
contexts:
- name: a
  context: {cluster: c, user: u}
- name: lost
  context: {cluster: nowhere, user: u}
)";
  const std::vector<BadCase> cases = {
      {base + "users:\n- name: u\n  user: {token: t}\n", ErrorCode::NotFound, "no current-context"},
      {base + "current-context: b\nusers:\n- name: u\n  user: {token: t}\n", ErrorCode::NotFound,
       "no context \"b\""},
      {base + "current-context: lost\nusers:\n- name: u\n  user: {token: t}\n", ErrorCode::NotFound,
       "cluster \"nowhere\", which is not defined"},
      {base + "current-context: a\nusers: []\n", ErrorCode::NotFound,
       "user \"u\", which is not defined"},
      {base + "current-context: a\nusers:\n- name: u\n  user: {client-certificate-data: '%%%'}\n",
       ErrorCode::InvalidArgument, "client-certificate-data is not base64"},
      {base + "current-context: a\nusers:\n- name: u\n  user: {client-certificate-data: " +
           kCertData + "}\n",
       ErrorCode::InvalidArgument, "needs its key"},
      {base + "current-context: a\nusers:\n- name: u\n  user: {token: t, tokenFile: /f}\n",
       ErrorCode::InvalidArgument, "more than one of"},
      {base + "current-context: a\nusers:\n- name: u\n  user: {auth-provider: {name: gcp}}\n",
       ErrorCode::InvalidArgument, "auth-provider: not supported"},
      {base + "current-context: a\nusers:\n- name: u\n  user:\n    exec: {apiVersion: "
              "client.authentication.k8s.io/v1, command: x, interactiveMode: Always}\n",
       ErrorCode::InvalidArgument, "interactiveMode: Always needs a terminal"},
      {base + "current-context: a\nusers:\n- name: u\n  user:\n    exec: {apiVersion: "
              "client.authentication.k8s.io/v1alpha1, command: x}\n",
       ErrorCode::InvalidArgument, "v1alpha1\" is not supported"},
      {"clusters: [\n", ErrorCode::InvalidArgument, "kubeconfig:"},
  };
  for (const auto& c : cases) {
    auto parsed = parseKubeconfig(c.text, "/k");
    ASSERT_FALSE(parsed) << c.text;
    EXPECT_EQ(parsed.error().code, c.code) << c.text;
    EXPECT_NE(parsed.error().message.find(c.message_part), std::string::npos)
        << parsed.error().message;
  }
}

TEST(KubeconfigTest, MissingFileIsNotFound) {
  auto c = loadKubeconfig("/nonexistent/kubeconfig");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::NotFound);
}

TEST(InClusterTest, ServiceAccountFilesAndEnvironment) {
  test::TempDir dir("in-cluster");
  ASSERT_TRUE(dir.write("sa/ca.crt", "CLUSTER CA"));
  ASSERT_TRUE(dir.write("sa/token", "projected-token\n"));
  ASSERT_TRUE(dir.write("sa/namespace", "payments\n"));
  std::map<std::string, std::string> env{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                         {"KUBERNETES_SERVICE_PORT", "443"}};
  InClusterEnvironment environment;
  environment.service_account_dir = dir / "sa";
  environment.getenv = [&](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto c = inClusterConnection(environment);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->certificate_authority_pem, "CLUSTER CA");
  EXPECT_EQ(c->token_file, dir / "sa/token");
  EXPECT_EQ(c->namespace_name, "payments");

  env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  c = inClusterConnection(environment);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->server, "https://[fd00::1]:443");

  env.erase("KUBERNETES_SERVICE_HOST");
  c = inClusterConnection(environment);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::NotFound);
  EXPECT_NE(c.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);
}

TEST(InClusterTest, MissingTokenIsNotFound) {
  test::TempDir dir("in-cluster");
  ASSERT_TRUE(dir.write("sa/ca.crt", "CLUSTER CA"));
  InClusterEnvironment environment;
  environment.service_account_dir = dir / "sa";
  environment.getenv = [](const std::string&) -> std::optional<std::string> { return "1"; };
  auto c = inClusterConnection(environment);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::NotFound);
}

}  // namespace
}  // namespace runway::kube
