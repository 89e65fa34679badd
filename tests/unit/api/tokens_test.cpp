// Tokens and the store-backed authenticator, against the real SQLite store in a temp directory.

#include "runway/api/tokens.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "support/http.hpp"
#include "support/temp_dir.hpp"

namespace runway::api {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

TimePoint at(std::int64_t ms) { return fromUnixMillis(1'700'000'000'000 + ms); }

// Independent of tokens.cpp: hex decode, SHA-256, hex encode.
std::string sha256HexOfSaltAndSecret(const std::string& salt_hex, const std::string& secret) {
  std::string input;
  for (std::size_t i = 0; i + 1 < salt_hex.size(); i += 2) {
    input.push_back(static_cast<char>(std::stoi(salt_hex.substr(i, 2), nullptr, 16)));
  }
  input += secret;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &size, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    std::array<char, 3> byte{};
    std::snprintf(byte.data(), byte.size(), "%02x", digest[i]);
    hex += byte.data();
  }
  return hex;
}

unsigned fileMode(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 0xffff;
  return info.st_mode & 0777;
}

std::string contentOf(const fs::path& path) {
  auto content = test::readFile(path);
  return content ? *content : std::string("<missing>");
}

// Forwards to a real store; getToken (or createToken) fails as an unreachable database would.
class BrokenTokenStore final : public store::Store {
 public:
  enum class Breaks { GetToken, CreateToken };
  explicit BrokenTokenStore(store::Store& inner, Breaks breaks = Breaks::GetToken)
      : inner_(inner), breaks_(breaks) {}

  // store::Store
  Result<void> putRelease(const store::Release& r) override { return inner_.putRelease(r); }
  Result<store::Release> getRelease(const std::string& a, const std::string& v) override {
    return inner_.getRelease(a, v);
  }
  Result<std::vector<store::Release>> listReleases(const std::string& a) override {
    return inner_.listReleases(a);
  }
  Result<store::DeploymentRecord> createDeployment(
      const store::DeploymentRecord& r, const std::vector<store::NewEvent>& e) override {
    return inner_.createDeployment(r, e);
  }
  using store::Store::updateDeployment;
  Result<store::DeploymentRecord> updateDeployment(
      const store::DeploymentRecord& r, const std::vector<store::NewEvent>& e,
      const std::vector<store::ApprovalRecord>& a,
      const std::optional<store::ServingRecord>& s,
      const std::vector<store::NewNotification>& n) override {
    return inner_.updateDeployment(r, e, a, s, n);
  }
  Result<std::optional<store::ServingRecord>> getServing(const std::string& env) override {
    return inner_.getServing(env);
  }
  Result<std::string> putConfigSnapshot(const std::string& t) override {
    return inner_.putConfigSnapshot(t);
  }
  Result<std::string> getConfigSnapshot(const std::string& k) override {
    return inner_.getConfigSnapshot(k);
  }
  Result<store::DeploymentRecord> getDeployment(const std::string& id) override {
    return inner_.getDeployment(id);
  }
  Result<std::vector<store::DeploymentRecord>> listDeployments(
      const store::DeploymentFilter& f) override {
    return inner_.listDeployments(f);
  }
  Result<void> addApproval(const store::ApprovalRecord& a,
                           const std::vector<store::NewEvent>& e) override {
    return inner_.addApproval(a, e);
  }
  Result<std::vector<store::ApprovalRecord>> listApprovals(const std::string& id) override {
    return inner_.listApprovals(id);
  }
  Result<store::EventRecord> appendEvent(const store::NewEvent& e) override {
    return inner_.appendEvent(e);
  }
  Result<std::vector<store::EventRecord>> listEvents(const store::EventFilter& f) override {
    return inner_.listEvents(f);
  }
  Result<store::ChainReport> verifyChain() override { return inner_.verifyChain(); }
  Result<bool> acquireLease(const std::string& n, const std::string& h, Duration ttl,
                            TimePoint now) override {
    return inner_.acquireLease(n, h, ttl, now);
  }
  Result<void> releaseLease(const std::string& n, const std::string& h) override {
    return inner_.releaseLease(n, h);
  }
  Result<std::optional<store::Lease>> getLease(const std::string& n) override {
    return inner_.getLease(n);
  }
  void setFence(std::optional<store::Fence> f) override { inner_.setFence(std::move(f)); }
  Result<void> createToken(const store::TokenRecord& t,
                           const std::vector<store::NewEvent>& e) override {
    if (breaks_ == Breaks::CreateToken) return fail(ErrorCode::Unavailable, "disk I/O error");
    return inner_.createToken(t, e);
  }
  Result<store::TokenRecord> getToken(const std::string& id) override {
    if (breaks_ == Breaks::GetToken) return fail(ErrorCode::Unavailable, "database is locked");
    return inner_.getToken(id);
  }
  Result<std::vector<store::TokenRecord>> listTokens() override { return inner_.listTokens(); }
  Result<void> revokeToken(const std::string& id, TimePoint t,
                           const std::vector<store::NewEvent>& e) override {
    return inner_.revokeToken(id, t, e);
  }
  Result<void> enqueueNotifications(const std::vector<store::NewNotification>& n,
                                    const std::vector<store::NewEvent>& e) override {
    return inner_.enqueueNotifications(n, e);
  }
  Result<std::vector<store::NotificationRecord>> dueNotifications(TimePoint now, int limit) override {
    return inner_.dueNotifications(now, limit);
  }
  Result<store::NotificationRecord> recordDeliveryAttempt(const store::DeliveryAttempt& a) override {
    return inner_.recordDeliveryAttempt(a);
  }
  Result<std::vector<store::NotificationRecord>> listNotifications(
      const store::NotificationFilter& f) override {
    return inner_.listNotifications(f);
  }
  Result<std::map<std::string, std::int64_t>> countNotifications() override {
    return inner_.countNotifications();
  }

