// Image existence against a real registry (Debian's docker-registry, started on loopback with a
// manifest pushed through its API) and the pre-flight items against healthy and broken setups.

#include <openssl/evp.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixture.hpp"
#include "runway/checks/gate.hpp"
#include "runway/checks/preflight.hpp"
#include "runway/checks/registry.hpp"
#include "support/process.hpp"

namespace runway::checks::itest {
namespace {

using ::testing::HasSubstr;

std::string sha256(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return "sha256:" + hex;
}

// A docker-registry on 127.0.0.1 with filesystem storage in a temp dir.
class Registry {
 public:
  void start(const test::TempDir& dir) {
    ASSERT_TRUE(fs::exists("/usr/bin/docker-registry")) << "install docker-registry";
    auto port = test::freeLoopbackPort();
    ASSERT_TRUE(port);
    port_ = *port;
    auto config = dir.write("registry.yml", fmt::format(R"(version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {}}}
http:
  addr: 127.0.0.1:{}
)",
                                                       (dir / "registry-data").string(), port_));
    ASSERT_TRUE(config);
    test::SubprocessOptions options;
    options.argv = {"/usr/bin/docker-registry", "serve", config->string()};
    options.stdout_to = test::Output::file(dir / "registry.log");
    options.stderr_to = test::Output::file(dir / "registry.log");
    auto p = test::Subprocess::start(std::move(options));
    ASSERT_TRUE(p) << p.error().message;
    process_.emplace(std::move(*p));
    ASSERT_TRUE(test::pollUntil(
        [&] {
          auto r = test::httpGet(fmt::format("http://127.0.0.1:{}/v2/", port_), 1s);
          return r && r->status == 200;
        },
        test::deadlineIn(20s)));
  }

  std::string address() const { return fmt::format("127.0.0.1:{}", port_); }

  // Uploads a blob (POST then PUT with its digest) and returns the digest.
  std::string pushBlob(const std::string& name, const std::string& data) {
    auto post = test::httpRequest(
        fmt::format("http://127.0.0.1:{}/v2/{}/blobs/uploads/", port_, name), "POST");
    EXPECT_TRUE(post && post->status == 202) << (post ? post->body : post.error().message);
    auto location = post->header("location").value_or("");
    if (location.rfind("http", 0) != 0) location = fmt::format("http://127.0.0.1:{}{}", port_, location);
    const auto digest = sha256(data);
    auto put = test::httpRequest(
        location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest,
        "PUT", data, {{"Content-Type", "application/octet-stream"}});
    EXPECT_TRUE(put && put->status == 201) << (put ? put->body : put.error().message);
    return digest;
  }

  // Pushes an OCI image manifest (a config blob and one layer) as name:tag.
  void pushImage(const std::string& name, const std::string& tag) {
    const std::string config =
        R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
    const std::string layer = "layer bytes of " + name + ":" + tag;
    const auto config_digest = pushBlob(name, config);
    const auto layer_digest = pushBlob(name, layer);
    const auto manifest = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},)"
        R"("layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}})",
        config_digest, config.size(), layer_digest, layer.size());
    auto put = test::httpRequest(
        fmt::format("http://127.0.0.1:{}/v2/{}/manifests/{}", port_, name, tag), "PUT", manifest,
        {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
    ASSERT_TRUE(put && put->status == 201) << (put ? put->body : put.error().message);
  }

 private:
  int port_ = 0;
  std::optional<test::Subprocess> process_;
};

