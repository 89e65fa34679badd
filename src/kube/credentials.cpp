#include "runway/kube/credentials.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base64.hpp"

extern char** environ;

namespace runway::kube {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxPluginOutput = 1024 * 1024;
constexpr std::size_t kMaxPluginStderr = 4096;
constexpr Duration kTokenFileRefresh = std::chrono::minutes(1);

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

class ProcessPluginRunner final : public PluginRunner {
 public:
  explicit ProcessPluginRunner(Duration timeout) : timeout_(timeout) {}

  // PluginRunner
  Result<std::string> run(const ExecPlugin& plugin, const std::string& exec_info) override {
    std::array<int, 2> out{-1, -1};
    std::array<int, 2> err{-1, -1};
    if (::pipe2(out.data(), O_CLOEXEC) != 0 || ::pipe2(err.data(), O_CLOEXEC) != 0) {
      return fail(ErrorCode::Internal, fmt::format("exec plugin: pipe: {}", std::strerror(errno)));
    }
    Fd out_read(out[0]);
    Fd out_write(out[1]);
    Fd err_read(err[0]);
    Fd err_write(err[1]);

    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      const bool overridden =
          entry.starts_with("KUBERNETES_EXEC_INFO=") ||
          std::any_of(plugin.env.begin(), plugin.env.end(), [&](const auto& kv) {
            return entry.size() > kv.first.size() && entry.starts_with(kv.first) &&
                   entry[kv.first.size()] == '=';
          });
      if (!overridden) env_strings.emplace_back(entry);
    }
    for (const auto& [name, value] : plugin.env) env_strings.push_back(name + "=" + value);
    env_strings.push_back("KUBERNETES_EXEC_INFO=" + exec_info);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings{plugin.command};
    argv_strings.insert(argv_strings.end(), plugin.args.begin(), plugin.args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    pid_t pid = 0;
    // posix_spawnp looks a bare name up on PATH and uses a path as it is.
    const int rc = ::posix_spawnp(&pid, plugin.command.c_str(), &actions, nullptr, argv.data(),
                                  envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      return fail(rc == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                  fmt::format("exec plugin {}: {}", plugin.command, std::strerror(rc)));
    }
    out_write.reset();
    err_write.reset();

    std::string stdout_text;
    std::string stderr_text;
    bool too_long = false;
    bool timed_out = false;
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    std::array<char, 4096> buffer{};
    while (out_read.fd >= 0 || err_read.fd >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      std::array<pollfd, 2> fds{pollfd{out_read.fd, POLLIN, 0}, pollfd{err_read.fd, POLLIN, 0}};
      const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
      if (n < 0 && errno != EINTR) break;
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const auto got = ::read(fds[i].fd, buffer.data(), buffer.size());
        auto& fd = i == 0 ? out_read : err_read;
        if (got <= 0) {
          fd.reset();
          continue;
        }
        auto& text = i == 0 ? stdout_text : stderr_text;
        const std::size_t limit = i == 0 ? kMaxPluginOutput : kMaxPluginStderr;
        const auto bytes = static_cast<std::size_t>(got);
        if (text.size() + bytes > limit) {
          if (i == 0) too_long = true;
          text.append(buffer.data(), limit - text.size());
        } else {
          text.append(buffer.data(), bytes);
        }
      }
      if (too_long) break;
    }
    if (timed_out || too_long) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
      return fail(ErrorCode::Timeout,
                  fmt::format("exec plugin {} did not finish within {} ms", plugin.command,
                              timeout_.count()));
    }
    if (too_long) {
      return fail(ErrorCode::PayloadTooLarge,
                  fmt::format("exec plugin {} printed more than {} bytes", plugin.command,
                              kMaxPluginOutput));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      while (!stderr_text.empty() && stderr_text.back() == '\n') stderr_text.pop_back();
      return fail(ErrorCode::Unavailable,
                  fmt::format("exec plugin {} failed ({}){}{}", plugin.command,
                              WIFEXITED(status) ? fmt::format("exit code {}", WEXITSTATUS(status))
                                                : fmt::format("signal {}", WTERMSIG(status)),
                              stderr_text.empty() ? "" : ": ", stderr_text));
    }
    return stdout_text;
  }

 private:
  Duration timeout_;
};

// A credential that never changes (a token or a client certificate in the kubeconfig).
class StaticCredentialSource final : public CredentialSource {
 public:
  explicit StaticCredentialSource(Credential credential) : credential_(std::move(credential)) {}

  // CredentialSource
  Result<Credential> current() override { return credential_; }
  bool invalidate(const Credential&) override { return false; }

 private:
  Credential credential_;
};

// A token file, read again once a minute (kubelet rotates projected tokens) or after a 401.
class TokenFileSource final : public CredentialSource {
 public:
  TokenFileSource(std::filesystem::path path, std::shared_ptr<Clock> clock)
      : path_(std::move(path)), clock_(std::move(clock)) {}

  // CredentialSource
  Result<Credential> current() override {
    std::lock_guard lock(mutex_);
    const auto now = clock_->now();
    if (cached_ && now < read_at_ + kTokenFileRefresh) return *cached_;
    std::ifstream in(path_);
    if (!in) {
      return fail(ErrorCode::Unauthenticated,
                  fmt::format("cannot read the token file {}", path_.string()));
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto token = text.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
      token.pop_back();
    }
    if (token.empty()) {
      return fail(ErrorCode::Unauthenticated, fmt::format("the token file {} is empty", path_.string()));
    }
    cached_ = Credential{token, {}, {}};
    read_at_ = now;
    return *cached_;
  }
  bool invalidate(const Credential& rejected) override {
    std::lock_guard lock(mutex_);
    if (cached_ && cached_->token == rejected.token) cached_.reset();
    return true;
  }