 private:
  store::Store& inner_;
  Breaks breaks_;
};

class TokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::openSqliteStore((dir_ / "runway.db").string());
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    store_ = std::move(*opened);
    auth_ = storeAuthenticator(store_);
  }

  // Issues and stores a token; the bearer text.
  std::string stored(const std::string& name, std::vector<std::string> roles) {
    auto issued = issueToken(name, std::move(roles), "tester", at(0));
    EXPECT_TRUE(issued.has_value()) << (issued ? "" : issued.error().message);
    if (!issued) return {};
    auto created = store_->createToken(issued->record, {});
    EXPECT_TRUE(created.has_value()) << (created ? "" : created.error().message);
    return issued->bearer;
  }

  void expectRejected(const std::string& bearer, std::string_view message) {
    auto who = auth_->authenticate(bearer);
    ASSERT_FALSE(who.has_value()) << "accepted: " << bearer;
    EXPECT_EQ(who.error().code, ErrorCode::Unauthenticated) << bearer;
    EXPECT_EQ(httpStatus(who.error().code), 401);
    EXPECT_EQ(who.error().message, message) << bearer;
  }

  test::TempDir dir_{"runway-tokens"};
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<Authenticator> auth_;
};

// ---- issue and authenticate -------------------------------------------------------------------

TEST_F(TokensTest, IssuedTokenHasTheDocumentedShape) {
  auto issued = issueToken("alice", {"deployer", "tech-lead"}, "admin", at(7));
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  EXPECT_TRUE(std::regex_match(issued->bearer, std::regex("rwy_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")))
      << issued->bearer.size();
  EXPECT_EQ(issued->bearer.substr(4, 16), issued->record.id);
  EXPECT_EQ(issued->record.name, "alice");
  EXPECT_THAT(issued->record.roles, ::testing::ElementsAre("deployer", "tech-lead"));
  EXPECT_EQ(issued->record.created_by, "admin");
  EXPECT_EQ(issued->record.created_at, at(7));
  EXPECT_FALSE(issued->record.revoked_at.has_value());
  EXPECT_TRUE(std::regex_match(issued->record.salt, std::regex("[0-9a-f]{32}")));
  EXPECT_TRUE(std::regex_match(issued->record.hash, std::regex("[0-9a-f]{64}")));
}

