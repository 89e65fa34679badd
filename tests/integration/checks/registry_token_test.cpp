// Token authentication against a real docker-registry: the registry is configured with
// `auth: token` (a realm, a service, an issuer and the certificate that signs tokens); a small
// token service (python3) hands out an RS256 JWT, signed here with the openssl CLI, only to
// requests with the right basic credentials. The check follows the registry's Bearer challenge.

#include <cstdlib>
#include <ctime>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixture.hpp"
#include "runway/checks/registry.hpp"
#include "support/process.hpp"

namespace runway::checks::itest {
namespace {

using ::testing::HasSubstr;

std::string base64(const std::string& in, bool url) {
  static const char* kStd = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char* kUrl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* table = url ? kUrl : kStd;
  std::string out;
  unsigned value = 0;
  int bits = -6;
  for (const char c : in) {
    value = (value << 8) + static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 0) {
      out += table[(value >> static_cast<unsigned>(bits)) & 0x3F];
      bits -= 6;
    }
  }
  if (bits > -6) out += table[((value << 8) >> static_cast<unsigned>(bits + 8)) & 0x3F];
  if (!url) {
    while (out.size() % 4 != 0) out += '=';
  }
  return out;
}

void run(std::vector<std::string> argv) {
  test::SubprocessOptions options;
  options.argv = std::move(argv);
  options.stdout_to = test::Output::null();
  options.stderr_to = test::Output::pipe();
  auto p = test::Subprocess::start(std::move(options));
  ASSERT_TRUE(p) << p.error().message;
  auto out = p->readToEnd(test::deadlineIn(60s));
  auto status = p->waitExit(test::deadlineIn(10s));
  ASSERT_TRUE(status && status->exitedWith(0)) << (out ? out->err : "");
}

const char* kTokenServer = R"py(
import http.server, sys
port, expected, token_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get("Authorization") != expected:
            self.send_response(401); self.end_headers(); return
        body = open(token_file, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
server = http.server.HTTPServer(("127.0.0.1", port), Handler)
print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
)py";

TEST(RegistryTokenTest, BearerChallengeIsAnsweredWithATokenFromTheRealm) {
  ASSERT_TRUE(fs::exists("/usr/bin/docker-registry")) << "install docker-registry";
  test::TempDir dir("runway-registry-token");
  // The token signing certificate.
  ASSERT_NO_FATAL_FAILURE(run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                               "-keyout", (dir / "key.pem").string(), "-out",
                               (dir / "cert.pem").string(), "-days", "1", "-subj", "/CN=runway-test-token"}));
  ASSERT_NO_FATAL_FAILURE(run({"openssl", "x509", "-in", (dir / "cert.pem").string(), "-outform",
                               "DER", "-out", (dir / "cert.der").string()}));
  auto der = test::readFile(dir / "cert.der");
  ASSERT_TRUE(der);

  // A JWT for service "runway-test", issuer "runway-test-issuer", pull+push on shop/api.
  const auto now = static_cast<long>(std::time(nullptr));
  const auto header =
      fmt::format(R"({{"typ":"JWT","alg":"RS256","x5c":["{}"]}})", base64(*der, false));
  const auto claims = fmt::format(
      R"({{"iss":"runway-test-issuer","sub":"tester","aud":"runway-test","exp":{},"nbf":{},"iat":{},"jti":"t1",)"
      R"("access":[{{"type":"repository","name":"shop/api","actions":["pull","push"]}}]}})",
      now + 3600, now - 60, now - 60);
  const auto signing_input = base64(header, true) + "." + base64(claims, true);
  ASSERT_TRUE(dir.write("input.txt", signing_input));
  ASSERT_NO_FATAL_FAILURE(run({"openssl", "dgst", "-sha256", "-sign", (dir / "key.pem").string(),
                               "-out", (dir / "sig.bin").string(), (dir / "input.txt").string()}));
  auto signature = test::readFile(dir / "sig.bin");
  ASSERT_TRUE(signature);
  const auto jwt = signing_input + "." + base64(*signature, true);
  ASSERT_TRUE(dir.write("token.json", fmt::format(R"({{"token":"{}"}})", jwt)));

  // The token service: only "Basic base64(deployer:hunter2)" gets the token.
  ASSERT_TRUE(dir.write("token_server.py", kTokenServer));
  test::SubprocessOptions token_options;
  token_options.argv = {"/usr/bin/python3", (dir / "token_server.py").string(), "0",
                        "Basic " + base64("deployer:hunter2", false),
                        (dir / "token.json").string()};
  auto token_server = test::Subprocess::start(std::move(token_options));
  ASSERT_TRUE(token_server) << token_server.error().message;
  auto token_port = token_server->readListeningPort(test::deadlineIn(20s));
  ASSERT_TRUE(token_port) << token_port.error().message;

  // The registry with token auth.
  auto port = test::freeLoopbackPort();
  ASSERT_TRUE(port);
  auto config = dir.write("registry.yml", fmt::format(R"(version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {}}}
http:
  addr: 127.0.0.1:{}
auth:
  token:
    realm: http://127.0.0.1:{}/token
    service: runway-test
    issuer: runway-test-issuer
    rootcertbundle: {}
)",
                                                      (dir / "data").string(), *port, *token_port,
                                                      (dir / "cert.pem").string()));
  ASSERT_TRUE(config);
  test::SubprocessOptions options;
  options.argv = {"/usr/bin/docker-registry", "serve", config->string()};
  options.stdout_to = test::Output::file(dir / "registry.log");
  options.stderr_to = test::Output::file(dir / "registry.log");
  auto registry = test::Subprocess::start(std::move(options));
  ASSERT_TRUE(registry) << registry.error().message;
  const auto base = fmt::format("http://127.0.0.1:{}", *port);
  ASSERT_TRUE(test::pollUntil(
      [&] {
        auto r = test::httpGet(base + "/v2/", 1s);
        return r && r->status == 401;  // up, and asking for a token
      },
      test::deadlineIn(20s)));

  // Push shop/api:v1 with the token (the registry checks it like any client's).
  const test::HttpHeaders bearer{{"Authorization", "Bearer " + jwt}};
  auto sha256 = [&](const std::string& name, const std::string& data) {
    EXPECT_TRUE(dir.write(name, data));
    test::SubprocessOptions o;
    o.argv = {"sha256sum", (dir / name).string()};
    auto p = test::Subprocess::start(std::move(o));
    auto out = p->readToEnd(test::deadlineIn(10s));
    (void)p->waitExit(test::deadlineIn(10s));
    return "sha256:" + out->out.substr(0, 64);
  };
  auto push_blob = [&](const std::string& name, const std::string& data) {
    auto post = test::httpRequest(base + "/v2/shop/api/blobs/uploads/", "POST", "", bearer);
    EXPECT_TRUE(post && post->status == 202) << (post ? post->body : post.error().message);
    auto location = post->header("location").value_or("");
    if (location.rfind("http", 0) != 0) location = base + location;
    const auto digest = sha256(name, data);
    auto headers = bearer;
    headers.emplace_back("Content-Type", "application/octet-stream");
    auto put = test::httpRequest(location + "&digest=" + digest, "PUT", data, headers);
    EXPECT_TRUE(put && put->status == 201) << (put ? put->body : put.error().message);
    return digest;
  };
  const std::string config_blob = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
  const std::string layer = "layer";
  const auto config_digest = push_blob("config.json", config_blob);
  const auto layer_digest = push_blob("layer.bin", layer);
  auto headers = bearer;
  headers.emplace_back("Content-Type", "application/vnd.oci.image.manifest.v1+json");
  auto manifest = test::httpRequest(
      base + "/v2/shop/api/manifests/v1", "PUT",
      fmt::format(R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                  R"("config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},)"
                  R"("layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}})",
                  config_digest, config_blob.size(), layer_digest, layer.size()),
      headers);
  ASSERT_TRUE(manifest && manifest->status == 201) << (manifest ? manifest->body : "");

  ::setenv("RUNWAY_TEST_REGISTRY_USER", "deployer", 1);
  ::setenv("RUNWAY_TEST_REGISTRY_PASSWORD", "hunter2", 1);
  config::RegistrySpec spec;
  spec.insecure = true;
  spec.username_env = "RUNWAY_TEST_REGISTRY_USER";
  spec.password_env = "RUNWAY_TEST_REGISTRY_PASSWORD";
  const auto image = fmt::format("127.0.0.1:{}/shop/api", *port);

  auto present = checkManifest(*parseImageReference(image, "v1"), spec);
  ASSERT_TRUE(present) << present.error().message;
  EXPECT_TRUE(present->exists) << present->detail;
  EXPECT_THAT(present->detail, HasSubstr("sha256:"));

  auto missing = checkManifest(*parseImageReference(image, "v2"), spec);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->exists);
  EXPECT_THAT(missing->detail, HasSubstr("MANIFEST_UNKNOWN"));

  // Wrong credentials: the token service refuses, and the check says where.
  ::setenv("RUNWAY_TEST_REGISTRY_PASSWORD", "wrong", 1);
  auto refused = checkManifest(*parseImageReference(image, "v1"), spec);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->exists);
  EXPECT_EQ(refused->detail, fmt::format("token service http://127.0.0.1:{}/token -> 401", *token_port));
}

}  // namespace
}  // namespace runway::checks::itest
