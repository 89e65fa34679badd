#include "support/test_ca.hpp"

#include <chrono>
#include <utility>

#include "support/poll.hpp"
#include "support/process.hpp"

namespace runway::test {

using namespace std::chrono_literals;

ToolResult runTool(std::vector<std::string> argv) {
  SubprocessOptions o;
  o.argv = std::move(argv);
  o.stdout_to = Output::pipe();
  o.stderr_to = Output::pipe();
  auto p = Subprocess::start(std::move(o));
  if (!p) return {-1, p.error().message};
  auto out = p->readToEnd(deadlineIn(30s));
  auto status = p->waitExit(deadlineIn(30s));
  ToolResult r;
  r.code = status && status->exited ? status->code : -1;
  if (out) r.output = out->out + out->err;
  return r;
}

namespace {

Result<void> run(std::vector<std::string> argv) {
  const auto r = runTool(std::move(argv));
  if (r.code != 0) return fail(ErrorCode::Internal, "openssl failed: " + r.output);
  return {};
}

}  // namespace

Result<TestCa> TestCa::make() {
  TestCa ca;
  if (auto ok = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca.path("ca.key"),
                     "-out", ca.path("ca.pem"), "-days", "1", "-subj", "/CN=runway test CA"});
      !ok) {
    return fail(ok.error());
  }
  if (auto ok = ca.dir_.write("san.cnf", "subjectAltName=IP:127.0.0.1\n"); !ok) {
    return fail(ok.error());
  }
  return ca;
}

Result<void> TestCa::issue(const std::string& name, const std::string& cn) const {
  if (auto ok = run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", path(name + ".key"), "-out", path(name + ".csr"),
                     "-subj", "/CN=" + cn});
      !ok) {
    return ok;
  }
  return run({"openssl", "x509", "-req", "-in", path(name + ".csr"), "-CA", caFile(), "-CAkey",
              path("ca.key"), "-CAcreateserial", "-out", path(name + ".pem"), "-days", "1",
              "-extfile", path("san.cnf")});
}

}  // namespace runway::test