TEST_F(TokensTest, IssueThenAuthenticateRoundTrip) {
  auto issued = issueToken("alice", {"deployer", "tech-lead"}, "admin", at(0));
  ASSERT_TRUE(issued.has_value());
  ASSERT_TRUE(store_->createToken(issued->record, {}).has_value());
  auto who = auth_->authenticate(issued->bearer);
  ASSERT_TRUE(who.has_value()) << who.error().message;
  EXPECT_EQ(who->name, "alice");
  EXPECT_THAT(who->roles, ::testing::ElementsAre("deployer", "tech-lead"));
  EXPECT_EQ(who->token_id, issued->record.id);
  EXPECT_TRUE(hasRole(*who, "deployer"));
  EXPECT_FALSE(hasRole(*who, "admin"));
}

TEST_F(TokensTest, HashIsTheSaltedSha256OfTheSecretAndNeverTheSecret) {
  auto a = issueToken("alice", {"viewer"}, "admin", at(0));
  auto b = issueToken("alice", {"viewer"}, "admin", at(0));
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  const std::string secret = a->bearer.substr(21);
  ASSERT_EQ(secret.size(), 43u);
  EXPECT_EQ(a->record.hash, sha256HexOfSaltAndSecret(a->record.salt, secret));
  EXPECT_NE(a->record.hash, sha256HexOfSaltAndSecret("", secret));  // the salt is in it
  for (const std::string& field : {a->record.id, a->record.name, a->record.salt, a->record.hash,
                                   a->record.created_by}) {
    EXPECT_THAT(field, Not(HasSubstr(secret)));
  }
  EXPECT_NE(a->record.salt, b->record.salt);
  EXPECT_NE(a->record.id, b->record.id);
  EXPECT_NE(a->bearer, b->bearer);
  EXPECT_NE(a->record.hash, b->record.hash);
}

TEST_F(TokensTest, ManyIssuedTokensHaveDistinctIdsSaltsAndSecrets) {
  std::set<std::string> ids;
  std::set<std::string> salts;
  std::set<std::string> secrets;
  for (int i = 0; i < 200; ++i) {
    auto issued = issueToken("bob", {"viewer"}, "admin", at(i));
    ASSERT_TRUE(issued.has_value());
    ids.insert(issued->record.id);
    salts.insert(issued->record.salt);
    secrets.insert(issued->bearer.substr(21));
  }
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_EQ(salts.size(), 200u);
  EXPECT_EQ(secrets.size(), 200u);
}

TEST_F(TokensTest, WrongSecretIsAnInvalidTokenAndTheMessageDoesNotEchoIt) {
  const std::string bearer = stored("alice", {"deployer"});
  ASSERT_FALSE(bearer.empty());
  std::string wrong = bearer;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  expectRejected(wrong, "invalid token");
  std::string first_changed = bearer;
  first_changed[21] = first_changed[21] == 'x' ? 'y' : 'x';
  expectRejected(first_changed, "invalid token");
  auto who = auth_->authenticate(wrong);
  ASSERT_FALSE(who.has_value());
  EXPECT_THAT(who.error().message, Not(HasSubstr(wrong.substr(21))));
  EXPECT_THAT(who.error().message, Not(HasSubstr(bearer.substr(4, 16))));
}

TEST_F(TokensTest, MalformedTokensAreInvalidWithOneMessage) {
  const std::string good = stored("alice", {"deployer"});
  ASSERT_EQ(good.size(), 64u);
  std::string upper_id = good;
  upper_id[4] = 'A';
  std::string no_separator = good;
  no_separator[20] = '-';
  std::string padded = good.substr(0, 63) + "=";
  std::string plus = good.substr(0, 63) + "+";
  std::string slash = good.substr(0, 63) + "/";
  std::string nul = good;
  nul[30] = '\0';
  std::string high_byte = good;
  high_byte[30] = static_cast<char>(0xc3);
  const std::vector<std::string> shapes = {
      "",
      "rwy_",
      "rwy__",
      "Bearer " + good,
      " " + good,
      good + " ",
      good + "\n",
      good + "x",
      good.substr(0, 63),
      "RWY_" + good.substr(4),
      "rwx_" + good.substr(4),
      "rwy" + good.substr(4),
      upper_id,
      no_separator,
      padded,
      plus,
      slash,
      nul,
      high_byte,
      good.substr(4),                         // no prefix
      "rwy_" + good.substr(4, 16),            // no secret
      "rwy_" + good.substr(4, 16) + "_",      // empty secret
      "rwy_" + good.substr(21) + "_" + good.substr(4, 16),  // parts swapped
      "rwy_0123456789abcde_" + good.substr(21) + "x",       // 15-char id, 44-char secret
      std::string(64, 'a'),
      std::string(100000, 'a'),
  };
  for (const std::string& shape : shapes) expectRejected(shape, "invalid token");
  // The good one still works: nothing above was a near miss that got through by luck.
  EXPECT_TRUE(auth_->authenticate(good).has_value());
}