 private:
  std::filesystem::path path_;
  std::shared_ptr<Clock> clock_;
  std::mutex mutex_;
  std::optional<Credential> cached_;
  TimePoint read_at_{};
};

using detail::encodeBase64;

const json::string* stringAt(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr ? v->if_string() : nullptr;
}

// An exec plugin's ExecCredential, cached until its expirationTimestamp (or a 401).
class ExecCredentialSource final : public CredentialSource {
 public:
  ExecCredentialSource(const Connection& connection, std::shared_ptr<Clock> clock,
                       std::shared_ptr<PluginRunner> runner)
      : plugin_(*connection.exec), clock_(std::move(clock)), runner_(std::move(runner)) {
    json::object spec{{"interactive", false}};
    if (plugin_.provide_cluster_info) {
      json::object cluster{{"server", connection.server}};
      if (!connection.certificate_authority_pem.empty()) {
        cluster["certificate-authority-data"] = encodeBase64(connection.certificate_authority_pem);
      }
      if (connection.insecure_skip_tls_verify) cluster["insecure-skip-tls-verify"] = true;
      spec["cluster"] = std::move(cluster);
    }
    exec_info_ = json::serialize(json::object{
        {"apiVersion", plugin_.api_version}, {"kind", "ExecCredential"}, {"spec", std::move(spec)}});
  }

  // CredentialSource
  Result<Credential> current() override {
    // One plugin run at a time: concurrent requests wait for it rather than each running it.
    std::lock_guard lock(mutex_);
    if (cached_ && (!expires_at_ || clock_->now() < *expires_at_)) return *cached_;
    cached_.reset();
    auto output = runner_->run(plugin_, exec_info_);
    if (!output) return fail(output.error());
    return parse(*output);
  }
  bool invalidate(const Credential& rejected) override {
    std::lock_guard lock(mutex_);
    if (cached_ && cached_->token == rejected.token &&
        cached_->client_certificate_pem == rejected.client_certificate_pem) {
      cached_.reset();
    }
    return true;
  }

 private:
  // REQUIRES: mutex_ held.
  Result<Credential> parse(const std::string& output) {
    const auto bad = [&](std::string_view why) {
      // Never quote the output: it holds the credential.
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("exec plugin {}: {}", plugin_.command, why));
    };
    boost::system::error_code ec;
    const auto doc = json::parse(output, ec);
    if (ec || !doc.is_object()) return bad("did not print an ExecCredential (JSON object)");
    const auto& root = doc.as_object();
    const auto* kind = stringAt(root, "kind");
    if (kind == nullptr || *kind != "ExecCredential") return bad("printed no kind: ExecCredential");
    const auto* api_version = stringAt(root, "apiVersion");
    if (api_version == nullptr || *api_version != plugin_.api_version) {
      return bad(fmt::format("printed apiVersion other than the kubeconfig's {}", plugin_.api_version));
    }
    const auto* status_value = root.if_contains("status");
    if (status_value == nullptr || !status_value->is_object()) return bad("printed no status");
    const auto& status = status_value->as_object();
    Credential credential;
    if (const auto* token = stringAt(status, "token")) credential.token = std::string(*token);
    if (const auto* cert = stringAt(status, "clientCertificateData")) {
      credential.client_certificate_pem = std::string(*cert);
    }
    if (const auto* key = stringAt(status, "clientKeyData")) {
      credential.client_key_pem = std::string(*key);
    }
    if (credential.client_certificate_pem.empty() != credential.client_key_pem.empty()) {
      return bad("printed clientCertificateData without clientKeyData or the reverse");
    }
    if (credential.token.empty() && credential.client_certificate_pem.empty()) {
      return bad("printed neither status.token nor status.clientCertificateData");
    }
    expires_at_.reset();
    if (const auto* expiry = stringAt(status, "expirationTimestamp")) {
      auto at = parseTimestamp(*expiry);
      if (!at) return bad(fmt::format("status.expirationTimestamp: {}", at.error().message));
      expires_at_ = *at;
    }
    cached_ = credential;
    return credential;
  }

  ExecPlugin plugin_;
  std::shared_ptr<Clock> clock_;
  std::shared_ptr<PluginRunner> runner_;
  std::string exec_info_;  // KUBERNETES_EXEC_INFO
  std::mutex mutex_;
  std::optional<Credential> cached_;
  std::optional<TimePoint> expires_at_;  // nullopt: until a 401
};

}  // namespace

std::shared_ptr<PluginRunner> processPluginRunner(Duration timeout) {
  return std::make_shared<ProcessPluginRunner>(timeout);
}

std::unique_ptr<CredentialSource> makeCredentialSource(const Connection& connection,
                                                       std::shared_ptr<Clock> clock,
                                                       std::shared_ptr<PluginRunner> runner) {
  if (!clock) clock = systemClock();
  if (connection.exec) {
    if (!runner) runner = processPluginRunner();
    return std::make_unique<ExecCredentialSource>(connection, std::move(clock), std::move(runner));
  }
  if (!connection.token_file.empty()) {
    return std::make_unique<TokenFileSource>(connection.token_file, std::move(clock));
  }
  return std::make_unique<StaticCredentialSource>(
      Credential{connection.token, connection.client_certificate_pem, connection.client_key_pem});
}

}  // namespace runway::kube
