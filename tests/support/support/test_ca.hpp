#pragma once

// A certificate authority made for one test with the openssl CLI, and server certificates for
// 127.0.0.1 it signs (P-256 keys: quick to make). Its files live in a temp dir removed with it.

#include <string>
#include <vector>

#include "runway/core/error.hpp"
#include "support/temp_dir.hpp"

namespace runway::test {

// A command run to its end: its exit code (-1 when it could not run or was killed) and what it
// printed on stdout and stderr together.
struct ToolResult {
  int code = -1;
  std::string output;
};
ToolResult runTool(std::vector<std::string> argv);

class TestCa {
 public:
  // Makes the CA's key and self-signed certificate. Errors: Internal with openssl's output.
  static Result<TestCa> make();

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string caFile() const { return path("ca.pem"); }
  // Writes <name>.pem (the certificate, for CN=<cn> and IP:127.0.0.1) and <name>.key.
  Result<void> issue(const std::string& name, const std::string& cn) const;

 private:
  TestCa() = default;
  TempDir dir_{"runway-test-ca"};
};

}  // namespace runway::test