TEST_F(TokensTest, UnknownIdIsAnInvalidToken) {
  auto issued = issueToken("alice", {"deployer"}, "admin", at(0));
  ASSERT_TRUE(issued.has_value());
  // Issued but never stored.
  expectRejected(issued->bearer, "invalid token");
  // A stored token's secret with another id.
  const std::string bearer = stored("alice", {"deployer"});
  std::string other_id = bearer;
  other_id[4] = other_id[4] == '0' ? '1' : '0';
  expectRejected(other_id, "invalid token");
}

TEST_F(TokensTest, RevokedTokenIsRejectedAsRevokedOnlyWithTheRightSecret) {
  const std::string bearer = stored("alice", {"deployer"});
  const std::string id = bearer.substr(4, 16);
  ASSERT_TRUE(auth_->authenticate(bearer).has_value());
  ASSERT_TRUE(store_->revokeToken(id, at(100), {}).has_value());
  expectRejected(bearer, "token revoked");
  std::string wrong = bearer;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  expectRejected(wrong, "invalid token");
}

TEST_F(TokensTest, StoreFailureIsUnavailable) {
  const std::string bearer = stored("alice", {"deployer"});
  auto broken = std::make_shared<BrokenTokenStore>(*store_);
  auto who = storeAuthenticator(broken)->authenticate(bearer);
  ASSERT_FALSE(who.has_value());
  EXPECT_EQ(who.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(who.error().message, Not(HasSubstr(bearer.substr(21))));
}

TEST_F(TokensTest, DamagedTokenRowIsUnavailableNotAuthenticated) {
  auto issued = issueToken("alice", {"deployer"}, "admin", at(0));
  ASSERT_TRUE(issued.has_value());
  store::TokenRecord damaged = issued->record;
  damaged.hash = "not hex";
  ASSERT_TRUE(store_->createToken(damaged, {}).has_value());
  auto who = auth_->authenticate(issued->bearer);
  ASSERT_FALSE(who.has_value());
  EXPECT_EQ(who.error().code, ErrorCode::Unavailable);
}

// Through the real HTTP server: the client sees 401 and the reason.
TEST_F(TokensTest, HttpServerAnswers401WithTokenRevoked) {
  const std::string bearer = stored("alice", {"deployer"});
  std::vector<Route> routes;
  routes.push_back(Route{"GET", "/api/v1/whoami", "viewer", [](HttpRequest& req) {
                           return HttpResponse::text(200, req.identity->name);
                         }});
  auto server = startHttpServer(ServerOptions{}, std::move(routes), auth_);
  ASSERT_TRUE(server.has_value()) << server.error().message;
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/api/v1/whoami";
  auto ok = test::httpRequest(url, "GET", "", {{"Authorization", "Bearer " + bearer}});
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "alice");

  ASSERT_TRUE(store_->revokeToken(bearer.substr(4, 16), at(1), {}).has_value());
  auto revoked = test::httpRequest(url, "GET", "", {{"Authorization", "Bearer " + bearer}});
  ASSERT_TRUE(revoked.has_value()) << revoked.error().message;
  EXPECT_EQ(revoked->status, 401);
  EXPECT_THAT(revoked->body, HasSubstr("token revoked"));
  EXPECT_THAT(revoked->body, Not(HasSubstr(bearer.substr(21))));
  (*server)->stop(std::chrono::milliseconds(1000));
}

