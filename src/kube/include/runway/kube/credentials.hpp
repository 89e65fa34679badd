#pragma once

// The user's credential for each request: a static token or client certificate, a token file
// read again every minute, or an exec plugin's ExecCredential cached until its
// expirationTimestamp. Credentials are secrets: nothing here logs them or puts them in an
// error message.

#include <memory>
#include <string>

#include "runway/core/clock.hpp"
#include "runway/core/error.hpp"
#include "runway/kube/config.hpp"

namespace runway::kube {

struct Credential {
  std::string token;  // "" = none; sent as "Authorization: Bearer <token>"
  std::string client_certificate_pem;  // with client_key_pem; "" = none
  std::string client_key_pem;
};

// Runs an exec plugin once and returns what it printed on stdout. The seam in front of
// process spawning. Errors: NotFound (no such program), Timeout, Unavailable (it exited
// non-zero; the message carries the start of its stderr, which plugins use to explain).
class PluginRunner {
 public:
  virtual ~PluginRunner() = default;
  // `exec_info` is the KUBERNETES_EXEC_INFO value (an ExecCredential with spec.interactive).
  virtual Result<std::string> run(const ExecPlugin& plugin, const std::string& exec_info) = 0;
};

// Runs the plugin as a child process (posix_spawn) with stdin from /dev/null and a deadline.
std::shared_ptr<PluginRunner> processPluginRunner(Duration timeout = std::chrono::seconds(30));

// Thread-safe: requests on several threads share one source.
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;

  // The credential to send now. An exec plugin runs when there is no cached credential or the
  // cached one's expirationTimestamp has passed (by the injected clock); a token file is read
  // when it was last read a minute ago or more.
  // Errors: those of the plugin runner or the file; InvalidArgument when the plugin printed
  // something other than an ExecCredential with a token or a certificate and key.
  virtual Result<Credential> current() = 0;

  // The server answered 401 to `rejected`: forget it, so that the next current() fetches a new
  // one. Returns true when that can help (an exec plugin or a token file), false for a static
  // credential.
  virtual bool invalidate(const Credential& rejected) = 0;
};

std::unique_ptr<CredentialSource> makeCredentialSource(
    const Connection& connection, std::shared_ptr<Clock> clock,
    std::shared_ptr<PluginRunner> runner = processPluginRunner());

}  // namespace runway::kube