TEST(RegistryTest, PresentTagPassesMissingTagFailsWithTheRegistrysErrorCode) {
  test::TempDir dir("runway-registry");
  Registry registry;
  ASSERT_NO_FATAL_FAILURE(registry.start(dir));
  ASSERT_NO_FATAL_FAILURE(registry.pushImage("shop/api", "v1"));
  config::RegistrySpec spec;
  spec.insecure = true;

  auto present = parseImageReference(registry.address() + "/shop/api", "v1");
  ASSERT_TRUE(present);
  EXPECT_EQ(present->registry, registry.address());
  EXPECT_EQ(present->repository, "shop/api");
  auto found = checkManifest(*present, spec);
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_TRUE(found->exists) << found->detail;
  EXPECT_THAT(found->detail, HasSubstr("sha256:"));

  auto missing = checkManifest(*parseImageReference(registry.address() + "/shop/api", "v2"), spec);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->exists);
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->detail, HasSubstr("MANIFEST_UNKNOWN"));

  auto unknown_repo =
      checkManifest(*parseImageReference(registry.address() + "/shop/nothing", "v1"), spec);
  ASSERT_TRUE(unknown_repo);
  EXPECT_FALSE(unknown_repo->exists);
  EXPECT_EQ(unknown_repo->status, 404);
  // distribution 2.8 answers MANIFEST_UNKNOWN for a repository that was never pushed, too.
  EXPECT_THAT(unknown_repo->detail, ::testing::AnyOf(HasSubstr("NAME_UNKNOWN"),
                                                     HasSubstr("MANIFEST_UNKNOWN")));
}

TEST(RegistryTest, ReferencesAndUnreachableRegistry) {
  auto hub = parseImageReference("nginx", "1.25");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->registry, "registry-1.docker.io");
  EXPECT_EQ(hub->repository, "library/nginx");
  EXPECT_FALSE(parseImageReference("shop/api", "bad tag"));
  auto closed = test::freeLoopbackPort();
  ASSERT_TRUE(closed);
  config::RegistrySpec spec;
  spec.insecure = true;
  auto down = checkManifest(*parseImageReference(fmt::format("127.0.0.1:{}/x", *closed), "v1"),
                            spec, 2s);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, ErrorCode::Unavailable);
}

// The item called `name` in `category`, or an empty item when there is none.
CheckItem item(const Report& report, const std::string& category, const std::string& name) {
  for (const auto& i : report.items) {
    if (i.category == category && i.name == name) return i;
  }
  ADD_FAILURE() << "no item " << category << " " << name << " in\n" << report.toTable();
  return {};
}

class PreflightTest : public ChecksFixture {
 public:
  Report preflight(const std::string& version, PreflightLevel level, Clock& clock) {
    PreflightRequest request;
    request.config = config_.get();
    request.environment = "staging";
    request.version = version;
    request.level = level;
    request.data_dir = data_dir();
    request.extra_path = {test::binaryPath("runway-demo-app").parent_path()};
    auto report = runPreflight(request, *runtime_, clock);
    EXPECT_TRUE(report) << report.error().message;
    return report ? *report : Report{};
  }
};

TEST_F(PreflightTest, ImageTagsAgainstARealRegistry) {
  Registry registry;
  ASSERT_NO_FATAL_FAILURE(registry.start(dir_));
  ASSERT_NO_FATAL_FAILURE(registry.pushImage("shop/api", "v1"));
  loadConfig("  preflight:\n    registry: {insecure: true}\n",
             "");
  // The fixture's service has no image: give it one pointing at the test registry.
  config_->applications.front().services.front().image = registry.address() + "/shop/api";
  auto clock = systemClock();
  const auto ok = preflight("v1", PreflightLevel::Basic, *clock);
  EXPECT_TRUE(ok.passed()) << ok.toTable();
  EXPECT_THAT(ok.toTable(), HasSubstr(fmt::format("{}/shop/api:v1 exists (sha256:", registry.address())));
  const auto bad = preflight("v2", PreflightLevel::Basic, *clock);
  EXPECT_FALSE(bad.passed());
  EXPECT_EQ(bad.summary(), fmt::format("artifact api image: {}/shop/api:v2 not found: "
                                       "MANIFEST_UNKNOWN: manifest unknown (HTTP 404)",
                                       registry.address()));
  const auto no_version = preflight("", PreflightLevel::Basic, *clock);
  EXPECT_EQ(item(no_version, "artifact", "api image").status, ItemStatus::Skipped);
}