// ---- expiry ----------------------------------------------------------------------------------

TEST_F(TokensTest, ATokenWithATtlExpiresOnTheInjectedClock) {
  auto clock = std::make_shared<FakeClock>(at(0));
  auto auth = storeAuthenticator(store_, clock);
  auto issued = issueToken("ci", {"deployer"}, "admin", at(0), std::chrono::hours(24));
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  EXPECT_EQ(issued->record.expires_at, at(0) + std::chrono::hours(24));
  ASSERT_TRUE(store_->createToken(issued->record, {}).has_value());
  EXPECT_EQ(store_->getToken(issued->record.id)->expires_at, at(0) + std::chrono::hours(24));

  clock->set(at(0) + std::chrono::hours(24) - Duration{1});
  ASSERT_TRUE(auth->authenticate(issued->bearer).has_value());
  clock->advance(Duration{1});
  auto who = auth->authenticate(issued->bearer);
  ASSERT_FALSE(who.has_value());
  EXPECT_EQ(who.error().code, ErrorCode::Unauthenticated);
  EXPECT_EQ(who.error().message, "token expired");
  // Only the holder of the secret learns that it expired.
  std::string wrong = issued->bearer;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(auth->authenticate(wrong).error().message, "invalid token");
  // Without a ttl a token does not expire.
  const std::string lasting = stored("alice", {"viewer"});
  clock->advance(std::chrono::hours(24 * 365 * 20));
  EXPECT_TRUE(auth->authenticate(lasting).has_value());
}

TEST_F(TokensTest, TtlOutsideItsBoundsIsRefused) {
  for (Duration ttl : {Duration{59'999}, kMaxTokenTtl + Duration{1}}) {
    auto issued = issueToken("ci", {"deployer"}, "admin", at(0), ttl);
    ASSERT_FALSE(issued.has_value()) << ttl.count();
    EXPECT_EQ(issued.error().code, ErrorCode::InvalidArgument);
  }
  EXPECT_TRUE(issueToken("ci", {"deployer"}, "admin", at(0), kMinTokenTtl).has_value());
}

// Through the real HTTP server: 401 with the JSON error's code and "token expired".
TEST_F(TokensTest, HttpServerAnswers401WithTokenExpired) {
  auto clock = std::make_shared<FakeClock>(at(0));
  auto issued = issueToken("ci", {"deployer"}, "admin", at(0), std::chrono::hours(1));
  ASSERT_TRUE(issued.has_value());
  ASSERT_TRUE(store_->createToken(issued->record, {}).has_value());
  std::vector<Route> routes;
  routes.push_back(Route{"GET", "/api/v1/whoami", "viewer", [](HttpRequest& req) {
                           return HttpResponse::text(200, req.identity->name);
                         }});
  auto server = startHttpServer(ServerOptions{}, std::move(routes), storeAuthenticator(store_, clock));
  ASSERT_TRUE(server.has_value()) << server.error().message;
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/api/v1/whoami";
  auto ok = test::httpRequest(url, "GET", "", {{"Authorization", "Bearer " + issued->bearer}});
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);

  clock->advance(std::chrono::hours(1));
  auto expired = test::httpRequest(url, "GET", "", {{"Authorization", "Bearer " + issued->bearer}});
  ASSERT_TRUE(expired.has_value()) << expired.error().message;
  EXPECT_EQ(expired->status, 401);
  boost::json::error_code ec;
  auto body = boost::json::parse(expired->body, ec);
  ASSERT_FALSE(ec) << expired->body;
  const auto& error = body.at("error");
  EXPECT_EQ(error.at("code").as_string(), codeName(ErrorCode::Unauthenticated)) << expired->body;
  EXPECT_EQ(error.at("message").as_string(), "token expired") << expired->body;
  (*server)->stop(std::chrono::milliseconds(1000));
}

// ---- validation -------------------------------------------------------------------------------

TEST(TokenValidation, GoodNamesAndRolesPass) {
  const std::vector<std::string> names = {"alice",    "a",     "0ps", "alice.smith@example.com",
                                         "ci_bot-2", "admin", std::string(64, 'n')};
  for (const std::string& name : names) {
    EXPECT_TRUE(validateTokenName(name).has_value()) << name;
  }
  const std::vector<std::string> roles = {"admin", "deployer", "tech-lead", "r2", "a-",
                                         std::string(64, 'r')};
  for (const std::string& role : roles) {
    EXPECT_TRUE(validateRoleName(role).has_value()) << role;
  }
}

TEST(TokenValidation, BadNamesAreRejectedNamingTheProblem) {
  struct Case {
    std::string name;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"", "empty"},
      {std::string(65, 'n'), "longer than 64"},
      {"Alice", "must start"},
      {"alIce", "'I'"},
      {".alice", "must start"},
      {"-alice", "must start"},
      {"@alice", "must start"},
      {"alice smith", "byte 0x20"},
      {"alice/x", "'/'"},
      {"alice\n", "byte 0x0a"},
      {"al\xc3\xa9", "byte 0xc3"},
  };
  for (const Case& c : cases) {
    auto valid = validateTokenName(c.name);
    ASSERT_FALSE(valid.has_value()) << c.name;
    EXPECT_EQ(valid.error().code, ErrorCode::InvalidArgument);
    EXPECT_THAT(valid.error().message, HasSubstr(c.says)) << c.name;
    EXPECT_THAT(valid.error().message, HasSubstr("token name"));
  }
}

