#include "evidence_flags.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "runway/store/evidence.hpp"

namespace runway::cli {

namespace json = boost::json;

std::shared_ptr<EvidenceFlags> addEvidenceFlags(CLI::App* command) {
  auto flags = std::make_shared<EvidenceFlags>();
  command->add_option("--commit", flags->commit,
                      "The release's git commit (SHA): what the checklist's codeReview and ciChecks look up");
  command->add_option("--repo", flags->repository, "The commit's source repository, OWNER/NAME");
  command->add_option("--attach", flags->attach,
                      "KIND=FILE, repeatable: vulnerabilities=FILE (SARIF, Trivy or Grype JSON), "
                      "tests=FILE (JUnit XML), changelog=FILE; the file's contents are sent");
  return flags;
}

Result<void> addEvidence(const EvidenceFlags& flags, json::object& body) {
  if (!flags.commit.empty()) body["commit"] = flags.commit;
  if (!flags.repository.empty()) body["repository"] = flags.repository;
  if (flags.attach.empty()) return {};
  json::object attachments;
  for (const auto& a : flags.attach) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == a.size()) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("--attach {}: expected KIND=FILE, e.g. vulnerabilities=trivy.json", a));
    }
    const std::string kind = a.substr(0, eq);
    const std::string file = a.substr(eq + 1);
    if (std::find(std::begin(store::kAttachmentKinds), std::end(store::kAttachmentKinds), kind) ==
        std::end(store::kAttachmentKinds)) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("--attach {}: unknown kind \"{}\" (kinds: vulnerabilities, tests, changelog)", a, kind));
    }
    if (attachments.contains(kind)) {
      return fail(ErrorCode::InvalidArgument, fmt::format("--attach {}: {} is attached twice", a, kind));
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("--attach {}: cannot read {}: {}", a, file, std::strerror(errno)));
    }
    std::string content;
    content.resize(store::kMaxAttachmentBytes + 1);
    in.read(content.data(), static_cast<std::streamsize>(content.size()));
    content.resize(static_cast<std::size_t>(in.gcount()));
    if (in.bad()) return fail(ErrorCode::InvalidArgument, fmt::format("--attach {}: cannot read {}", a, file));
    if (content.size() > store::kMaxAttachmentBytes) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("--attach {}: {} is larger than the {} bytes an attachment may have", a, file,
                              store::kMaxAttachmentBytes));
    }
    // The server names the attachment by its file name in the checklist's reasons.
    const auto slash = file.find_last_of('/');
    const std::string name = slash == std::string::npos ? file : file.substr(slash + 1);
    attachments[kind] = json::object{{"name", name}, {"content", std::move(content)}};
  }
  body["attachments"] = std::move(attachments);
  return {};
}

}  // namespace runway::cli