TEST_F(PreflightTest, BrokenSetupsEachNameTheirReason) {
  ::unsetenv("RUNWAY_TEST_MISSING_SECRET");
  ::setenv("RUNWAY_TEST_PRESENT_SECRET", "s3cret-value", 1);
  loadConfig(R"(  preflight:
    env: [RUNWAY_TEST_PRESENT_SECRET, RUNWAY_TEST_MISSING_SECRET]
    files: [/nonexistent/tls.key]
  windows:
    - {days: [Mon, Tue, Wed, Thu, Fri], start: "09:00", end: "17:00", timezone: UTC}
)");
  // Thursday 2026-11-26 03:00 UTC: outside the window.
  FakeClock night(fromUnixMillis(1795662000000));
  const auto report = preflight("", PreflightLevel::Basic, night);
  const auto table = report.toTable();
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(item(report, "secrets", "RUNWAY_TEST_MISSING_SECRET").reason, "not set");
  EXPECT_EQ(item(report, "secrets", "RUNWAY_TEST_MISSING_SECRET").status, ItemStatus::Failed);
  EXPECT_EQ(item(report, "secrets", "RUNWAY_TEST_PRESENT_SECRET").status, ItemStatus::Passed);
  EXPECT_THAT(table, ::testing::Not(HasSubstr("s3cret-value")));
  EXPECT_EQ(item(report, "secrets", "/nonexistent/tls.key").reason, "does not exist");
  EXPECT_THAT(table, HasSubstr("outside every change window (or in a freeze) at "
                               "2026-11-26T03:00:00.000Z; next opening 2026-11-26T09:00:00.000Z"));
  FakeClock day(fromUnixMillis(1795662000000 + 8 * 3600 * 1000));
  EXPECT_THAT(preflight("", PreflightLevel::Basic, day).toTable(),
              HasSubstr("inside a change window at 2026-11-26T11:00:00.000Z"));
}

TEST_F(PreflightTest, MissingCommandAndComprehensiveItems) {
  loadConfig("  dependencies:\n    - {name: shell, command: [\"true\"]}\n");
  auto clock = systemClock();
  const auto ok = preflight("", PreflightLevel::Comprehensive, *clock);
  EXPECT_TRUE(ok.passed()) << ok.toTable();
  EXPECT_THAT(ok.toTable(), HasSubstr("runway-demo-app is executable"));
  EXPECT_THAT(ok.toTable(), HasSubstr("nothing runs in the environment yet (first deployment)"));
  EXPECT_EQ(item(ok, "capacity", "memory").status, ItemStatus::Skipped);

  config_->applications.front().services.front().local->command = {"no-such-program-xyz"};
  config_->applications.front().services.front().resources.memory_mb = 1024 * 1024 * 64;
  config_->applications.front().services.front().resources.cpu = 1000;
  const auto bad = preflight("", PreflightLevel::Comprehensive, *clock);
  EXPECT_FALSE(bad.passed());
  EXPECT_THAT(bad.toTable(), HasSubstr("command 'no-such-program-xyz' not found in "));
  EXPECT_THAT(bad.toTable(), HasSubstr("one more version needs 67108864 MiB"));
  EXPECT_THAT(item(bad, "capacity", "cpu").reason,
              HasSubstr("cores idle (sampled over 250ms), one more version needs 1000.00"));
  EXPECT_EQ(item(bad, "capacity", "cpu").status, ItemStatus::Failed);

  GateRequest gate;
  gate.config = config_;
  gate.environment = "staging";
  gate.preflight = "basic";
  gate.data_dir = data_dir();
  auto result = runGate(gate, *runtime_, nullptr, *clock);
  EXPECT_FALSE(result.passed);
  EXPECT_THAT(result.detail, HasSubstr("no-such-program-xyz"));
}

}  // namespace
}  // namespace runway::checks::itest