TEST(TokenValidation, BadRolesAreRejectedNamingTheProblem) {
  struct Case {
    std::string role;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"", "empty"},
      {std::string(65, 'r'), "longer than 64"},
      {"2nd", "must start"},
      {"-x", "must start"},
      {"Admin", "must start"},
      {"tech_lead", "'_'"},
      {"tech.lead", "'.'"},
      {"tech lead", "byte 0x20"},
      {"deployEr", "'E'"},
  };
  for (const Case& c : cases) {
    auto valid = validateRoleName(c.role);
    ASSERT_FALSE(valid.has_value()) << c.role;
    EXPECT_EQ(valid.error().code, ErrorCode::InvalidArgument);
    EXPECT_THAT(valid.error().message, HasSubstr(c.says)) << c.role;
  }
}

TEST(TokenValidation, IssueRejectsBadNameNoRolesBadRoleAndDuplicates) {
  auto bad_name = issueToken("Alice", {"viewer"}, "admin", at(0));
  ASSERT_FALSE(bad_name.has_value());
  EXPECT_EQ(bad_name.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(bad_name.error().message, HasSubstr("token name"));

  auto no_roles = issueToken("alice", {}, "admin", at(0));
  ASSERT_FALSE(no_roles.has_value());
  EXPECT_EQ(no_roles.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(no_roles.error().message, HasSubstr("at least one role"));

  auto bad_role = issueToken("alice", {"viewer", "Tech_Lead"}, "admin", at(0));
  ASSERT_FALSE(bad_role.has_value());
  EXPECT_EQ(bad_role.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(bad_role.error().message, HasSubstr("Tech_Lead"));

  auto duplicate = issueToken("alice", {"deployer", "viewer", "deployer"}, "admin", at(0));
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(duplicate.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(duplicate.error().message, HasSubstr("twice"));
}

// ---- token files and the bootstrap admin token ------------------------------------------------

TEST_F(TokensTest, BootstrapCreatesAPrivateDirectoryAndAPrivateAdminTokenFile) {
  const fs::path data = dir_ / "var" / "runway";
  auto made = ensureBootstrapToken(*store_, data, at(5));
  ASSERT_TRUE(made.has_value()) << made.error().message;
  EXPECT_TRUE(*made);
  EXPECT_EQ(fileMode(data), 0700u);
  const fs::path file = data / "admin.token";
  EXPECT_EQ(fileMode(file), 0600u);
  const std::string content = contentOf(file);
  ASSERT_EQ(content.size(), 65u);
  EXPECT_EQ(content.back(), '\n');
  const std::string bearer = content.substr(0, 64);

  auto who = auth_->authenticate(bearer);
  ASSERT_TRUE(who.has_value()) << who.error().message;
  EXPECT_EQ(who->name, "admin");
  EXPECT_THAT(who->roles, ::testing::ElementsAre("admin"));

  auto tokens = store_->listTokens();
  ASSERT_TRUE(tokens.has_value());
  ASSERT_EQ(tokens->size(), 1u);
  EXPECT_EQ((*tokens)[0].created_by, "bootstrap");
  EXPECT_EQ((*tokens)[0].created_at, at(5));

  auto events = store_->listEvents(store::EventFilter{0, "", 100});
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 1u);
  const store::EventRecord& e = (*events)[0];
  EXPECT_EQ(e.kind, "token.created");
  EXPECT_EQ(e.actor, "bootstrap");
  EXPECT_EQ(e.subject, who->token_id);
  EXPECT_EQ(e.at, at(5));
  EXPECT_THAT(e.data_json, HasSubstr("\"admin\""));
  const std::string secret = bearer.substr(21);
  EXPECT_THAT(e.data_json, Not(HasSubstr(secret)));
  EXPECT_THAT(e.reason, Not(HasSubstr(secret)));
  EXPECT_THAT(e.data_json, Not(HasSubstr((*tokens)[0].hash)));

  // No temporary file is left behind.
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(data)) names.push_back(entry.path().filename());
  EXPECT_THAT(names, ::testing::ElementsAre("admin.token"));
}

TEST_F(TokensTest, BootstrapIsIdempotent) {
  const fs::path data = dir_ / "data";
  ASSERT_TRUE(*ensureBootstrapToken(*store_, data, at(0)));
  const std::string before = contentOf(data / "admin.token");
  auto again = ensureBootstrapToken(*store_, data, at(10));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_FALSE(*again);
  EXPECT_EQ(contentOf(data / "admin.token"), before);
  EXPECT_EQ(store_->listTokens()->size(), 1u);
  EXPECT_EQ(store_->listEvents(store::EventFilter{0, "", 100})->size(), 1u);
}

TEST_F(TokensTest, BootstrapReplacesADeletedGarbledRevokedOrNonAdminTokenFile) {
  const fs::path data = dir_ / "data";
  const fs::path file = data / "admin.token";
  ASSERT_TRUE(*ensureBootstrapToken(*store_, data, at(0)));
  std::string previous = contentOf(file);

  const auto expectReplaced = [&](const std::string& what) {
    auto made = ensureBootstrapToken(*store_, data, at(1));
    ASSERT_TRUE(made.has_value()) << what << ": " << made.error().message;
    EXPECT_TRUE(*made) << what;
    const std::string now = contentOf(file);
    EXPECT_NE(now, previous) << what;
    EXPECT_EQ(fileMode(file), 0600u) << what;
    auto who = auth_->authenticate(now.substr(0, now.size() - 1));
    ASSERT_TRUE(who.has_value()) << what;
    EXPECT_TRUE(hasRole(*who, "admin")) << what;
    previous = now;
  };

  fs::remove(file);
  expectReplaced("deleted");

  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("rwy_garbage\n", f);
    std::fclose(f);
  }
  previous = contentOf(file);
  expectReplaced("garbled");

  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  previous = contentOf(file);
  expectReplaced("empty");

  ASSERT_TRUE(store_->revokeToken(previous.substr(4, 16), at(2), {}).has_value());
  expectReplaced("revoked");

  const std::string viewer = stored("vera", {"viewer", "deployer"});
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs((viewer + "\n").c_str(), f);
    std::fclose(f);
  }
  previous = contentOf(file);
  expectReplaced("not admin");

  // Each replacement is one more admin token and one more token.created event.
  auto events = store_->listEvents(store::EventFilter{0, "", 100});
  ASSERT_TRUE(events.has_value());
  int created = 0;
  for (const auto& e : *events) created += e.kind == "token.created" ? 1 : 0;
  EXPECT_EQ(created, 6);
}

TEST_F(TokensTest, BootstrapIntoADataDirectoryThatIsAFileFails) {
  const fs::path not_a_dir = dir_ / "plain-file";
  ASSERT_TRUE(dir_.write("plain-file", "").has_value());
  auto made = ensureBootstrapToken(*store_, not_a_dir, at(0));
  ASSERT_FALSE(made.has_value());
  EXPECT_EQ(made.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(made.error().message, HasSubstr("not a directory"));
  EXPECT_TRUE(store_->listTokens()->empty());
}

TEST_F(TokensTest, BootstrapWhenTheStoreCannotCreateTheTokenWritesNoFile) {
  const fs::path data = dir_ / "data";
  BrokenTokenStore broken(*store_, BrokenTokenStore::Breaks::CreateToken);
  auto made = ensureBootstrapToken(broken, data, at(0));
  ASSERT_FALSE(made.has_value());
  EXPECT_EQ(made.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(made.error().message, HasSubstr("bootstrap admin token"));
  EXPECT_TRUE(fs::is_empty(data));  // neither admin.token nor a temporary file
}

// An existing file whose token cannot be checked is an error, not a reason for a new token.
TEST_F(TokensTest, BootstrapWhenTheStoreCannotCheckTheFileFailsAndKeepsIt) {
  const fs::path data = dir_ / "data";
  ASSERT_TRUE(*ensureBootstrapToken(*store_, data, at(0)));
  const std::string before = contentOf(data / "admin.token");
  BrokenTokenStore broken(*store_);
  auto checked = ensureBootstrapToken(broken, data, at(1));
  ASSERT_FALSE(checked.has_value());
  EXPECT_EQ(checked.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(store_->listTokens()->size(), 1u);
  EXPECT_EQ(contentOf(data / "admin.token"), before);
}

TEST_F(TokensTest, ReadTokenFileTrimsWhitespace) {
  auto written = dir_.write("t", "  \n\trwy_0123456789abcdef_secret \r\n\n");
  ASSERT_TRUE(written.has_value());
  auto read = readTokenFile(*written);
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_EQ(*read, "rwy_0123456789abcdef_secret");
}

TEST_F(TokensTest, ReadTokenFileErrors) {
  auto missing = readTokenFile(dir_ / "nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  EXPECT_THAT(missing.error().message, HasSubstr("nope"));

  auto blank = dir_.write("blank", " \n ");
  ASSERT_TRUE(blank.has_value());
  auto empty = readTokenFile(*blank);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, ErrorCode::InvalidArgument);

  auto big = dir_.write("big", std::string(5000, 'x'));
  ASSERT_TRUE(big.has_value());
  auto too_big = readTokenFile(*big);
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(too_big.error().message, Not(HasSubstr("xxxx")));
}

// Runs `body` as an unprivileged user: as root in a child that drops to nobody (65534), so the
// permission path is exercised in CI too (root reads files regardless of their mode). Returns
// the child's exit status: what `body` returned, or 100+ when privileges could not be dropped.
int runUnprivileged(const std::function<int()>& body) {
  if (::geteuid() != 0) return body();
  const pid_t pid = ::fork();
  if (pid < 0) return 101;
  if (pid == 0) {
    constexpr uid_t kNobody = 65534;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0 || ::geteuid() == 0) {
      ::_exit(102);
    }
    ::_exit(body());
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 103;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 104;
}

TEST_F(TokensTest, ReadTokenFileUnreadableIsPermissionDenied) {
  auto written = dir_.write("locked", "rwy_x\n");
  ASSERT_TRUE(written.has_value());
  ASSERT_EQ(::chmod(written->c_str(), 0), 0);
  // The unprivileged reader must reach the file: only the file itself is locked.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  const int outcome = runUnprivileged([&] {
    auto read = readTokenFile(*written);
    if (read.has_value()) return 1;
    if (read.error().code != ErrorCode::PermissionDenied) return 2;
    if (read.error().message.find("rwy_x") != std::string::npos) return 3;
    if (read.error().message.find("locked") == std::string::npos) return 4;
    return 0;
  });
  EXPECT_EQ(outcome, 0) << "1: the file was read; 2: another error code; 3: the token leaked "
                           "into the message; 4: the message does not name the file; 10x: could "
                           "not drop privileges";
}

}  // namespace
}  // namespace runway::api
